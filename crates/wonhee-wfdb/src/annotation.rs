//! MIT-format annotation files (`.atr` and other annotators): reading and writing.
//!
//! The file is a sequence of little-endian 16-bit words `A << 10 | I`: `A` (6 bits) is the
//! annotation code and `I` (10 bits) the time since the previous annotation. Codes 59-63 are
//! pseudo-annotations:
//!
//! | code | name | meaning |
//! |---|---|---|
//! | 59 | SKIP | the next two words hold a signed 32-bit time increment (high word first) |
//! | 60 | NUM  | `I` (low byte, signed) is the `num` field of the current annotation |
//! | 61 | SUB  | `I` (low byte, signed) is the `subtype` of the current annotation |
//! | 62 | CHN  | `I` (low byte, unsigned) is the `chan` of the current annotation |
//! | 63 | AUX  | `I` (low byte) bytes of auxiliary text follow, padded to an even length |
//!
//! A zero word ends the file. SKIP precedes the annotation it times; NUM, SUB, CHN and AUX
//! follow the annotation they modify. As in WFDB and wfdb-python's `rdann`, `chan` and `num`
//! carry over to the next annotation when it has no CHN/NUM of its own; `subtype` and `aux`
//! do not (they reset to 0 and empty).
//!
//! Differences from wfdb-python, all deliberate: aux notes lose their trailing NUL bytes (the
//! files store them NUL-terminated; wfdb-python keeps the NUL); the zero word ends the file
//! (wfdb-python reads on past it); annotation definition notes (a `"` annotation at sample 0
//! whose aux starts with `## `) are removed and a `## time resolution: F` note sets
//! [`Annotations::fs`], where wfdb-python removes every `"` annotation at sample 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, WfdbError};

const SKIP: u8 = 59;
const NUM: u8 = 60;
const SUB: u8 = 61;
const CHN: u8 = 62;
const AUX: u8 = 63;
/// The comment annotation code (`"`), used for definition notes.
const NOTE: u8 = 22;

/// Largest code that is an annotation rather than a pseudo-annotation.
pub const MAX_CODE: u8 = 58;

/// Mnemonic of every annotation code 0..=58, as in WFDB's `ecgcodes.h` (codes without a
/// mnemonic are shown as `[n]`, as WFDB's `annstr` does).
const SYMBOLS: [&str; 59] = [
    " ", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "[15]", "|", "[17]",
    "s", "T", "*", "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@",
    "x", "f", "(", ")", "r", "[42]", "[43]", "[44]", "[45]", "[46]", "[47]", "[48]", "[49]",
    "[50]", "[51]", "[52]", "[53]", "[54]", "[55]", "[56]", "[57]", "[58]",
];

/// Mnemonic of an annotation code (`1` -> `N`); `None` above [`MAX_CODE`].
pub fn code_symbol(code: u8) -> Option<&'static str> {
    SYMBOLS.get(usize::from(code)).copied()
}

/// Annotation code of a mnemonic (`N` -> `1`).
pub fn symbol_code(symbol: &str) -> Option<u8> {
    SYMBOLS
        .iter()
        .position(|s| *s == symbol)
        .filter(|&c| c > 0)
        .map(|c| c as u8)
}

/// One annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Sample number (at the record's sampling frequency).
    pub sample: i64,
    /// Annotation code, 1..=58 (see [`code_symbol`]).
    pub code: u8,
    /// Subtype (signed 8-bit).
    pub subtype: i8,
    /// Signal number the annotation refers to (unsigned 8-bit).
    pub chan: u8,
    /// Context number (signed 8-bit).
    pub num: i8,
    /// Auxiliary bytes (e.g. a rhythm label `(AFIB`), without the trailing NUL.
    pub aux: Vec<u8>,
}

impl Annotation {
    /// A plain annotation: code at sample, all other fields zero or empty.
    pub fn new(sample: i64, code: u8) -> Self {
        Self {
            sample,
            code,
            subtype: 0,
            chan: 0,
            num: 0,
            aux: Vec::new(),
        }
    }

    /// The code's mnemonic, e.g. `N` or `+`.
    pub fn symbol(&self) -> &'static str {
        code_symbol(self.code).unwrap_or("?")
    }

    /// Aux text, with any non-UTF-8 bytes replaced.
    pub fn aux_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.aux)
    }
}

/// An annotation label defined inside an annotation file (its "## annotation type
/// definitions" notes), as wfdb-python and the WFDB library read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomLabel {
    /// The code it is stored as.
    pub code: u8,
    /// Its mnemonic.
    pub symbol: String,
    /// Its description.
    pub description: String,
}

/// The annotations of one annotator of a record.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Annotations {
    /// Annotator name (file extension), e.g. `atr`.
    pub annotator: String,
    /// Time resolution declared inside the file, when it declares one.
    pub fs: Option<f64>,
    /// Labels the file defines (applied by [`Annotations::symbol_of`]).
    pub custom_labels: Vec<CustomLabel>,
    /// File-level notes: the other NOTE annotations at sample 0 (e.g. the command that made
    /// the file), which wfdb-python and the WFDB library do not count as annotations.
    pub notes: Vec<String>,
    /// Annotations in file order.
    pub annotations: Vec<Annotation>,
}

impl Annotations {
    /// Reads `<record>.<annotator>`, where `record` is a record path without extension
    /// (`data/mitdb/100`) or its `.hea` file.
    pub fn open(record: impl AsRef<Path>, annotator: &str) -> Result<Self> {
        let (dir, name) = crate::record::split_record_path(record.as_ref())?;
        if annotator.is_empty() || annotator.contains(['/', '\\', '\0']) || annotator == ".." {
            return Err(WfdbError::invalid(
                dir.join(&name),
                format!("annotator `{annotator}` is not a plain file extension"),
            ));
        }
        Self::read_file(&dir.join(format!("{name}.{annotator}")), annotator)
    }

    /// Reads an annotation file at an explicit path.
    pub fn read_file(path: &Path, annotator: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| WfdbError::io(path, e))?;
        let mut a = Self::parse(&bytes, path)?;
        a.annotator = annotator.to_owned();
        Ok(a)
    }

    /// Parses the bytes of an MIT-format annotation file; `path` is only used in errors. An
    /// annotation at a negative sample time or past 2^31 - 1 is an error naming the byte offset.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        Self::parse_within(bytes, path, None)
    }

    /// [`Annotations::parse`], also refusing annotations past sample `end` (the record's
    /// length, when its header is at hand).
    pub fn parse_within(bytes: &[u8], path: &Path, end: Option<u64>) -> Result<Self> {
        Parser {
            bytes,
            path,
            pos: 0,
            end: end.and_then(|e| i64::try_from(e).ok()),
        }
        .run()
    }

    /// [`Annotations::read_file`], refusing annotations past sample `end`.
    pub fn read_file_within(path: &Path, annotator: &str, end: Option<u64>) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| WfdbError::io(path, e))?;
        let mut a = Self::parse_within(&bytes, path, end)?;
        a.annotator = annotator.to_owned();
        Ok(a)
    }

    /// Number of annotations.
    pub fn len(&self) -> usize {
        self.annotations.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty()
    }

    /// Count of annotations per symbol.
    pub fn symbol_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for a in &self.annotations {
            *m.entry(self.symbol_of(a).to_owned()).or_insert(0) += 1;
        }
        m
    }

    /// The mnemonic of `a`: the file's own definition of its code when it has one
    /// ([`Annotations::custom_labels`]), else the standard one ([`Annotation::symbol`]).
    pub fn symbol_of<'a>(&'a self, a: &Annotation) -> &'a str {
        self.custom_labels
            .iter()
            .find(|c| c.code == a.code)
            .map_or_else(|| a.symbol(), |c| c.symbol.as_str())
    }

    /// Encodes annotations in MIT format (the inverse of [`Annotations::parse`]).
    ///
    /// Fails for codes outside 1..=58 and aux notes longer than 254 bytes.
    pub fn encode(annotations: &[Annotation], path: &Path) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(annotations.len() * 2 + 2);
        let word = |out: &mut Vec<u8>, code: u8, value: u16| {
            out.extend_from_slice(&((u16::from(code) << 10) | (value & 0x3FF)).to_le_bytes());
        };
        let (mut prev_sample, mut prev_chan, mut prev_num) = (0i64, 0u8, 0i8);
        for (i, a) in annotations.iter().enumerate() {
            if a.code == 0 || a.code > MAX_CODE {
                return Err(WfdbError::invalid(
                    path,
                    format!("annotation {i}: code {} is not in 1..=58", a.code),
                ));
            }
            if a.aux.len() > 254 {
                return Err(WfdbError::invalid(
                    path,
                    format!("annotation {i}: aux note longer than 254 bytes"),
                ));
            }
            if !(0..=i64::from(i32::MAX)).contains(&a.sample) {
                return Err(WfdbError::invalid(
                    path,
                    format!(
                        "annotation {i}: sample {} is outside 0..=2^31 - 1, which readers refuse",
                        a.sample
                    ),
                ));
            }
            let delta = a.sample - prev_sample;
            if (0..=1023).contains(&delta) {
                word(&mut out, a.code, delta as u16);
            } else {
                let d = i32::try_from(delta).map_err(|_| {
                    WfdbError::invalid(
                        path,
                        format!("annotation {i}: time step {delta} does not fit 32 bits"),
                    )
                })? as u32;
                word(&mut out, SKIP, 0);
                out.extend_from_slice(&((d >> 16) as u16).to_le_bytes());
                out.extend_from_slice(&((d & 0xFFFF) as u16).to_le_bytes());
                word(&mut out, a.code, 0);
            }
            prev_sample = a.sample;
            if a.subtype != 0 {
                word(&mut out, SUB, u16::from(a.subtype as u8));
            }
            if a.chan != prev_chan {
                word(&mut out, CHN, u16::from(a.chan));
                prev_chan = a.chan;
            }
            if a.num != prev_num {
                word(&mut out, NUM, u16::from(a.num as u8));
                prev_num = a.num;
            }
            if !a.aux.is_empty() {
                // Stored NUL-terminated, as WFDB's own writer does.
                let n = a.aux.len() + 1;
                word(&mut out, AUX, n as u16);
                out.extend_from_slice(&a.aux);
                out.push(0);
                if n % 2 == 1 {
                    out.push(0);
                }
            }
        }
        out.extend_from_slice(&[0, 0]);
        Ok(out)
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    path: &'a Path,
    pos: usize,
    /// No annotation may lie past this sample (the record's length).
    end: Option<i64>,
}

impl Parser<'_> {
    fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// Reads the word at the cursor; `None` at the end of the data.
    fn peek(&self) -> Option<(u8, u16)> {
        let b = self.bytes.get(self.pos..self.pos + 2)?;
        let w = u16::from_le_bytes([b[0], b[1]]);
        Some(((w >> 10) as u8, w & 0x3FF))
    }

    fn truncated(&self, what: &str) -> WfdbError {
        WfdbError::Truncated {
            path: self.path(),
            offset: self.pos as u64,
            message: format!("file ends inside {what}"),
        }
    }

    fn run(mut self) -> Result<Annotations> {
        let mut anns: Vec<Annotation> = Vec::with_capacity(self.bytes.len() / 2);
        let mut time: i64 = 0;
        let (mut chan, mut num) = (0u8, 0i8);
        loop {
            // Core: any SKIPs, then one annotation word.
            let mut delta: i64 = 0;
            let (code, inc) = loop {
                let Some((code, inc)) = self.peek() else {
                    if self.pos < self.bytes.len() {
                        return Err(self.truncated("a 16-bit word (odd file length)"));
                    }
                    // No end-of-file word: accept, as wfdb-python does.
                    return Ok(finish(anns));
                };
                if code == SKIP {
                    let b = self
                        .bytes
                        .get(self.pos + 2..self.pos + 6)
                        .ok_or_else(|| self.truncated("a SKIP interval"))?;
                    let hi = u32::from(u16::from_le_bytes([b[0], b[1]]));
                    let lo = u32::from(u16::from_le_bytes([b[2], b[3]]));
                    delta += i64::from(((hi << 16) | lo) as i32);
                    self.pos += 6;
                    continue;
                }
                if code > MAX_CODE {
                    return Err(WfdbError::Annotation {
                        path: self.path(),
                        offset: self.pos as u64,
                        message: format!(
                            "pseudo-annotation {code} without an annotation before it"
                        ),
                    });
                }
                break (code, inc);
            };
            if code == 0 && inc == 0 && delta == 0 {
                return Ok(finish(anns));
            }
            let at = self.pos;
            self.pos += 2;
            time += delta + i64::from(inc);
            let bad_time = if time < 0 {
                Some(format!("annotation at negative sample {time}"))
            } else if time > i64::from(i32::MAX) {
                Some(format!("annotation at sample {time}, past 2^31 - 1"))
            } else {
                self.end.filter(|&e| time > e).map(|end| {
                    format!("annotation at sample {time}, past the record's end (sample {end})")
                })
            };
            if let Some(message) = bad_time {
                return Err(WfdbError::Annotation {
                    path: self.path(),
                    offset: at as u64,
                    message,
                });
            }
            let mut ann = Annotation::new(time, code);
            let (mut got_chan, mut got_num) = (false, false);
            // Modifiers of this annotation.
            while let Some((m, v)) = self.peek() {
                match m {
                    SUB => ann.subtype = (v & 0xFF) as u8 as i8,
                    CHN => {
                        ann.chan = (v & 0xFF) as u8;
                        got_chan = true;
                    }
                    NUM => {
                        ann.num = (v & 0xFF) as u8 as i8;
                        got_num = true;
                    }
                    AUX => {
                        let n = usize::from(v & 0xFF);
                        let start = self.pos + 2;
                        let padded = n + n % 2;
                        let data = self
                            .bytes
                            .get(start..start + padded)
                            .ok_or_else(|| self.truncated("an AUX note"))?;
                        let mut aux = &data[..n];
                        while let [rest @ .., 0] = aux {
                            aux = rest;
                        }
                        ann.aux = aux.to_vec();
                        self.pos += padded;
                    }
                    _ => break,
                }
                self.pos += 2;
            }
            if got_chan {
                chan = ann.chan;
            } else {
                ann.chan = chan;
            }
            if got_num {
                num = ann.num;
            } else {
                ann.num = num;
            }
            // Code 0 (NOTQRS) words advance time but are not annotations.
            if code != 0 {
                anns.push(ann);
            } else {
                tracing::debug!(offset = at, "skipping a code-0 annotation word");
            }
        }
    }
}

/// Takes the NOTE annotations at sample 0 out of the rows, as wfdb-python and the WFDB library
/// do: `## time resolution: F` sets the time resolution, a block between `## annotation type
/// definitions` and `## end of definitions` defines labels (`CODE SYMBOL DESCRIPTION`), and
/// the other notes are kept as file-level notes.
fn finish(anns: Vec<Annotation>) -> Annotations {
    let (mut fs, mut custom_labels, mut notes) = (None, Vec::new(), Vec::new());
    let mut in_definitions = false;
    let mut rows = Vec::with_capacity(anns.len());
    for a in anns {
        if !(a.sample == 0 && a.code == NOTE) {
            rows.push(a);
            continue;
        }
        let text = a.aux_text().into_owned();
        if in_definitions {
            if text == "## end of definitions" {
                in_definitions = false;
            } else if let Some(label) = custom_label(&text) {
                custom_labels.push(label);
            } else {
                notes.push(text);
            }
        } else if text == "## annotation type definitions" {
            in_definitions = true;
        } else if let Some(rest) = text.strip_prefix("## time resolution: ")
            && fs.is_none()
        {
            fs = rest
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0);
        } else {
            notes.push(text);
        }
    }
    Annotations {
        annotator: String::new(),
        fs,
        custom_labels,
        notes,
        annotations: rows,
    }
}

/// A label definition `CODE SYMBOL DESCRIPTION` (code 1 to 49, as wfdb-python allows).
fn custom_label(text: &str) -> Option<CustomLabel> {
    let mut parts = text.splitn(3, ' ');
    let code: u8 = parts.next()?.parse().ok()?;
    let symbol = parts.next().filter(|s| !s.is_empty())?;
    let description = parts.next().filter(|d| !d.is_empty())?;
    (1..=49).contains(&code).then(|| CustomLabel {
        code,
        symbol: symbol.to_owned(),
        description: description.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.atr")
    }

    fn words(ws: &[u16]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn symbols_table() {
        assert_eq!(code_symbol(1), Some("N"));
        assert_eq!(code_symbol(12), Some("/"));
        assert_eq!(code_symbol(38), Some("f"));
        assert_eq!(code_symbol(59), None);
        assert_eq!(symbol_code("V"), Some(5));
        assert_eq!(symbol_code(" "), None);
    }

    #[test]
    fn carry_over_rules() {
        // N at 10 with CHN 3 and NUM -2; V at 15 (chan and num carry); A at 20 with SUB -1, aux.
        let mut b = words(&[
            (1 << 10) | 10,
            (62 << 10) | 3,
            (60 << 10) | 0xFE,
            (5 << 10) | 5,
        ]);
        b.extend(words(&[(8 << 10) | 5, (61 << 10) | 0xFF, (63 << 10) | 3]));
        b.extend_from_slice(b"(N\0\0");
        b.extend(words(&[(1 << 10) | 1, 0]));
        let a = Annotations::parse(&b, p()).unwrap().annotations;
        assert_eq!(a.len(), 4);
        assert_eq!(
            (a[0].sample, a[0].chan, a[0].num, a[0].subtype),
            (10, 3, -2, 0)
        );
        assert_eq!(
            (a[1].sample, a[1].symbol(), a[1].chan, a[1].num),
            (15, "V", 3, -2)
        );
        assert_eq!(
            (a[2].sample, a[2].subtype, a[2].aux.as_slice()),
            (20, -1, &b"(N"[..])
        );
        assert_eq!(
            (a[3].sample, a[3].subtype, a[3].aux.len(), a[3].chan),
            (21, 0, 0, 3)
        );
    }

    #[test]
    fn skip_positive_and_negative() {
        let anns = vec![
            Annotation::new(5, 1),
            Annotation::new(5 + 100_000, 1),
            Annotation::new(50, 28),
            Annotation::new(3_000_000_000, 1),
        ];
        let e = Annotations::encode(&anns, p()).unwrap_err();
        assert!(e.to_string().contains("2^31"), "{e}");
        let e = Annotations::encode(&[Annotation::new(-1, 1)], p()).unwrap_err();
        assert!(e.to_string().contains("sample -1"), "{e}");
        let anns = &anns[..3];
        let bytes = Annotations::encode(anns, p()).unwrap();
        assert_eq!(Annotations::parse(&bytes, p()).unwrap().annotations, anns);
    }

    #[test]
    fn sample_0_notes_are_file_metadata_and_define_labels() {
        let note = |text: &str| {
            let mut a = Annotation::new(0, 22);
            a.aux = text.as_bytes().to_vec();
            a
        };
        let anns = vec![
            note("## time resolution: 250"),
            note("## annotation type definitions"),
            note("42 X custom beat"),
            note("## end of definitions"),
            note("made by a test"),
            Annotation::new(10, 42),
            Annotation::new(20, 1),
            note_at(30),
        ];
        fn note_at(sample: i64) -> Annotation {
            let mut a = Annotation::new(sample, 22);
            a.aux = b"a note in the record".to_vec();
            a
        }
        let bytes = Annotations::encode(&anns, p()).unwrap();
        let got = Annotations::parse(&bytes, p()).unwrap();
        assert_eq!(got.fs, Some(250.0));
        assert_eq!(
            got.custom_labels,
            vec![CustomLabel {
                code: 42,
                symbol: "X".into(),
                description: "custom beat".into()
            }]
        );
        assert_eq!(got.notes, vec!["made by a test"]);
        // Rows: the two beats and the note that is not at sample 0.
        assert_eq!(got.annotations.len(), 3);
        assert_eq!(got.symbol_of(&got.annotations[0]), "X");
        assert_eq!(got.symbol_of(&got.annotations[1]), "N");
        assert_eq!(got.symbol_counts().get("X"), Some(&1));
    }

    #[test]
    fn negative_overflowing_and_late_times_are_errors_naming_the_byte() {
        // A SKIP of -10 before the first annotation: sample -9 (word at byte 6).
        let neg = words(&[59 << 10, 0xFFFF, 0xFFF6, (1 << 10) | 1]);
        let e = Annotations::parse(&neg, p()).unwrap_err().to_string();
        assert!(
            e.contains("t.atr") && e.contains("byte 6") && e.contains("-9"),
            "{e}"
        );
        // Two SKIPs of 2^31 - 1 each, then an annotation: past 2^31 - 1 (byte 12).
        let big = words(&[
            59 << 10,
            0x7FFF,
            0xFFFF,
            59 << 10,
            0x7FFF,
            0xFFFF,
            (1 << 10) | 1,
        ]);
        let e = Annotations::parse(&big, p()).unwrap_err().to_string();
        assert!(e.contains("byte 12") && e.contains("2^31"), "{e}");
        // Within the record, then past its end (sample 30 > 25): the second word, byte 2.
        let late = words(&[(1 << 10) | 10, (1 << 10) | 20]);
        assert_eq!(
            Annotations::parse_within(&late, p(), Some(30))
                .unwrap()
                .len(),
            2
        );
        let e = Annotations::parse_within(&late, p(), Some(25))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("byte 2") && e.contains("past the record's end"),
            "{e}"
        );
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let bytes = words(&[(59 << 10), 1]);
        let e = Annotations::parse(&bytes, p()).unwrap_err().to_string();
        assert!(
            e.contains("t.atr") && e.contains("SKIP") && e.contains("byte 0"),
            "{e}"
        );
        let mut bytes = words(&[(1 << 10) | 3, (63 << 10) | 9]);
        bytes.extend_from_slice(b"abc");
        let e = Annotations::parse(&bytes, p()).unwrap_err().to_string();
        assert!(e.contains("AUX") && e.contains("byte 2"), "{e}");
        let e = Annotations::parse(&words(&[(61 << 10) | 1]), p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("pseudo-annotation 61"), "{e}");
        let e = Annotations::parse(&[1, 4, 7], p()).unwrap_err().to_string();
        assert!(e.contains("odd file length"), "{e}");
    }

    #[test]
    fn end_word_stops_and_missing_end_is_fine() {
        let mut b = words(&[(1 << 10) | 3, 0, (1 << 10) | 3]);
        assert_eq!(Annotations::parse(&b, p()).unwrap().len(), 1);
        b.truncate(2);
        assert_eq!(Annotations::parse(&b, p()).unwrap().len(), 1);
        assert!(Annotations::parse(&[], p()).unwrap().is_empty());
    }

    #[test]
    fn definition_notes_are_removed() {
        let mut n = Annotation::new(0, NOTE);
        n.aux = b"## time resolution: 1000".to_vec();
        let anns = vec![n, Annotation::new(7, 1)];
        let parsed = Annotations::parse(&Annotations::encode(&anns, p()).unwrap(), p()).unwrap();
        assert_eq!(parsed.fs, Some(1000.0));
        assert_eq!(parsed.annotations, vec![Annotation::new(7, 1)]);
    }
}
