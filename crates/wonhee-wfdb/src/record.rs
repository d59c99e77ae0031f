//! Opening a record and reading its samples.

use std::path::{Path, PathBuf};

use crate::annotation::Annotations;
use crate::error::{Result, WfdbError};
use crate::format;
use crate::header::{Format, Header, SignalSpec};
use crate::multiseg;

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
    ///
    /// A multi-segment record (`name/nseg`) is opened as one record: its header's
    /// [`Header::signals`] are filled from its layout header (variable layout) or its first
    /// non-null segment (fixed layout), whose header must then be readable, and
    /// [`Record::read_signals`] and [`Record::read_selected`] read it whole (see
    /// [`Record::read_segmented`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let (dir, name) = split_record_path(path.as_ref())?;
        let mut rec = Self::open_in(dir, &name)?;
        if rec.header.is_multi_segment() {
            rec.header.signals = multiseg::signal_list(&rec)?;
        }
        Ok(rec)
    }

    /// Opens record `name` of folder `dir` without looking at its segments.
    pub(crate) fn open_in(dir: PathBuf, name: &str) -> Result<Self> {
        let header_path = dir.join(format!("{name}.hea"));
        let text = std::fs::read(&header_path).map_err(|e| WfdbError::io(&header_path, e))?;
        let header = Header::parse(&text, &header_path)?;
        Ok(Self {
            header,
            dir,
            header_path,
        })
    }

    /// The number of signals; for a multi-segment record that of its signal list, read and
    /// checked against the header's (which alone could claim any number).
    pub(crate) fn n_signals_checked(&self) -> Result<usize> {
        if self.header.is_multi_segment() {
            Ok(multiseg::signal_list(self)?.len())
        } else {
            Ok(self.header.n_sig())
        }
    }

    /// Whether this is a multi-segment record.
    pub fn is_multi_segment(&self) -> bool {
        self.header.is_multi_segment()
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
        let all: Vec<usize> = (0..self.n_signals_checked()?).collect();
        self.read_selected(&all)
    }

    /// Reads the signals with the given indices, in the given order.
    ///
    /// A multi-segment record is read as one (see [`Record::read_segmented_selected`]); one
    /// whose segments store a selected signal with different formats, gains, baselines or
    /// units is refused as [`WfdbError::Unsupported`] (its samples have no one conversion to
    /// physical units): read it with [`Record::read_segmented_selected`].
    pub fn read_selected(&self, selected: &[usize]) -> Result<Signals> {
        if self.header.is_multi_segment() {
            return multiseg::read(self, selected, &mut |_, _| {})?.into_signals();
        }
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
    /// the samples of `selected[slot]` (frames times its samples per frame), and the number of
    /// frames is returned.
    /// `on_file` sees the bytes of each signal file read (once per file), e.g. to hash them
    /// without reading the file again. Reading many records through one [`ReadBuffers`]
    /// reuses its memory: once it has grown to the largest record, no buffer of bytes or
    /// samples is allocated again (only small per-file bookkeeping: the signals of each file,
    /// which of them are wanted; a multi-segment record's samples are gathered anew).
    pub fn read_selected_into(
        &self,
        selected: &[usize],
        buf: &mut ReadBuffers,
        on_file: &mut dyn FnMut(&Path, &[u8]),
    ) -> Result<usize> {
        if self.header.is_multi_segment() {
            let s = multiseg::read(self, selected, on_file)?.into_signals()?;
            let n = s.n_frames();
            buf.digital = s.into_digital();
            return Ok(n);
        }
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
            let per_frame = samples_per_frame(&self.header_path, sigs, &in_file)?;
            read_into(&path, &mut buf.bytes)?;
            on_file(&path, &buf.bytes);
            let wanted: Vec<bool> = in_file.iter().map(|j| selected.contains(j)).collect();
            let plain = in_file
                .iter()
                .all(|&j| sigs[j].samples_per_frame == 1 && sigs[j].skew == 0);
            let n = if spec.format.is_flac() {
                let n = crate::flac::decode(
                    &buf.bytes,
                    &path,
                    sigs,
                    &in_file,
                    &wanted,
                    self.header.sig_len,
                    &mut buf.chans,
                )?;
                for ((c, &j), &w) in buf.chans.iter().zip(&in_file).zip(&wanted) {
                    if w {
                        verify_checksum(&sigs[j], c, &path, j);
                    }
                }
                n
            } else if plain {
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
                for ((c, &j), &w) in buf.chans.iter().zip(&in_file).zip(&wanted) {
                    if w {
                        verify_checksum(&sigs[j], c, &path, j);
                    }
                }
                n
            } else {
                let layout = FileLayout {
                    path: &path,
                    sigs,
                    in_file: &in_file,
                    per_frame,
                };
                layout.decode(
                    &buf.bytes,
                    &wanted,
                    self.header.sig_len,
                    (&mut buf.flat, &mut buf.padded),
                    &mut buf.chans,
                )?
            };
            match n_samples {
                None => n_samples = Some(n),
                Some(m) if m != n => {
                    return Err(WfdbError::invalid(
                        &path,
                        format!("holds {n} frames, another file of the record {m}"),
                    ));
                }
                Some(_) => {}
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

/// Refuses a signal file whose signals (`in_file`, in file order) disagree on format or byte
/// offset: no value is ever read with the wrong layout.
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
    /// For files with several samples per frame or skew: every sample of the file, decoded
    /// flat (one vector), and the file's body with its zero padding past the end.
    flat: Vec<Vec<i32>>,
    padded: Vec<u8>,
    pub(crate) digital: Vec<Vec<i32>>,
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

/// The number of frames of `k` samples each (the samples per frame of all the file's signals
/// together) in `spec`'s format in a signal file of `len` bytes: the header's claim `sig_len`
/// (checked against the file's size), else as many whole frames as the file holds after the
/// byte offset.
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
                        "the header claims {n} frames of {k} sample(s) in format {}, which need {needed} bytes; the file has {len}",
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

/// Samples per frame of all the signals `in_file` of one file together. A signal with 0
/// samples per frame (which no parsed header has, but a hand-built [`Header`] may) is an error
/// naming it and its file: a file of such frames would hold any number of them.
pub(crate) fn samples_per_frame(
    header_path: &Path,
    sigs: &[SignalSpec],
    in_file: &[usize],
) -> Result<usize> {
    if let Some(&j) = in_file.iter().find(|&&j| sigs[j].samples_per_frame == 0) {
        return Err(WfdbError::invalid(
            header_path,
            format!(
                "signal {j} of {} has 0 samples per frame (at least 1 is needed)",
                sigs[j].file_name
            ),
        ));
    }
    in_file
        .iter()
        .try_fold(0usize, |acc, &j| {
            acc.checked_add(usize::try_from(sigs[j].samples_per_frame).ok()?)
        })
        .ok_or_else(|| WfdbError::invalid(header_path, "samples per frame overflow"))
}

/// One signal file whose signals have several samples per frame or skew.
struct FileLayout<'a> {
    path: &'a Path,
    sigs: &'a [SignalSpec],
    /// The file's signals (indices into `sigs`), in file order.
    in_file: &'a [usize],
    /// Their samples per frame, summed.
    per_frame: usize,
}

impl FileLayout<'_> {
    /// Decodes the wanted signals of the file (`bytes`) into `chans` (one vector per signal of
    /// the file, the unwanted ones empty), each at its own rate, as wfdb-python's `rdrecord`
    /// reads them: signal `i`'s sample `m` is stored in frame `m / spf_i + skew_i`, at place
    /// `m % spf_i` among that signal's samples of the frame. Returns the number of frames.
    ///
    /// The file is decoded flat, as one run of samples, into `flat` (its samples per frame
    /// however many: no allocation per slot of the frame), and each wanted signal's samples
    /// are then copied out frame by frame; `padded` holds the body and its zero padding when
    /// a signal is skewed. Both are reused from call to call.
    ///
    /// The header's length (else the file's) bounds what is read. A skewed signal runs past
    /// it: wfdb-python reads there zero bytes (decoded in the format, so `-128` for format 80)
    /// and then sets the signal's last `skew` samples (samples, not frames) to the invalid
    /// value; this does the same. Format 8 (first differences) reads zero differences there,
    /// so the last stored value repeats, and its last `skew` samples are `i32::MIN` (its
    /// invalid value here; wfdb-python 4.3.1 raises a `TypeError` on skewed format-8
    /// signals). Checksums are verified over each signal's stored samples (frames `0..n`,
    /// before the skew is applied), as wfdb-python computes them when writing.
    fn decode(
        &self,
        bytes: &[u8],
        wanted: &[bool],
        sig_len: Option<u64>,
        bufs: (&mut Vec<Vec<i32>>, &mut Vec<u8>),
        chans: &mut Vec<Vec<i32>>,
    ) -> Result<usize> {
        let (flat, padded) = bufs;
        let (sigs, path) = (self.sigs, self.path);
        let spec = &sigs[self.in_file[0]];
        let fmt = spec.format;
        let n = count_frames(bytes.len() as u64, path, spec, self.per_frame, sig_len)?;
        chans.resize_with(self.in_file.len(), Vec::new);
        chans.iter_mut().for_each(Vec::clear);
        if n == 0 {
            // Nothing to read (and samples per frame beyond the file's size allocate nothing).
            return Ok(0);
        }
        // Frames past the end read as zero bytes; past the first n + 1 of them every frame is
        // the same, so no more are decoded however large the skew.
        let max_skew = self
            .in_file
            .iter()
            .zip(wanted)
            .filter(|(_, w)| **w)
            .map(|(&j, _)| sigs[j].skew as usize)
            .max()
            .unwrap_or(0);
        let pad = max_skew.min(n.saturating_add(1));
        let too_long = || WfdbError::invalid(path, "record too long for this platform");
        let total = n.checked_add(pad).ok_or_else(too_long)?;
        let pf = self.per_frame;
        let total_samples = total.checked_mul(pf).ok_or_else(too_long)?;
        let body_len = self.bytes_for(n)?;
        let offset = usize::try_from(spec.byte_offset).map_err(|_| too_long())?;
        // count_frames checked offset + body_len <= bytes.len().
        let body = bytes
            .get(offset..offset.saturating_add(body_len))
            .ok_or_else(|| WfdbError::Truncated {
                path: path.to_path_buf(),
                offset: bytes.len() as u64,
                message: format!("{n} frames need {body_len} bytes after byte {offset}"),
            })?;
        let data = if pad > 0 {
            padded.clear();
            padded.extend_from_slice(body);
            padded.resize(self.bytes_for(total)?, 0);
            &padded[..]
        } else {
            body
        };
        // The whole file as one signal: `total * pf` samples into one vector.
        format::decode_into(fmt, data, total_samples, &[true], flat);
        let flat = &flat[0];
        let mut first = 0;
        for (pos, (&j, &w)) in self.in_file.iter().zip(wanted).enumerate() {
            let s = &sigs[j];
            let spf = s.samples_per_frame as usize;
            if w {
                let out = &mut chans[pos];
                // The signal's stored samples, frame by frame, padding included.
                out.reserve(total * spf);
                for f in 0..total {
                    out.extend_from_slice(&flat[f * pf + first..][..spf]);
                }
                if fmt == Format::F8 {
                    format::undiff(std::slice::from_mut(out), &[true], &[s.init_value]);
                }
                let len = n * spf;
                verify_checksum(s, &out[..len], path, j);
                let skew = s.skew as usize;
                if skew > 0 {
                    if skew <= pad {
                        // Sample m comes from stored sample m + skew * spf.
                        out.copy_within(skew * spf..skew * spf + len, 0);
                    } else {
                        // Past the padding decoded (skew > n + 1): from stored sample
                        // m + skew * spf where decoded, else from the last frame decoded, the
                        // same place in it (zero padding like the frames before it).
                        let last = (total - 1) * spf;
                        let shift = skew.saturating_mul(spf);
                        for m in 0..len {
                            let src = shift
                                .checked_add(m)
                                .filter(|&i| i < total * spf)
                                .unwrap_or(last + m % spf);
                            out[m] = out[src];
                        }
                    }
                    out.truncate(len);
                    let invalid = fmt.invalid_value();
                    for v in &mut out[len - skew.min(len)..] {
                        *v = invalid;
                    }
                } else {
                    out.truncate(len);
                }
            }
            first += spf;
        }
        Ok(n)
    }

    /// Bytes of `frames` frames of this file.
    fn bytes_for(&self, frames: usize) -> Result<usize> {
        (frames as u64)
            .checked_mul(self.per_frame as u64)
            .and_then(|s| self.sigs[self.in_file[0]].format.bytes_for(s))
            .and_then(|b| usize::try_from(b).ok())
            .ok_or_else(|| WfdbError::invalid(self.path, "record too long for this platform"))
    }
}

fn verify_checksum(spec: &SignalSpec, samples: &[i32], path: &Path, index: usize) {
    if let Some(expected) = spec.checksum {
        // Summed in 32 bits (vectorizes), then truncated: the same low 16 bits as summing
        // each sample's low 16 bits.
        let sum = samples
            .iter()
            .fold(0u32, |acc, &v| acc.wrapping_add(v as u32)) as u16 as i16;
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
///
/// Each signal is held at its own rate: a signal with `spf` samples per frame (format
/// `16x2`, say) has `n_frames() * spf` samples at `fs() * spf` Hz. When every held signal has
/// one sample per frame (most records) all have [`Signals::n_samples`] samples at
/// [`Signals::fs`]; [`Signals::smooth_frames`] brings any record to that form.
#[derive(Clone, Debug, PartialEq)]
pub struct Signals {
    pub(crate) specs: Vec<SignalSpec>,
    pub(crate) fs: f64,
    /// Frames per signal.
    pub(crate) n_samples: usize,
    pub(crate) digital: Vec<Vec<i32>>,
}

impl Signals {
    /// Builds from parts: channel `i` must hold `n * specs[i].samples_per_frame` samples, the
    /// same number of frames `n` for all.
    pub fn new(specs: Vec<SignalSpec>, fs: f64, digital: Vec<Vec<i32>>) -> Option<Self> {
        let spf = |s: &SignalSpec| usize::try_from(s.samples_per_frame).ok().filter(|&p| p > 0);
        let n = match (specs.first(), digital.first()) {
            (Some(s), Some(c)) => c.len() / spf(s)?,
            _ => 0,
        };
        if specs.len() != digital.len() {
            return None;
        }
        for (s, c) in specs.iter().zip(&digital) {
            if n.checked_mul(spf(s)?) != Some(c.len()) {
                return None;
            }
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

    /// Number of frames, the same as [`Signals::n_frames`] (the name is older than samples
    /// per frame). It is the number of samples of every signal only when each has one sample
    /// per frame ([`Signals::is_frame_rate`]); signal `i` has [`Signals::len_of`]`(i)` samples,
    /// frames times its samples per frame.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Number of frames (the header's signal length).
    pub fn n_frames(&self) -> usize {
        self.n_samples
    }

    /// Number of samples of held signal `i`: frames times its samples per frame.
    pub fn len_of(&self, i: usize) -> usize {
        self.digital[i].len()
    }

    /// Frame frequency (Hz): the record's sampling frequency, the rate of every signal with
    /// one sample per frame.
    pub fn fs(&self) -> f64 {
        self.fs
    }

    /// Sampling frequency of held signal `i` (Hz): the frame frequency times its samples per
    /// frame.
    pub fn fs_of(&self, i: usize) -> f64 {
        self.fs * f64::from(self.specs[i].samples_per_frame)
    }

    /// Samples per frame of held signal `i`.
    pub fn samples_per_frame(&self, i: usize) -> u32 {
        self.specs[i].samples_per_frame
    }

    /// Whether every held signal has one sample per frame (all at [`Signals::fs`]).
    pub fn is_frame_rate(&self) -> bool {
        self.specs.iter().all(|s| s.samples_per_frame == 1)
    }

    /// Every signal at the frame rate, as wfdb-python's `rdrecord(..., smooth_frames=True)`
    /// reads it: the samples of each frame of a signal with several per frame are replaced
    /// by their mean, truncated toward zero (wfdb-python divides the sum in float64 and casts
    /// it to an integer); invalid samples are averaged like any other value, as there.
    /// Signals with one sample per frame are untouched. Afterwards every spec says one sample
    /// per frame; the other fields of the specs still describe the file (its skew, byte
    /// offset and checksum, the checksum of the samples as stored, not of the means held).
    pub fn smooth_frames(mut self) -> Self {
        for (spec, d) in self.specs.iter_mut().zip(&mut self.digital) {
            let spf = spec.samples_per_frame as usize;
            if spf > 1 {
                let div = spf as i64;
                let smooth: Vec<i32> = d
                    .chunks_exact(spf)
                    .map(|f| {
                        let sum: i64 = f.iter().map(|&v| i64::from(v)).sum();
                        // The mean of i32 values is an i32.
                        (sum / div) as i32
                    })
                    .collect();
                *d = smooth;
                spec.samples_per_frame = 1;
            }
        }
        self
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
        let mut out = vec![0f32; self.digital[i].len()];
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

    /// Writes the physical values of held signal `i` into `out` (length [`Signals::len_of`]).
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Writes record `name` (header text `hea`, signal file bytes `dat`) into `dir`.
    fn write_record(dir: &Path, name: &str, hea: &str, dat: &[u8]) -> PathBuf {
        std::fs::write(dir.join(format!("{name}.dat")), dat).unwrap();
        let path = dir.join(format!("{name}.hea"));
        std::fs::write(&path, hea).unwrap();
        path
    }

    /// Format 8 with skew (wfdb-python 4.3.1 raises a TypeError there): the signal is read
    /// from its later frames, zero differences past the file's end (the last stored value
    /// repeats), and its last `skew` samples are `i32::MIN`, format 8's invalid value.
    #[test]
    fn format_8_with_skew_fills_the_tail_with_the_invalid_value() {
        let dir = tempfile::tempdir().unwrap();
        // 3 frames of [s0, s1, s1]: s0 differences 1, 2, 3 from 10; s1 all 1 from 100.
        let hea = write_record(
            dir.path(),
            "r",
            "r 2 250 3\n\
             r.dat 8 200/mV 8 0 10 40 0 s0\n\
             r.dat 8x2:1 200/mV 8 0 100 621 0 s1\n",
            &[1, 1, 1, 2, 1, 1, 3, 1, 1],
        );
        let rec = Record::open(&hea).unwrap();
        let sig = rec.read_signals().unwrap();
        assert_eq!(sig.n_frames(), 3);
        assert_eq!(sig.digital(0), &[11, 13, 16]);
        // Stored 101..=106; one frame later: 103..=106, then the padding frame (106 again),
        // its last sample invalid.
        assert_eq!(sig.digital(1), &[103, 104, 105, 106, 106, i32::MIN]);
        assert!(sig.physical_f64(1)[5].is_nan());
        assert_eq!(rec.read_selected(&[1]).unwrap().digital(0), sig.digital(1));

        // A skew past the record's end and its padding (5 > 3 + 1 frames): the samples from
        // the padding, the last 5 invalid.
        std::fs::write(
            &hea,
            "r 2 250 3\n\
             r.dat 8 200/mV 8 0 10 40 0 s0\n\
             r.dat 8x2:5 200/mV 8 0 100 621 0 s1\n",
        )
        .unwrap();
        let sig = Record::open(&hea).unwrap().read_signals().unwrap();
        assert_eq!(sig.digital(0), &[11, 13, 16]);
        assert_eq!(
            sig.digital(1),
            &[106, i32::MIN, i32::MIN, i32::MIN, i32::MIN, i32::MIN]
        );
    }

    /// A hand-built header with 0 samples per frame (which the parser refuses) is an error
    /// naming the signal and its file, not frames counted without bound.
    #[test]
    fn zero_samples_per_frame_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let hea = write_record(
            dir.path(),
            "z",
            "z 2 250 4\n\
             z.dat 16 200/mV 16 0 0 0 0 s0\n\
             z.dat 16 200/mV 16 0 0 0 0 s1\n",
            &[0; 16],
        );
        let parsed = Record::open(&hea).unwrap().header().clone();
        for zero in [vec![0, 1], vec![1]] {
            let mut header = parsed.clone();
            for &i in &zero {
                header.signals[i].samples_per_frame = 0;
            }
            let rec = Record::from_header(header, dir.path());
            for selected in [&[0, 1][..], &[0], &[1]] {
                let err = rec.read_selected(selected).unwrap_err().to_string();
                assert!(
                    err.contains("z.dat") && err.contains("0 samples per frame"),
                    "{err}"
                );
            }
        }
        // Without a length, the frames are not counted either.
        let mut header = parsed;
        header.sig_len = None;
        header.signals[0].samples_per_frame = 0;
        header.signals[1].samples_per_frame = 0;
        let rec = Record::from_header(header, dir.path());
        let err = rec.read_signals().unwrap_err().to_string();
        assert!(err.contains("z.dat"), "{err}");
        let err = rec.samples_per_signal().unwrap_err().to_string();
        assert!(err.contains("z.dat"), "{err}");
    }
}
