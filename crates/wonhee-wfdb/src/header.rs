//! WFDB header (`.hea`) files: the record line, one line per signal, and comments.
//!
//! Syntax (see PhysioNet's `header(5)` manual page):
//!
//! ```text
//! name[/nseg] [nsig [fs[/counter[(base)]] [nsamp [base_time [base_date]]]]]
//! file format[xspf][:skew][+offset] [gain[(baseline)][/units] [adcres [adczero [initval [checksum [blocksize [description...]]]]]]]
//! # comment
//! ```
//!
//! A multi-segment header (`name/nseg nsig fs len`) has one line per segment instead of signal
//! lines:
//!
//! ```text
//! segname seglen          (segname `~`: a null segment, no samples stored)
//! ```
//!
//! Both LF and CRLF line ends are accepted.

use std::path::{Component, Path};

use crate::error::{Result, WfdbError};

/// WFDB default ADC gain when the header omits it or gives 0 (adu per physical unit).
pub const DEFAULT_GAIN: f64 = 200.0;
/// WFDB default sampling frequency when the record line omits it (Hz).
pub const DEFAULT_FS: f64 = 250.0;

/// A signal storage format this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// 16-bit two's complement, little-endian.
    F16,
    /// 24-bit two's complement, little-endian.
    F24,
    /// 32-bit two's complement, little-endian.
    F32,
    /// 16-bit two's complement, big-endian.
    F61,
    /// 8-bit offset binary (stored value minus 128).
    F80,
    /// 8-bit two's complement first differences: each byte is the change from the previous
    /// sample of the same signal, the first from the header's initial value. Not random
    /// access, and without an invalid-sample value (see [`Format::invalid_value`]).
    F8,
    /// Three 10-bit two's complement samples in two little-endian 16-bit words: bits 1-10 of
    /// each word hold the first and second samples, bits 11-15 of the first and second words
    /// the low and high halves of the third.
    F310,
    /// Three 10-bit two's complement samples in one little-endian 32-bit word (bits 0-9,
    /// 10-19 and 20-29).
    F311,
    /// 16-bit offset binary (stored value minus 32768).
    F160,
    /// Two 12-bit two's complement samples packed into three bytes (MIT-BIH).
    F212,
    /// FLAC-compressed, samples of at most 8 bits: the file is one FLAC stream whose
    /// channels are the file's signals, in order. Read only, not random access.
    F508,
    /// FLAC-compressed, samples of at most 16 bits (see [`Format::F508`]).
    F516,
    /// FLAC-compressed, samples of at most 24 bits (see [`Format::F508`]).
    F524,
}

impl Format {
    /// The FLAC-compressed formats (read only): their files have no fixed size per sample, so
    /// [`Format::bytes_for`] and [`Format::samples_in`] do not apply to them.
    pub const FLAC: [Format; 3] = [Self::F508, Self::F516, Self::F524];

    /// Every uncompressed format; this crate reads them all and writes some (see
    /// [`write_record`](crate::write::write_record)). It also reads [`Format::FLAC`].
    pub const ALL: [Format; 10] = [
        Self::F8,
        Self::F16,
        Self::F24,
        Self::F32,
        Self::F61,
        Self::F80,
        Self::F160,
        Self::F212,
        Self::F310,
        Self::F311,
    ];

    /// The format's number as written in headers.
    pub fn code(self) -> u16 {
        match self {
            Self::F16 => 16,
            Self::F24 => 24,
            Self::F32 => 32,
            Self::F61 => 61,
            Self::F80 => 80,
            Self::F8 => 8,
            Self::F310 => 310,
            Self::F311 => 311,
            Self::F160 => 160,
            Self::F212 => 212,
            Self::F508 => 508,
            Self::F516 => 516,
            Self::F524 => 524,
        }
    }

    /// The format for a header number, if this crate reads it.
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            16 => Self::F16,
            24 => Self::F24,
            32 => Self::F32,
            61 => Self::F61,
            80 => Self::F80,
            8 => Self::F8,
            310 => Self::F310,
            311 => Self::F311,
            160 => Self::F160,
            212 => Self::F212,
            508 => Self::F508,
            516 => Self::F516,
            524 => Self::F524,
            _ => return None,
        })
    }

    /// The digital value that marks an invalid sample (it reads as NaN in physical units).
    ///
    /// Format 8 has none in WFDB; `i32::MIN`, which its samples reach only by wrapping
    /// around, stands in for it.
    pub fn invalid_value(self) -> i32 {
        match self {
            Self::F16 | Self::F61 | Self::F160 | Self::F516 => -32768,
            Self::F24 | Self::F524 => -(1 << 23),
            Self::F32 | Self::F8 => i32::MIN,
            Self::F310 | Self::F311 => -512,
            Self::F80 | Self::F508 => -128,
            Self::F212 => -2048,
        }
    }

    /// Smallest and largest storable digital values (for format 8, of the samples; their
    /// differences must also lie in -128..=127).
    pub fn digital_range(self) -> (i32, i32) {
        match self {
            Self::F16 | Self::F61 | Self::F160 | Self::F516 => (-32768, 32767),
            Self::F24 | Self::F524 => (-(1 << 23), (1 << 23) - 1),
            Self::F32 | Self::F8 => (i32::MIN, i32::MAX),
            Self::F310 | Self::F311 => (-512, 511),
            Self::F80 | Self::F508 => (-128, 127),
            Self::F212 => (-2048, 2047),
        }
    }

    /// Default ADC resolution in bits.
    pub fn default_adc_res(self) -> u32 {
        match self {
            Self::F80 | Self::F8 | Self::F508 => 8,
            Self::F310 | Self::F311 => 10,
            Self::F212 => 12,
            Self::F24 | Self::F524 => 24,
            Self::F32 => 32,
            Self::F16 | Self::F61 | Self::F160 | Self::F516 => 16,
        }
    }

    /// Whether this is a FLAC-compressed format (508, 516, 524).
    pub fn is_flac(self) -> bool {
        matches!(self, Self::F508 | Self::F516 | Self::F524)
    }

    /// Bytes needed to read `n` consecutive samples (of any signals) from the start of a file
    /// of this format, as wfdb-python sizes its reads; `None` on overflow and for the FLAC
    /// formats (compressed: no fixed size).
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        match self {
            Self::F508 | Self::F516 | Self::F524 => None,
            Self::F80 | Self::F8 => Some(n),
            Self::F16 | Self::F61 | Self::F160 => n.checked_mul(2),
            Self::F24 => n.checked_mul(3),
            Self::F32 => n.checked_mul(4),
            // Pairs take 3 bytes; a trailing odd sample takes 2.
            Self::F212 => (n / 2).checked_mul(3)?.checked_add((n % 2) * 2),
            // Triples take 4 bytes; a trailing sample takes 2, a trailing pair 4 (310: the
            // third sample's bits are in the second word) or 3 (311; writers pad it to 4).
            Self::F310 => (n / 3)
                .checked_mul(4)?
                .checked_add([0, 2, 4][(n % 3) as usize]),
            Self::F311 => (n / 3)
                .checked_mul(4)?
                .checked_add([0, 2, 3][(n % 3) as usize]),
        }
    }

    /// How many whole samples `bytes` bytes hold (0 for the FLAC formats, whose length is in
    /// their stream).
    pub fn samples_in(self, bytes: u64) -> u64 {
        match self {
            Self::F508 | Self::F516 | Self::F524 => 0,
            Self::F80 | Self::F8 => bytes,
            Self::F16 | Self::F61 | Self::F160 => bytes / 2,
            Self::F24 => bytes / 3,
            Self::F32 => bytes / 4,
            Self::F212 => bytes / 3 * 2 + u64::from(bytes % 3 == 2),
            // 3 samples per 4 bytes, as wfdb-python infers lengths, but only samples that
            // can be read: a 310 group cut to 3 bytes holds 1 (wfdb-python says 2).
            Self::F310 => bytes / 4 * 3 + [0, 0, 1, 1][(bytes % 4) as usize],
            Self::F311 => bytes / 4 * 3 + [0, 0, 1, 2][(bytes % 4) as usize],
        }
    }
}

/// One signal line of a header.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSpec {
    /// Signal file name, relative to the record's folder.
    pub file_name: String,
    /// Storage format.
    pub format: Format,
    /// Samples per frame (`16x2`: 2); the signal's rate is the record's times this.
    pub samples_per_frame: u32,
    /// Skew in frames: sample `n` of the signal is stored in frame `n / spf + skew` (`16:3`:
    /// sample `n` in frame `n + 3`; `16x2:3`: in frame `n / 2 + 3`).
    pub skew: u32,
    /// Bytes to skip at the start of the signal file.
    pub byte_offset: u64,
    /// ADC units per physical unit (200 when the header gives none or 0).
    pub gain: f64,
    /// Digital value of physical zero (defaults to `adc_zero`).
    pub baseline: i32,
    /// Physical units (default `mV`).
    pub units: String,
    /// ADC resolution in bits (format default when the header gives none or 0).
    pub adc_res: u32,
    /// Digital value at the middle of the ADC range.
    pub adc_zero: i32,
    /// First sample's digital value, as the header states it.
    pub init_value: i32,
    /// 16-bit checksum of all samples, when the header has one.
    pub checksum: Option<i16>,
    /// Block size (0 for ordinary files).
    pub block_size: u32,
    /// Free-text description, e.g. `MLII`; empty when the header has none.
    pub description: String,
}

impl SignalSpec {
    /// A signal with WFDB defaults: gain 200, baseline 0, mV, 12-bit ADC at zero.
    pub fn new(
        file_name: impl Into<String>,
        format: Format,
        description: impl Into<String>,
    ) -> Self {
        Self {
            file_name: file_name.into(),
            format,
            samples_per_frame: 1,
            skew: 0,
            byte_offset: 0,
            gain: DEFAULT_GAIN,
            baseline: 0,
            units: "mV".to_owned(),
            adc_res: format.default_adc_res(),
            adc_zero: 0,
            init_value: 0,
            checksum: None,
            block_size: 0,
            description: description.into(),
        }
    }

    /// Physical value of a digital sample: `(d - baseline) / gain`, NaN for the invalid marker.
    #[inline]
    pub fn to_physical(&self, digital: i32) -> f64 {
        if digital == self.format.invalid_value() {
            f64::NAN
        } else {
            (f64::from(digital) - f64::from(self.baseline)) / self.gain
        }
    }
}

/// One segment line of a multi-segment header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Record name of the segment (its header is `name.hea` in the master's folder), or `~`
    /// for a null segment (no stored samples: every sample is invalid).
    pub name: String,
    /// Frames in the segment; 0 for the layout segment that opens a variable-layout record.
    pub len: u64,
}

impl Segment {
    /// Whether this is a null segment (`~`).
    pub fn is_null(&self) -> bool {
        self.name == "~"
    }
}

/// How the segments of a multi-segment record hold its signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Every segment holds the record's signals, in the same order.
    Fixed,
    /// The first segment (length 0) is a layout header naming every signal of the record;
    /// each later segment holds some of them, in any order, matched by description.
    Variable,
}

/// A parsed header: the record line, the signal lines and the comment lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Record name.
    pub name: String,
    /// Sampling frequency per signal (Hz).
    pub fs: f64,
    /// Counter frequency, when given.
    pub counter_freq: Option<f64>,
    /// Base counter value, when given.
    pub base_counter: Option<f64>,
    /// Samples per signal, when given.
    pub sig_len: Option<u64>,
    /// Base time as written (`HH:MM:SS`), when given.
    pub base_time: Option<String>,
    /// Base date as written (`DD/MM/YYYY`), when given.
    pub base_date: Option<String>,
    /// One entry per signal, in header order. A multi-segment header has no signal lines, so
    /// [`Header::parse`] leaves this empty for it; [`Record::open`](crate::Record::open) fills
    /// it with the record's signals as its layout header (variable layout) or its first
    /// non-null segment (fixed layout) describes them.
    pub signals: Vec<SignalSpec>,
    /// Comment lines without the leading `#` and surrounding blanks.
    pub comments: Vec<String>,
    /// The segments of a multi-segment record, in header order; empty for an ordinary record.
    pub segments: Vec<Segment>,
    /// The number of signals a multi-segment header's record line announces (0 for an
    /// ordinary record, whose signals are [`Header::signals`]).
    pub segment_n_sig: usize,
}

impl Header {
    /// Parses header text. `path` is only used in error messages.
    pub fn parse(text: &[u8], path: &Path) -> Result<Self> {
        Self::parse_with(text, path, false)
    }

    /// [`Header::parse`]; `null_files` accepts the null signal file `~` (layout headers), with
    /// any format number (they give 0): an unreadable one is read as 16.
    pub(crate) fn parse_with(text: &[u8], path: &Path, null_files: bool) -> Result<Self> {
        let err = |line: usize, message: String| WfdbError::Header {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut record: Option<(Header, usize, Option<usize>)> = None;
        let mut comments = Vec::new();
        let mut signals = Vec::new();
        let mut segments = Vec::new();
        let mut line_no = 0;
        let mut last_line = 0;
        let mut signal_lines = Vec::new();
        for raw in text.split(|&b| b == b'\n') {
            line_no += 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            // A line that is not UTF-8 (Latin-1 comments, as in some PhysioNet records) is
            // read as wfdb-python reads every header: ASCII, other bytes dropped.
            let ascii: String;
            let line = match std::str::from_utf8(raw) {
                Ok(l) => l,
                Err(_) => {
                    ascii = raw
                        .iter()
                        .filter(|b| b.is_ascii())
                        .map(|&b| char::from(b))
                        .collect();
                    &ascii
                }
            };
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            last_line = line_no;
            if let Some(comment) = trimmed.strip_prefix('#') {
                comments.push(comment.trim().to_owned());
                continue;
            }
            match &record {
                None => {
                    record = Some(parse_record_line(trimmed, path, line_no)?);
                }
                Some((_, _, Some(nseg))) => {
                    if segments.len() == *nseg {
                        return Err(err(
                            line_no,
                            format!("unexpected line after the {nseg} segment lines"),
                        ));
                    }
                    segments.push(parse_segment_line(trimmed, path, line_no)?);
                }
                Some((_, nsig, None)) => {
                    if signals.len() == *nsig {
                        return Err(err(
                            line_no,
                            format!("unexpected line after the {nsig} signal lines"),
                        ));
                    }
                    signals.push(parse_signal_line(trimmed, path, line_no, null_files)?);
                    signal_lines.push(line_no);
                }
            }
        }
        let Some((mut header, nsig, nseg)) = record else {
            return Err(err(last_line.max(1), "no record line".to_owned()));
        };
        if let Some(nseg) = nseg {
            check_segments(&segments, nseg, header.sig_len).map_err(|m| err(last_line, m))?;
            header.segments = segments;
            header.segment_n_sig = nsig;
            header.comments = comments;
            return Ok(header);
        }
        if signals.len() != nsig {
            return Err(err(
                last_line,
                format!(
                    "record line announces {nsig} signals, found {} signal lines",
                    signals.len()
                ),
            ));
        }
        // Signals stored in one file must share its format and byte offset.
        for (i, s) in signals.iter().enumerate() {
            if let Some(first) = signals[..i].iter().find(|o| o.file_name == s.file_name)
                && (first.format != s.format || first.byte_offset != s.byte_offset)
            {
                return Err(err(
                    signal_lines[i],
                    format!(
                        "signals in file {} disagree on format or byte offset",
                        s.file_name
                    ),
                ));
            }
        }
        header.signals = signals;
        header.comments = comments;
        Ok(header)
    }

    /// Number of signals (for a multi-segment header, the number its record line announces).
    pub fn n_sig(&self) -> usize {
        if self.segments.is_empty() {
            self.signals.len()
        } else {
            self.segment_n_sig
        }
    }

    /// Whether this is a multi-segment header (`name/nseg`).
    pub fn is_multi_segment(&self) -> bool {
        !self.segments.is_empty()
    }

    /// The layout of a multi-segment record (variable when its first segment has length 0,
    /// as wfdb-python decides); `None` for an ordinary record.
    pub fn layout(&self) -> Option<Layout> {
        let first = self.segments.first()?;
        Some(if first.len == 0 {
            Layout::Variable
        } else {
            Layout::Fixed
        })
    }

    /// Frames of the whole record: the header's length, else (multi-segment) the sum of the
    /// segments' lengths.
    pub fn total_len(&self) -> Option<u64> {
        self.sig_len.or_else(|| {
            (!self.segments.is_empty()).then(|| self.segments.iter().map(|s| s.len).sum::<u64>())
        })
    }

    /// Index of the first signal whose description equals `description` (e.g. `"MLII"`).
    pub fn signal_index(&self, description: &str) -> Option<usize> {
        self.signals
            .iter()
            .position(|s| s.description == description)
    }

    /// Renders the header in WFDB syntax (LF line ends), as the writer stores it.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        out.push_str(&self.name);
        if !self.segments.is_empty() {
            let _ = write!(out, "/{}", self.segments.len());
        }
        let _ = write!(out, " {} {}", self.n_sig(), fmt_num(self.fs));
        if let Some(cf) = self.counter_freq {
            let _ = write!(out, "/{}", fmt_num(cf));
            if let Some(bc) = self.base_counter {
                let _ = write!(out, "({})", fmt_num(bc));
            }
        }
        if let Some(n) = self.sig_len {
            let _ = write!(out, " {n}");
            if let Some(t) = &self.base_time {
                let _ = write!(out, " {t}");
                if let Some(d) = &self.base_date {
                    let _ = write!(out, " {d}");
                }
            }
        }
        out.push('\n');
        for seg in &self.segments {
            let _ = writeln!(out, "{} {}", seg.name, seg.len);
        }
        let signals: &[SignalSpec] = if self.segments.is_empty() {
            &self.signals
        } else {
            &[]
        };
        for s in signals {
            let _ = write!(out, "{} {}", s.file_name, s.format.code());
            if s.samples_per_frame != 1 {
                let _ = write!(out, "x{}", s.samples_per_frame);
            }
            if s.skew != 0 {
                let _ = write!(out, ":{}", s.skew);
            }
            if s.byte_offset != 0 {
                let _ = write!(out, "+{}", s.byte_offset);
            }
            let _ = write!(
                out,
                " {}({})/{} {} {} {} {} {}",
                fmt_num(s.gain),
                s.baseline,
                s.units,
                s.adc_res,
                s.adc_zero,
                s.init_value,
                s.checksum.unwrap_or(0),
                s.block_size
            );
            if !s.description.is_empty() {
                let _ = write!(out, " {}", s.description);
            }
            out.push('\n');
        }
        for c in &self.comments {
            let _ = writeln!(out, "# {c}");
        }
        out
    }
}

/// Shortest text that parses back to the same f64.
fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn parse_record_line(
    line: &str,
    path: &Path,
    line_no: usize,
) -> Result<(Header, usize, Option<usize>)> {
    let err = |message: String| WfdbError::Header {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let mut tokens = line.split_ascii_whitespace();
    let name_tok = tokens
        .next()
        .ok_or_else(|| err("empty record line".to_owned()))?;
    let (name_tok, nseg) = match name_tok.split_once('/') {
        None => (name_tok, None),
        Some((name, n)) => {
            let nseg = n.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                err(format!(
                    "number of segments `{n}` is not a positive integer"
                ))
            })?;
            if name.is_empty() {
                return Err(err("empty record name".to_owned()));
            }
            (name, Some(nseg))
        }
    };
    let nsig = match tokens.next() {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            err(format!(
                "number of signals `{t}` is not a non-negative integer"
            ))
        })?,
    };
    let (mut fs, mut counter_freq, mut base_counter) = (DEFAULT_FS, None, None);
    if let Some(t) = tokens.next() {
        let (fs_tok, rest) = match t.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        fs = parse_positive(fs_tok).ok_or_else(|| {
            err(format!(
                "sampling frequency `{fs_tok}` is not a positive number"
            ))
        })?;
        if let Some(rest) = rest {
            let (cf_tok, bc_tok) = match rest.split_once('(') {
                Some((a, b)) => (
                    a,
                    Some(
                        b.strip_suffix(')')
                            .ok_or_else(|| err(format!("unclosed `(` in `{t}`")))?,
                    ),
                ),
                None => (rest, None),
            };
            counter_freq = Some(parse_positive(cf_tok).ok_or_else(|| {
                err(format!(
                    "counter frequency `{cf_tok}` is not a positive number"
                ))
            })?);
            if let Some(bc) = bc_tok {
                base_counter = Some(
                    bc.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| err(format!("base counter `{bc}` is not a number")))?,
                );
            }
        }
    }
    let sig_len = match tokens.next() {
        None => None,
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            err(format!(
                "number of samples `{t}` is not a non-negative integer"
            ))
        })?),
    };
    let base_time = tokens.next().map(str::to_owned);
    let base_date = tokens.next().map(str::to_owned);
    if let Some(extra) = tokens.next() {
        return Err(err(format!(
            "unexpected field `{extra}` on the record line"
        )));
    }
    Ok((
        Header {
            name: name_tok.to_owned(),
            fs,
            counter_freq,
            base_counter,
            sig_len,
            base_time,
            base_date,
            signals: Vec::new(),
            comments: Vec::new(),
            segments: Vec::new(),
            segment_n_sig: 0,
        },
        nsig,
        nseg,
    ))
}

/// `segname seglen`.
fn parse_segment_line(line: &str, path: &Path, line_no: usize) -> Result<Segment> {
    let err = |message: String| WfdbError::Header {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let mut tokens = line.split_ascii_whitespace();
    let (Some(name), Some(len), None) = (tokens.next(), tokens.next(), tokens.next()) else {
        return Err(err(format!(
            "segment line `{line}` is not `segment_name length`"
        )));
    };
    if name != "~" {
        check_file_name(name).map_err(|m| err(format!("segment `{name}`: {m}")))?;
    }
    let len = len.parse::<u64>().map_err(|_| {
        err(format!(
            "segment length `{len}` is not a non-negative integer"
        ))
    })?;
    Ok(Segment {
        name: name.to_owned(),
        len,
    })
}

/// A multi-segment header's segment lines agree with its record line.
fn check_segments(
    segments: &[Segment],
    nseg: usize,
    sig_len: Option<u64>,
) -> std::result::Result<(), String> {
    if segments.len() != nseg {
        return Err(format!(
            "record line announces {nseg} segments, found {} segment lines",
            segments.len()
        ));
    }
    if let Some(first) = segments.first()
        && first.len == 0
        && first.is_null()
    {
        return Err("the layout segment (length 0) cannot be the null segment `~`".to_owned());
    }
    let total = segments
        .iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.len))
        .ok_or_else(|| "the segment lengths overflow".to_owned())?;
    if let Some(n) = sig_len
        && n != total
    {
        return Err(format!(
            "the record line claims {n} samples, the segments hold {total}"
        ));
    }
    Ok(())
}

fn parse_positive(t: &str) -> Option<f64> {
    t.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
}

/// Splits off the first whitespace-delimited token, returning it and the rest.
fn next_token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// The format field of a signal line, `format[xspf][:skew][+offset]`.
struct FormatField {
    code: u16,
    spf: u32,
    skew: u32,
    offset: u64,
}

/// Parses `format[xspf][:skew][+offset]`; the error message names the field.
fn parse_format_field(fmt_tok: &str) -> std::result::Result<FormatField, String> {
    let digits_end = fmt_tok
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(fmt_tok.len());
    let code: u16 = fmt_tok[..digits_end]
        .parse()
        .map_err(|_| format!("format `{fmt_tok}` does not start with a number"))?;
    let mut f = FormatField {
        code,
        spf: 1,
        skew: 0,
        offset: 0,
    };
    let mut modifiers = &fmt_tok[digits_end..];
    while let Some(c) = modifiers.chars().next() {
        let tail = &modifiers[c.len_utf8()..];
        let n_end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let num = &tail[..n_end];
        let bad = || format!("format field `{fmt_tok}`: bad `{c}` modifier");
        match c {
            'x' => f.spf = num.parse().map_err(|_| bad())?,
            ':' => f.skew = num.parse().map_err(|_| bad())?,
            '+' => f.offset = num.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
        modifiers = &tail[n_end..];
    }
    Ok(f)
}

fn parse_signal_line(
    line: &str,
    path: &Path,
    line_no: usize,
    null_files: bool,
) -> Result<SignalSpec> {
    let err = |message: String| WfdbError::Header {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let (file_name, rest) = next_token(line).ok_or_else(|| err("empty signal line".to_owned()))?;
    if !(null_files && file_name == "~") {
        check_file_name(file_name).map_err(|m| err(format!("signal file `{file_name}`: {m}")))?;
    }
    let (fmt_tok, mut rest) = next_token(rest)
        .ok_or_else(|| err(format!("signal file `{file_name}` has no format field")))?;

    let FormatField {
        code,
        spf,
        skew,
        offset,
    } = parse_format_field(fmt_tok).map_err(err)?;
    // Layout headers give their null files `~` format 0 (no samples stored): stand in 16.
    let null_format = (null_files && file_name == "~").then_some(Format::F16);
    let format = Format::from_code(code).or(null_format).ok_or_else(|| {
        WfdbError::unsupported(
            path,
            format!(
                "signal format {code} (line {line_no}); readable: 8, 16, 24, 32, 61, 80, 160, 212, 310, 311, 508, 516, 524"
            ),
        )
    })?;
    if spf == 0 {
        return Err(err("samples per frame must be at least 1".to_owned()));
    }

    let mut spec = SignalSpec::new(file_name, format, "");
    spec.samples_per_frame = spf;
    spec.skew = skew;
    spec.byte_offset = offset;
    let mut baseline: Option<i32> = None;

    // gain[(baseline)][/units]
    if let Some((tok, r)) = next_token(rest) {
        rest = r;
        let (gain_part, units) = match tok.split_once('/') {
            Some((g, u)) => (g, Some(u)),
            None => (tok, None),
        };
        let (gain_tok, base_tok) = match gain_part.split_once('(') {
            Some((g, b)) => (
                g,
                Some(
                    b.strip_suffix(')')
                        .ok_or_else(|| err(format!("unclosed `(` in gain field `{tok}`")))?,
                ),
            ),
            None => (gain_part, None),
        };
        let gain: f64 = gain_tok
            .parse()
            .ok()
            .filter(|g: &f64| g.is_finite())
            .ok_or_else(|| err(format!("gain `{gain_tok}` is not a number")))?;
        spec.gain = if gain == 0.0 { DEFAULT_GAIN } else { gain };
        if let Some(b) = base_tok {
            baseline = Some(
                b.parse()
                    .map_err(|_| err(format!("baseline `{b}` is not an integer")))?,
            );
        }
        if let Some(u) = units {
            if u.is_empty() {
                return Err(err(format!("empty units in gain field `{tok}`")));
            }
            spec.units = u.to_owned();
        }
        let mut int_field = |name: &str| -> Result<Option<i64>> {
            match next_token(rest) {
                None => Ok(None),
                Some((t, r)) => {
                    rest = r;
                    t.parse::<i64>()
                        .map(Some)
                        .map_err(|_| err(format!("{name} `{t}` is not an integer")))
                }
            }
        };
        let range_err = |name: &str, v: i64| err(format!("{name} {v} is out of range"));
        if let Some(v) = int_field("ADC resolution")? {
            let v = u32::try_from(v)
                .ok()
                .filter(|b| *b <= 32)
                .ok_or_else(|| range_err("ADC resolution", v))?;
            if v != 0 {
                spec.adc_res = v;
            }
        }
        if let Some(v) = int_field("ADC zero")? {
            spec.adc_zero = i32::try_from(v).map_err(|_| range_err("ADC zero", v))?;
        }
        spec.init_value = spec.adc_zero;
        if let Some(v) = int_field("initial value")? {
            spec.init_value = i32::try_from(v).map_err(|_| range_err("initial value", v))?;
        }
        if let Some(v) = int_field("checksum")? {
            // Checksums are 16-bit; writers differ on signed or unsigned rendering.
            if !(-32768..=65535).contains(&v) {
                return Err(range_err("checksum", v));
            }
            spec.checksum = Some(v as u16 as i16);
        }
        if let Some(v) = int_field("block size")? {
            spec.block_size = u32::try_from(v).map_err(|_| range_err("block size", v))?;
        }
        spec.description = rest.trim().to_owned();
    }
    spec.baseline = baseline.unwrap_or(spec.adc_zero);
    Ok(spec)
}

/// A signal file or segment name must stay inside the record's folder.
pub(crate) fn check_file_name(name: &str) -> std::result::Result<(), &'static str> {
    if name == "~" {
        return Err("null signal files (`~`) are not supported");
    }
    if name.contains('\0') || name.contains('\\') {
        return Err("name contains a NUL byte or a backslash");
    }
    let p = Path::new(name);
    for c in p.components() {
        match c {
            Component::Normal(_) => {}
            _ => return Err("name must be a plain relative path inside the record's folder"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Header> {
        Header::parse(s.as_bytes(), Path::new("t.hea"))
    }

    #[test]
    fn latin_1_comments_are_read_as_ascii_like_wfdb_python() {
        let mut bytes = b"r 1 250 10\nr.dat 16 200 12 0 0 0 0 ECG\n# Patient: Jos".to_vec();
        bytes.extend_from_slice(&[0xE9, b' ', 0xC0, b'g', b'e', b' ', b'6', b'5', b'\n']);
        let h = Header::parse(&bytes, Path::new("t.hea")).unwrap();
        assert_eq!(h.comments, vec!["Patient: Jos ge 65"]);
        // UTF-8 stays as written.
        let h = parse("r 1 250 10\nr.dat 16 200 12 0 0 0 0 ECG\n# Jos\u{e9}\n").unwrap();
        assert_eq!(h.comments, vec!["Jos\u{e9}"]);
    }

    #[test]
    fn mitdb_style_header() {
        let h = parse(
            "100 2 360 650000\r\n100.dat 212 200 11 1024 995 -22131 0 MLII\r\n100.dat 212 200 11 1024 1011 20052 0 V5\r\n# 69 M 1085 1629 x1\r\n# Aldomet, Inderal\r\n",
        )
        .unwrap();
        assert_eq!(h.name, "100");
        assert_eq!(h.fs, 360.0);
        assert_eq!(h.sig_len, Some(650000));
        assert_eq!(h.signals.len(), 2);
        let s = &h.signals[0];
        assert_eq!(s.format, Format::F212);
        assert_eq!(
            (s.gain, s.baseline, s.adc_res, s.adc_zero, s.init_value),
            (200.0, 1024, 11, 1024, 995)
        );
        assert_eq!(s.checksum, Some(-22131));
        assert_eq!(s.description, "MLII");
        assert_eq!(s.units, "mV");
        assert_eq!(h.comments, vec!["69 M 1085 1629 x1", "Aldomet, Inderal"]);
        assert_eq!(h.signal_index("V5"), Some(1));
    }

    #[test]
    fn full_syntax() {
        let h = parse(
            "# leading comment\nrec 2 500/1000(-3) 100 12:00:00 01/02/2000\nrec.dat 16x1:0+24 400.5(-7)/uV 16 3 4 -5 0 ECG lead II\nrec.dat 16+24\n",
        )
        .unwrap();
        assert_eq!(h.fs, 500.0);
        assert_eq!(h.counter_freq, Some(1000.0));
        assert_eq!(h.base_counter, Some(-3.0));
        assert_eq!(h.base_time.as_deref(), Some("12:00:00"));
        assert_eq!(h.base_date.as_deref(), Some("01/02/2000"));
        let s = &h.signals[0];
        assert_eq!((s.byte_offset, s.gain, s.baseline), (24, 400.5, -7));
        assert_eq!(s.units, "uV");
        assert_eq!(s.description, "ECG lead II");
        let d = &h.signals[1];
        assert_eq!(
            (d.gain, d.baseline, d.adc_res, d.units.as_str()),
            (200.0, 0, 16, "mV")
        );
        assert_eq!(h.comments, vec!["leading comment"]);
    }

    #[test]
    fn text_round_trip() {
        let h = parse("r 2 360 10\nr.dat 212 200(5)/mV 11 1024 995 -22131 0 MLII\nr.dat 212 100 11 0 1 2 0 V5 x\n# c\n").unwrap();
        let again = parse(&h.to_text()).unwrap();
        assert_eq!(h, again);
    }

    #[test]
    fn errors_name_line() {
        let e = parse("r 2 360\nr.dat 212\n").unwrap_err().to_string();
        assert!(e.contains("t.hea:2"), "{e}");
        assert!(e.contains("announces 2 signals"), "{e}");
        let e = parse("r 1 abc\n").unwrap_err().to_string();
        assert!(
            e.contains("t.hea:1") && e.contains("sampling frequency"),
            "{e}"
        );
        let e = parse("r 1 360\nr.dat 999\n").unwrap_err();
        assert!(matches!(e, WfdbError::Unsupported { .. }), "{e}");
        let e = parse("r/3 1 360\n").unwrap_err().to_string();
        assert!(e.contains("announces 3 segments, found 0"), "{e}");
        let e = parse("r 1 360\n../x.dat 212\n").unwrap_err().to_string();
        assert!(e.contains("inside the record's folder"), "{e}");
        let e = parse("r 1 360\n/etc/passwd 212\n").unwrap_err().to_string();
        assert!(e.contains("inside the record's folder"), "{e}");
        let e = parse("").unwrap_err().to_string();
        assert!(e.contains("no record line"), "{e}");
        let e = parse("r 1 360\nr.dat 212 200 11 1024 995 99999999 0 x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum"), "{e}");
        let e = parse("r 2 360\na.dat 212\na.dat 16\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("disagree"), "{e}");
    }

    #[test]
    fn multi_segment_headers() {
        let h = parse("m/4 2 360 30 12:00:00\nm_layout 0\nm_1 10\n~ 5\nm_2 15\n# c\n").unwrap();
        assert_eq!(h.name, "m");
        assert!(h.is_multi_segment());
        assert_eq!(h.layout(), Some(Layout::Variable));
        assert_eq!(
            (h.n_sig(), h.signals.len(), h.total_len()),
            (2, 0, Some(30))
        );
        let segs: Vec<(&str, u64)> = h
            .segments
            .iter()
            .map(|s| (s.name.as_str(), s.len))
            .collect();
        assert_eq!(segs, [("m_layout", 0), ("m_1", 10), ("~", 5), ("m_2", 15)]);
        assert!(h.segments[2].is_null());
        assert_eq!(h.comments, vec!["c"]);
        assert_eq!(parse(&h.to_text()).unwrap(), h);
        let f = parse("f/2 1 250\na 3\nb 4\n").unwrap();
        assert_eq!(
            (f.layout(), f.sig_len, f.total_len()),
            (Some(Layout::Fixed), None, Some(7))
        );
        assert_eq!(parse("r 1 250\nr.dat 16\n").unwrap().layout(), None);
        for (text, want) in [
            (
                "m/2 1 250 10\na 3\nb 4\n",
                "claims 10 samples, the segments hold 7",
            ),
            ("m/2 1 250\na 3\n", "announces 2 segments, found 1"),
            ("m/1 1 250\na 3\nb 4\n", "after the 1 segment lines"),
            ("m/0 1 250\n", "number of segments `0`"),
            ("m/x 1 250\n", "number of segments `x`"),
            ("/2 1 250\n", "empty record name"),
            ("m/2 1 250\n~ 0\na 3\n", "layout segment"),
            ("m/1 1 250\n../a 3\n", "inside the record's folder"),
            ("m/1 1 250\na -3\n", "segment length `-3`"),
            ("m/1 1 250\na 3 x\n", "segment_name length"),
            ("m/2 1 250\na 18446744073709551615\nb 1\n", "overflow"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // `~` signal files only in layout headers.
        let lay = b"m_layout 1 250 0\n~ 0 200/mV 16 0 0 0 0 I\n";
        let h0 = Header::parse_with(
            b"l 1 250 0\n~ 0 1/mV 8 0 -128 0 0 II\n",
            Path::new("t"),
            true,
        );
        assert_eq!(h0.unwrap().signals[0].format, Format::F16);
        assert!(parse(std::str::from_utf8(lay).unwrap()).is_err());
        let h = Header::parse_with(lay, Path::new("t.hea"), true).unwrap();
        assert_eq!(h.signals[0].file_name, "~");
    }

    #[test]
    fn format_sizes() {
        assert_eq!(Format::F212.bytes_for(4), Some(6));
        assert_eq!(Format::F212.bytes_for(5), Some(8));
        assert_eq!(Format::F212.samples_in(8), 5);
        assert_eq!(Format::F212.samples_in(7), 4);
        assert_eq!(Format::F16.bytes_for(u64::MAX), None);
        // 310 and 311: 4 bytes per triple; a trailing sample 2 bytes, a trailing pair 4 / 3.
        let sizes = |f: Format| (0..8).map(|n| f.bytes_for(n).unwrap()).collect::<Vec<_>>();
        assert_eq!(sizes(Format::F310), [0, 2, 4, 4, 6, 8, 8, 10]);
        assert_eq!(sizes(Format::F311), [0, 2, 3, 4, 6, 7, 8, 10]);
        assert_eq!(sizes(Format::F8), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(Format::F311.bytes_for(u64::MAX), None);
        let held = |f: Format| (0..9).map(|b| f.samples_in(b)).collect::<Vec<_>>();
        assert_eq!(held(Format::F310), [0, 0, 1, 1, 3, 3, 4, 4, 6]);
        assert_eq!(held(Format::F311), [0, 0, 1, 2, 3, 3, 4, 5, 6]);
        for f in Format::ALL {
            assert_eq!(Format::from_code(f.code()), Some(f));
            for b in 0..20 {
                // Every sample said to be held can be read.
                assert!(f.bytes_for(f.samples_in(b)).unwrap() <= b, "{f:?} {b}");
            }
            for n in 0..10 {
                // A 310 file's trailing pair fills a whole group (wfdb-python infers 3).
                let want = if f == Format::F310 && n % 3 == 2 {
                    n + 1
                } else {
                    n
                };
                assert_eq!(f.samples_in(f.bytes_for(n).unwrap()), want, "{f:?} {n}");
            }
        }
    }
}
