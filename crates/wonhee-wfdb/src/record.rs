//! Opening a record and reading its samples.

use std::path::{Path, PathBuf};

use crate::annotation::Annotations;
use crate::error::{Result, WfdbError};
use crate::format;
use crate::header::{Format, Header, SignalSpec};

/// A WFDB record: its parsed header and the folder its files live in.
#[derive(Clone, Debug)]
pub struct Record {
    header: Header,
    dir: PathBuf,
    header_path: PathBuf,
}

/// Splits a record path (`dir/100` or `dir/100.hea`) into its folder and record name.
pub fn split_record_path(path: &Path) -> Result<(PathBuf, String)> {
    let path = if path.extension().is_some_and(|e| e == "hea") {
        path.with_extension("")
    } else {
        path.to_path_buf()
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            WfdbError::invalid(&path, "not a record path (expected e.g. data/mitdb/100)")
        })?
        .to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

impl Record {
    /// Opens a record from its path without extension (`data/mitdb/100`) or its `.hea` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let (dir, name) = split_record_path(path.as_ref())?;
        let header_path = dir.join(format!("{name}.hea"));
        let text = std::fs::read(&header_path).map_err(|e| WfdbError::io(&header_path, e))?;
        let header = Header::parse(&text, &header_path)?;
        Ok(Self {
            header,
            dir,
            header_path,
        })
    }

    /// Wraps an already parsed header whose files live in `dir`.
    pub fn from_header(header: Header, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let header_path = dir.join(format!("{}.hea", header.name));
        Self {
            header,
            dir,
            header_path,
        }
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Record name (e.g. `100`).
    pub fn name(&self) -> &str {
        &self.header.name
    }

    /// The folder holding the record's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the `.hea` file.
    pub fn header_path(&self) -> &Path {
        &self.header_path
    }

    /// Path of this record's file with the given extension (`atr`, `dat`, ...).
    pub fn file_path(&self, extension: &str) -> PathBuf {
        self.dir.join(format!("{}.{extension}", self.header.name))
    }

    /// Reads the annotation file of `annotator` (e.g. `"atr"`). An annotation past the
    /// record's end (its length from the header, else from the signal file's size) is an error
    /// naming the byte offset.
    pub fn annotations(&self, annotator: &str) -> Result<Annotations> {
        // Without a readable length (no signals, a missing signal file), only the generic
        // checks apply.
        let end = self.samples_per_signal().ok().flatten();
        Annotations::read_file_within(&self.file_path(annotator), annotator, end)
    }

    /// Reads every signal.
    pub fn read_signals(&self) -> Result<Signals> {
        let all: Vec<usize> = (0..self.header.n_sig()).collect();
        self.read_selected(&all)
    }

    /// Reads the signals with the given indices, in the given order.
    pub fn read_selected(&self, selected: &[usize]) -> Result<Signals> {
        let mut buf = ReadBuffers::default();
        let n_samples = self.read_selected_into(selected, &mut buf, &mut |_, _| {})?;
        Ok(Signals {
            specs: selected
                .iter()
                .map(|&i| self.header.signals[i].clone())
                .collect(),
            fs: self.header.fs,
            n_samples,
            digital: std::mem::take(&mut buf.digital),
        })
    }

    /// [`Record::read_selected`] through reusable buffers: afterwards `buf.signal(slot)` holds
    /// the samples of `selected[slot]`, and the number of samples per signal is returned.
    /// `on_file` sees the bytes of each signal file read (once per file), e.g. to hash them
    /// without reading the file again. Reading many records through one [`ReadBuffers`]
    /// allocates nothing once it has grown to the largest record.
    pub fn read_selected_into(
        &self,
        selected: &[usize],
        buf: &mut ReadBuffers,
        on_file: &mut dyn FnMut(&Path, &[u8]),
    ) -> Result<usize> {
        let sigs = &self.header.signals;
        for (slot, &i) in selected.iter().enumerate() {
            if selected[..slot].contains(&i) {
                return Err(WfdbError::invalid(
                    &self.header_path,
                    format!("signal {i} selected twice"),
                ));
            }
            if i >= sigs.len() {
                return Err(WfdbError::invalid(
                    &self.header_path,
                    format!("signal {i} does not exist (the record has {})", sigs.len()),
                ));
            }
        }
        // Group the selected signals by file; each file is read and decoded once.
        buf.digital.resize_with(selected.len(), Vec::new);
        buf.digital.iter_mut().for_each(Vec::clear);
        let mut n_samples: Option<usize> = None;
        let mut files: Vec<&str> = Vec::new();
        for &i in selected {
            if !files.contains(&sigs[i].file_name.as_str()) {
                files.push(&sigs[i].file_name);
            }
        }
        for file in files {
            let in_file: Vec<usize> = (0..sigs.len())
                .filter(|&j| sigs[j].file_name == file)
                .collect();
            let spec = &sigs[in_file[0]];
            let path = self.dir.join(file);
            check_file_layout(&self.header_path, sigs, &in_file)?;
            read_into(&path, &mut buf.bytes)?;
            on_file(&path, &buf.bytes);
            let wanted: Vec<bool> = in_file.iter().map(|j| selected.contains(j)).collect();
            let n = decode_file(
                &buf.bytes,
                &path,
                spec,
                &wanted,
                self.header.sig_len,
                &mut buf.chans,
            )?;
            if spec.format == Format::F8 {
                let init: Vec<i32> = in_file.iter().map(|&j| sigs[j].init_value).collect();
                format::undiff(&mut buf.chans, &wanted, &init);
            }
            match n_samples {
                None => n_samples = Some(n),
                Some(m) if m != n => {
                    return Err(WfdbError::invalid(
                        &path,
                        format!("holds {n} samples per signal, another file of the record {m}"),
                    ));
                }
                Some(_) => {}
            }
            for ((c, &j), &w) in buf.chans.iter().zip(&in_file).zip(&wanted) {
                if w {
                    verify_checksum(&sigs[j], c, &path, j);
                }
            }
            for (slot, &i) in selected.iter().enumerate() {
                if let Some(pos) = in_file.iter().position(|&j| j == i) {
                    std::mem::swap(&mut buf.digital[slot], &mut buf.chans[pos]);
                }
            }
        }
        Ok(n_samples.unwrap_or(0))
    }
}

/// Refuses a signal file this reader would decode wrongly: any of its signals (`in_file`, in
/// file order) with several samples per frame or skew (not implemented), or signals of one file
/// that disagree on format or byte offset (invalid). Every signal is checked, not only the
/// first, so no value is ever read with the wrong layout.
pub(crate) fn check_file_layout(
    header_path: &Path,
    sigs: &[SignalSpec],
    in_file: &[usize],
) -> Result<()> {
    let Some(&first) = in_file.first() else {
        return Ok(());
    };
    let head = &sigs[first];
    for &j in in_file {
        let s = &sigs[j];
        if s.samples_per_frame != 1 {
            return Err(WfdbError::unsupported(
                header_path,
                format!(
                    "signal {j} has {} samples per frame in {}",
                    s.samples_per_frame, s.file_name
                ),
            ));
        }
        if s.skew != 0 {
            return Err(WfdbError::unsupported(
                header_path,
                format!("signal {j} has skew {} in {}", s.skew, s.file_name),
            ));
        }
        if s.format != head.format || s.byte_offset != head.byte_offset {
            return Err(WfdbError::invalid(
                header_path,
                format!(
                    "signal {j} of {} has format {} and byte offset {}, signal {first} of the same file {} and {}",
                    s.file_name,
                    s.format.code(),
                    s.byte_offset,
                    head.format.code(),
                    head.byte_offset
                ),
            ));
        }
    }
    Ok(())
}

/// Reusable memory for [`Record::read_selected_into`]: the file buffer and the decoded
/// samples.
#[derive(Clone, Debug, Default)]
pub struct ReadBuffers {
    bytes: Vec<u8>,
    chans: Vec<Vec<i32>>,
    digital: Vec<Vec<i32>>,
}

impl ReadBuffers {
    /// Digital samples of the `slot`-th selected signal of the last read (empty if none).
    pub fn signal(&self, slot: usize) -> &[i32] {
        self.digital.get(slot).map_or(&[], Vec::as_slice)
    }
}

/// Reads a whole file into `buf`, reusing its capacity.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<()> {
    use std::io::Read;
    buf.clear();
    let mut f = std::fs::File::open(path).map_err(|e| WfdbError::io(path, e))?;
    if let Ok(m) = f.metadata() {
        buf.reserve(usize::try_from(m.len()).unwrap_or(0));
    }
    f.read_to_end(buf).map_err(|e| WfdbError::io(path, e))?;
    Ok(())
}

/// Checks a signal's length against the file size and decodes every wanted signal of the
/// file into `chans`; returns the number of frames.
fn decode_file(
    bytes: &[u8],
    path: &Path,
    spec: &SignalSpec,
    wanted: &[bool],
    sig_len: Option<u64>,
    chans: &mut Vec<Vec<i32>>,
) -> Result<usize> {
    let n_frames = count_frames(bytes.len() as u64, path, spec, wanted.len(), sig_len)?;
    let offset = spec.byte_offset;
    let body = &bytes[offset as usize..];
    format::decode_into(spec.format, body, n_frames, wanted, chans);
    Ok(n_frames)
}

/// The number of frames of `k` signals in `spec`'s format in a signal file of `len` bytes: the
/// header's claim `sig_len` (checked against the file's size), else as many whole frames as
/// the file holds after the byte offset.
pub(crate) fn count_frames(
    len: u64,
    path: &Path,
    spec: &SignalSpec,
    k: usize,
    sig_len: Option<u64>,
) -> Result<usize> {
    let fmt = spec.format;
    let offset = spec.byte_offset;
    if offset > len {
        return Err(WfdbError::Truncated {
            path: path.to_path_buf(),
            offset: len,
            message: format!("byte offset {offset} is beyond the end of the file"),
        });
    }
    let k64 = k as u64;
    let n_frames = match sig_len {
        Some(n) if n > 0 => {
            let needed = n
                .checked_mul(k64)
                .and_then(|s| fmt.bytes_for(s))
                .and_then(|b| b.checked_add(offset))
                .ok_or_else(|| WfdbError::invalid(path, format!("claimed length {n} overflows")))?;
            if needed > len {
                return Err(WfdbError::Truncated {
                    path: path.to_path_buf(),
                    offset: len,
                    message: format!(
                        "the header claims {n} samples of {k} signal(s) in format {}, which need {needed} bytes; the file has {len}",
                        fmt.code()
                    ),
                });
            }
            n
        }
        // Length not given: as many whole frames as the file holds.
        _ => fmt.samples_in(len - offset) / k64.max(1),
    };
    usize::try_from(n_frames)
        .map_err(|_| WfdbError::invalid(path, "record too long for this platform"))
}

fn verify_checksum(spec: &SignalSpec, samples: &[i32], path: &Path, index: usize) {
    if let Some(expected) = spec.checksum {
        let sum = samples
            .iter()
            .fold(0u16, |acc, &v| acc.wrapping_add(v as u16)) as i16;
        if sum != expected {
            tracing::warn!(
                file = %path.display(),
                signal = index,
                expected,
                actual = sum,
                "checksum mismatch (the samples were read as stored)"
            );
        }
    }
}

/// Samples of selected signals, as stored (digital) with conversions to physical units.
#[derive(Clone, Debug, PartialEq)]
pub struct Signals {
    specs: Vec<SignalSpec>,
    fs: f64,
    n_samples: usize,
    digital: Vec<Vec<i32>>,
}

impl Signals {
    /// Builds from parts; all channels must have the same length.
    pub fn new(specs: Vec<SignalSpec>, fs: f64, digital: Vec<Vec<i32>>) -> Option<Self> {
        let n = digital.first().map_or(0, Vec::len);
        if specs.len() != digital.len() || digital.iter().any(|c| c.len() != n) {
            return None;
        }
        Some(Self {
            specs,
            fs,
            n_samples: n,
            digital,
        })
    }

    /// Number of signals held.
    pub fn n_signals(&self) -> usize {
        self.digital.len()
    }

    /// Samples per signal.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Sampling frequency (Hz).
    pub fn fs(&self) -> f64 {
        self.fs
    }

    /// Header lines of the held signals, in the order they were selected.
    pub fn specs(&self) -> &[SignalSpec] {
        &self.specs
    }

    /// Digital samples (ADC units) of held signal `i`.
    pub fn digital(&self, i: usize) -> &[i32] {
        &self.digital[i]
    }

    /// All digital channels.
    pub fn into_digital(self) -> Vec<Vec<i32>> {
        self.digital
    }

    /// Physical values `(d - baseline) / gain` of held signal `i` as f64; invalid samples are NaN.
    pub fn physical_f64(&self, i: usize) -> Vec<f64> {
        let spec = &self.specs[i];
        let (invalid, base, gain) = (
            spec.format.invalid_value(),
            f64::from(spec.baseline),
            spec.gain,
        );
        // Same arithmetic as `SignalSpec::to_physical`, written branch-free so it vectorizes.
        let mut out = Vec::with_capacity(self.digital[i].len());
        out.extend(self.digital[i].iter().map(|&d| {
            let v = (f64::from(d) - base) / gain;
            if d == invalid { f64::NAN } else { v }
        }));
        out
    }

    /// Physical values as f32 (computed in f64, then rounded once).
    pub fn physical_f32(&self, i: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.n_samples];
        self.physical_into(i, &mut out);
        out
    }

    /// Physical values of held signal `i` as f32, as [`Signals::physical_f32`] computes them,
    /// converted in the memory of the digital samples (no second allocation); the other
    /// signals are dropped.
    pub fn into_physical_f32(mut self, i: usize) -> Vec<f32> {
        let spec = &self.specs[i];
        let (invalid, base, gain) = (
            spec.format.invalid_value(),
            f64::from(spec.baseline),
            spec.gain,
        );
        std::mem::take(&mut self.digital[i])
            .into_iter()
            .map(|d| {
                if d == invalid {
                    f32::NAN
                } else {
                    ((f64::from(d) - base) / gain) as f32
                }
            })
            .collect()
    }

    /// Writes the physical values of held signal `i` into `out` (length `n_samples`).
    pub fn physical_into(&self, i: usize, out: &mut [f32]) {
        let spec = &self.specs[i];
        let (invalid, base, gain) = (
            spec.format.invalid_value(),
            f64::from(spec.baseline),
            spec.gain,
        );
        for (o, &d) in out.iter_mut().zip(&self.digital[i]) {
            *o = if d == invalid {
                f32::NAN
            } else {
                ((f64::from(d) - base) / gain) as f32
            };
        }
    }
}
