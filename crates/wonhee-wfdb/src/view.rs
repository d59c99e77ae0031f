//! One signal of a record read on demand, a stretch at a time: for long records that need not
//! be held in memory whole (a 24-hour lead at 360 Hz is 125 MB as `f32`).

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Result, WfdbError};
use crate::format;
use crate::header::{Format, SignalSpec};
use crate::record::{Record, check_file_layout, count_frames, samples_per_frame};

/// One signal of a record, read from its signal file by position ([`SignalView::physical_into`])
/// rather than decoded whole. The file's length is checked against the header when the view is
/// made; the signal's checksum is not verified (that needs every sample: use
/// [`Record::read_selected`]).
#[derive(Debug)]
pub struct SignalView {
    file: File,
    /// The file mapped into memory, when the system allows: read without copies.
    map: Option<memmap2::Mmap>,
    path: PathBuf,
    spec: SignalSpec,
    fs: f64,
    /// Signals in the file, and this one's place among them.
    k: usize,
    pos: usize,
    n: usize,
    /// The physical value of every digital value, for formats of at most 16 bits (indexed by
    /// the value minus the format's smallest, modulo 2^16: no bounds check).
    table: Option<Box<[f32; 1 << 16]>>,
}

thread_local! {
    /// Per-thread scratch of [`SignalView::physical_into`]: the bytes read and the decoded
    /// channels.
    static SCRATCH: RefCell<(Vec<u8>, Vec<Vec<i32>>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl Record {
    /// A view of signal `i`, read on demand. A signal file holding any signal with several
    /// samples per frame or skew is refused as [`WfdbError::Unsupported`] naming the file
    /// (read it whole with [`Record::read_selected`]), and so are format 8, whose samples
    /// depend on every earlier one, and the FLAC formats 508, 516 and 524 (compressed: not
    /// addressable by position).
    ///
    /// Multi-segment records are refused as [`WfdbError::Unsupported`] (read them whole).
    pub fn view(&self, i: usize) -> Result<SignalView> {
        if self.is_multi_segment() {
            return Err(WfdbError::unsupported(
                self.header_path(),
                format!("signal {i}: views do not read multi-segment records: use read_selected"),
            ));
        }
        let sigs = &self.header().signals;
        let Some(spec) = sigs.get(i) else {
            return Err(WfdbError::invalid(
                self.header_path(),
                format!("signal {i} does not exist (the record has {})", sigs.len()),
            ));
        };
        let in_file: Vec<usize> = (0..sigs.len())
            .filter(|&j| sigs[j].file_name == spec.file_name)
            .collect();
        check_file_layout(self.header_path(), sigs, &in_file)?;
        if let Some(&j) = in_file
            .iter()
            .find(|&&j| sigs[j].samples_per_frame != 1 || sigs[j].skew != 0)
        {
            // Name only what differs from one sample per frame without skew.
            let (spf, skew) = (sigs[j].samples_per_frame, sigs[j].skew);
            let what = match (spf != 1, skew != 0) {
                (true, true) => format!("{spf} samples per frame and skew {skew}"),
                (true, false) => format!("{spf} samples per frame"),
                _ => format!("skew {skew}"),
            };
            return Err(WfdbError::unsupported(
                self.header_path(),
                format!(
                    "signal {i}: {} holds signal {j} with {what}, which views do not read: use read_selected",
                    spec.file_name
                ),
            ));
        }
        if spec.format == Format::F8 {
            return Err(WfdbError::unsupported(
                self.header_path(),
                format!("signal {i}: format 8 is read whole: use read_selected"),
            ));
        }
        if spec.format.is_flac() {
            return Err(WfdbError::unsupported(
                self.header_path(),
                format!(
                    "signal {i}: {} is FLAC-compressed (format {}), not addressable by \
                     position: use read_selected",
                    spec.file_name,
                    spec.format.code()
                ),
            ));
        }
        let (file, path, n) = self.open_signal_file(spec, &in_file)?;
        let (lo, hi) = spec.format.digital_range();
        let table = (i64::from(hi) - i64::from(lo) < 1 << 16).then(|| {
            let mut t = Box::new([f32::NAN; 1 << 16]);
            for d in lo..=hi {
                t[index(d, lo)] = physical(spec, d);
            }
            t
        });
        Ok(SignalView {
            map: map_file(&file),
            file,
            path,
            spec: spec.clone(),
            fs: self.header().fs,
            k: in_file.len(),
            pos: in_file.iter().position(|&j| j == i).unwrap_or(0),
            n,
            table,
        })
    }
}

impl Record {
    /// Frames per signal (samples per signal where each has one per frame): the header's
    /// signal length, else inferred (as wfdb-python does) from the size of the first signal's
    /// file; `None` for a record without signals.
    pub fn samples_per_signal(&self) -> Result<Option<u64>> {
        if self.is_multi_segment() {
            return Ok(self.header().total_len());
        }
        let sigs = &self.header().signals;
        let Some(spec) = sigs.first() else {
            return Ok(self.header().sig_len);
        };
        if self.header().sig_len.is_some() {
            return Ok(self.header().sig_len);
        }
        let in_file: Vec<usize> = (0..sigs.len())
            .filter(|&j| sigs[j].file_name == spec.file_name)
            .collect();
        check_file_layout(self.header_path(), sigs, &in_file)?;
        if spec.format.is_flac() {
            // The length is in the stream (STREAMINFO), not in the file's size.
            let path = self.dir().join(&spec.file_name);
            let bytes = std::fs::read(&path).map_err(|e| WfdbError::io(&path, e))?;
            return Ok(Some(crate::flac::count_frames(
                &bytes, &path, sigs, &in_file,
            )?));
        }
        Ok(Some(self.open_signal_file(spec, &in_file)?.2 as u64))
    }

    /// Opens the file of `spec` (holding signals `in_file`, checked) and checks its length:
    /// the file, its path and the number of frames.
    fn open_signal_file(
        &self,
        spec: &SignalSpec,
        in_file: &[usize],
    ) -> Result<(File, PathBuf, usize)> {
        let sigs = &self.header().signals;
        let first = &sigs[in_file[0]];
        let per_frame = samples_per_frame(self.header_path(), sigs, in_file)?;
        let path = self.dir().join(&spec.file_name);
        let file = File::open(&path).map_err(|e| WfdbError::io(&path, e))?;
        let len = file.metadata().map_err(|e| WfdbError::io(&path, e))?.len();
        let n = count_frames(len, &path, first, per_frame, self.header().sig_len)?;
        Ok((file, path, n))
    }
}

impl SignalView {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the signal has no samples.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Sampling frequency (Hz).
    pub fn fs(&self) -> f64 {
        self.fs
    }

    /// The signal's header line.
    pub fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    /// The signal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes samples `start..start + out.len()` in physical units into `out`, with the same
    /// arithmetic as [`crate::Signals::into_physical_f32`] (NaN for the format's invalid-sample
    /// value). A range past the end, or a file that changed since the view was made, is an
    /// error naming the file.
    pub fn physical_into(&self, start: usize, out: &mut [f32]) -> Result<()> {
        let end = start
            .checked_add(out.len())
            .filter(|&e| e <= self.n)
            .ok_or_else(|| {
                WfdbError::invalid(
                    &self.path,
                    format!(
                        "samples {start}..{} asked of a signal of {}",
                        start.saturating_add(out.len()),
                        self.n
                    ),
                )
            })?;
        if out.is_empty() {
            return Ok(());
        }
        let fmt = self.spec.format;
        // The first frame read starts a byte group: 2 samples for format 212, 3 for 310/311.
        let group = match fmt {
            Format::F212 => 2,
            Format::F310 | Format::F311 => 3,
            _ => 1,
        };
        let mut first = start;
        while !(first * self.k).is_multiple_of(group) {
            first -= 1;
        }
        let samples = (end - first) * self.k;
        let at = bytes_before(fmt, first * self.k) + self.spec.byte_offset;
        let count = fmt.bytes_for(samples as u64).unwrap_or(u64::MAX);
        SCRATCH.with_borrow_mut(|(bytes, chans)| {
            let truncated = |e: String| WfdbError::Truncated {
                path: self.path.clone(),
                offset: at,
                message: format!("reading {count} bytes failed ({e}); did the file change?"),
            };
            let count = usize::try_from(count).map_err(|_| truncated("too large".into()))?;
            let bytes: &[u8] = match &self.map {
                Some(map) => usize::try_from(at)
                    .ok()
                    .and_then(|a| map.get(a..a.checked_add(count)?))
                    .ok_or_else(|| truncated("past the end of the file".into()))?,
                None => {
                    if bytes.len() < count {
                        bytes.resize(count, 0);
                    }
                    let bytes = &mut bytes[..count];
                    read_at(&self.file, bytes, at).map_err(|e| truncated(e.to_string()))?;
                    bytes
                }
            };
            let lo = fmt.digital_range().0;
            if let (Format::F16, Some(t)) = (fmt, &self.table) {
                // The common case, decoded and converted in one loop.
                let frames = bytes.chunks_exact(2 * self.k);
                for (o, f) in out.iter_mut().zip(frames) {
                    let b = &f[2 * self.pos..2 * self.pos + 2];
                    *o = t[index(i32::from(i16::from_le_bytes([b[0], b[1]])), lo)];
                }
                return Ok(());
            }
            let mut wanted = vec![false; self.k];
            wanted[self.pos] = true;
            format::decode_into(fmt, bytes, end - first, &wanted, chans);
            let digital = &chans[self.pos][start - first..];
            match &self.table {
                Some(t) => {
                    for (o, &d) in out.iter_mut().zip(digital) {
                        *o = t[index(d, lo)];
                    }
                }
                None => {
                    for (o, &d) in out.iter_mut().zip(digital) {
                        *o = physical(&self.spec, d);
                    }
                }
            }
            Ok(())
        })
    }
}

/// The table slot of digital value `d` of a format whose smallest value is `lo`.
#[inline]
fn index(d: i32, lo: i32) -> usize {
    (d.wrapping_sub(lo) as u32 & 0xffff) as usize
}

/// Maps `file` read-only, or `None` where the system refuses (then it is read by position).
#[allow(unsafe_code)]
fn map_file(file: &File) -> Option<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private, and only ever read through bounds-checked
    // slices. Were another process to truncate the file while it is mapped, reading the lost
    // pages would stop this process with SIGBUS (a crash, never a wrong value); signal files
    // are not rewritten in place by WFDB tools or by this project.
    unsafe { memmap2::Mmap::map(file) }.ok()
}

/// The physical value of digital value `d` of `spec`, as [`crate::Signals::into_physical_f32`]
/// computes it.
fn physical(spec: &SignalSpec, d: i32) -> f32 {
    if d == spec.format.invalid_value() {
        f32::NAN
    } else {
        ((f64::from(d) - f64::from(spec.baseline)) / spec.gain) as f32
    }
}

/// Bytes taken by the first `samples` samples of a file (`samples` a whole number of byte
/// groups: even for format 212, a multiple of 3 for 310/311).
fn bytes_before(fmt: Format, samples: usize) -> u64 {
    fmt.bytes_for(samples as u64).unwrap_or(u64::MAX)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            k => {
                buf = &mut buf[k..];
                offset += k as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Format, Record};

    /// Writes record `name` of `k` signals of `n` samples in `fmt` with pseudo-random bytes
    /// (so every bit pattern, the invalid value included, can occur); returns the header path.
    fn raw_record(
        dir: &std::path::Path,
        name: &str,
        fmt: Format,
        k: usize,
        n: usize,
    ) -> std::path::PathBuf {
        let len = fmt.bytes_for((n * k) as u64).unwrap() as usize;
        let mut state = 0x9e37_79b9_u32 ^ (fmt.code() as u32 * 7 + k as u32);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 11) as u8
            })
            .collect();
        std::fs::write(dir.join(format!("{name}.dat")), bytes).unwrap();
        let mut hea = format!("{name} {k} 360 {n}\n");
        for s in 0..k {
            hea += &format!(
                "{name}.dat {} {}({})/mV 12 0 0 0 0 s{s}\n",
                fmt.code(),
                200 + s,
                s as i32 - 1
            );
        }
        let path = dir.join(format!("{name}.hea"));
        std::fs::write(&path, hea).unwrap();
        path
    }

    /// Every stretch of every signal, in each format with 1 to 3 signals per file, reads as the
    /// whole-record reader gives it, bit for bit.
    #[test]
    fn stretches_equal_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let n = 1001;
        for fmt in [
            Format::F16,
            Format::F24,
            Format::F32,
            Format::F61,
            Format::F80,
            Format::F160,
            Format::F212,
            Format::F310,
            Format::F311,
        ] {
            for k in 1..=3usize {
                let name = format!("r{}_{k}", fmt.code());
                let rec = Record::open(raw_record(dir.path(), &name, fmt, k, n)).unwrap();
                let whole = rec.read_signals().unwrap();
                for s in 0..k {
                    let want = whole.clone().into_physical_f32(s);
                    let view = rec.view(s).unwrap();
                    assert_eq!(view.len(), n);
                    for (a, b) in [
                        (0, n),
                        (1, 2),
                        (3, 500),
                        (999, 1001),
                        (500, 500),
                        (1000, 1001),
                        (2, 3),
                        (4, 11),
                        (998, 1000),
                    ] {
                        let mut got = vec![0f32; b - a];
                        view.physical_into(a, &mut got).unwrap();
                        for (i, (g, w)) in got.iter().zip(&want[a..b]).enumerate() {
                            assert_eq!(
                                g.to_bits(),
                                w.to_bits(),
                                "format {} k {k} signal {s} sample {}",
                                fmt.code(),
                                a + i
                            );
                        }
                    }
                    let mut past = vec![0f32; 2];
                    let err = view
                        .physical_into(n - 1, &mut past)
                        .unwrap_err()
                        .to_string();
                    assert!(err.contains(&format!("{name}.dat")), "{err}");
                }
            }
        }
    }

    /// Format 8 is not random access: its view is refused, naming the format, while the
    /// whole read works.
    #[test]
    fn format_8_is_not_viewed() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Record::open(raw_record(dir.path(), "d", Format::F8, 2, 10)).unwrap();
        assert_eq!(rec.read_signals().unwrap().n_samples(), 10);
        for s in 0..2 {
            let e = rec.view(s).unwrap_err();
            assert!(matches!(e, crate::WfdbError::Unsupported { .. }), "{e}");
            let e = e.to_string();
            assert!(
                e.contains("d.hea") && e.contains("format 8 is read whole"),
                "{e}"
            );
        }
        // Its length is still known without a header length.
        let hea = dir.path().join("d.hea");
        let text = std::fs::read_to_string(&hea).unwrap();
        std::fs::write(&hea, text.replacen("d 2 360 10", "d 2 360", 1)).unwrap();
        let rec = Record::open(&hea).unwrap();
        assert_eq!(rec.samples_per_signal().unwrap(), Some(10));
    }

    /// A skewed or multi-frame signal anywhere in a file (not only the first) makes the views
    /// of the file's signals refused, naming the file, while the whole read reads them.
    #[test]
    fn views_of_files_with_frames_or_skew_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        raw_record(dir.path(), "f", Format::F16, 3, 100);
        // The 300-sample file holds 75 frames of 4 samples, 100 of 3, 60 of 5.
        for (hea_text, what, not, n, len_1) in [
            (
                "f 3 360 75\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s0\n\
                 f.dat 16x2 200(0)/mV 12 0 0 0 0 s1\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s2\n",
                "signal 1 with 2 samples per frame,",
                "skew",
                75,
                150,
            ),
            (
                "f 3 360 100\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s0\n\
                 f.dat 16:3 200(0)/mV 12 0 0 0 0 s1\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s2\n",
                "signal 1 with skew 3,",
                "samples per frame",
                100,
                100,
            ),
            (
                "f 3 360 60\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s0\n\
                 f.dat 16x3:2 200(0)/mV 12 0 0 0 0 s1\n\
                 f.dat 16 200(0)/mV 12 0 0 0 0 s2\n",
                "signal 1 with 3 samples per frame and skew 2,",
                "\u{0}",
                60,
                180,
            ),
        ] {
            let hea = dir.path().join("f.hea");
            std::fs::write(&hea, hea_text).unwrap();
            let rec = Record::open(&hea).unwrap();
            let all = rec.read_signals().unwrap();
            assert_eq!(all.n_frames(), n);
            assert_eq!(all.len_of(1), len_1);
            assert_eq!(rec.read_selected(&[0]).unwrap().len_of(0), n);
            for s in 0..3 {
                let err = rec.view(s).unwrap_err();
                assert!(matches!(err, crate::WfdbError::Unsupported { .. }), "{err}");
                let err = err.to_string();
                assert!(
                    err.contains("f.hea")
                        && err.contains("f.dat")
                        && err.contains(what)
                        && !err.contains(not),
                    "{err}"
                );
            }
        }
        // Signals of one file in different formats: refused by the header parser already.
        std::fs::write(
            dir.path().join("f.hea"),
            "f 2 360 100\nf.dat 16 200(0)/mV 12 0 0 0 0 s0\nf.dat 212 200(0)/mV 12 0 0 0 0 s1\n",
        )
        .unwrap();
        let err = Record::open(dir.path().join("f.hea"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("f.hea:3") && err.contains("disagree"), "{err}");
    }

    #[test]
    fn annotations_past_the_records_end_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hea = raw_record(dir.path(), "a", Format::F16, 1, 100);
        let path = dir.path().join("a.atr");
        let anns = [
            crate::Annotation::new(10, 1),
            crate::Annotation::new(150, 1),
        ];
        std::fs::write(&path, crate::Annotations::encode(&anns, &path).unwrap()).unwrap();
        let rec = Record::open(&hea).unwrap();
        let err = rec.annotations("atr").unwrap_err().to_string();
        assert!(
            err.contains("a.atr")
                && err.contains("byte 2")
                && err.contains("past the record's end"),
            "{err}"
        );
        // The file alone, without the record's length, reads.
        assert_eq!(
            crate::Annotations::read_file(&path, "atr").unwrap().len(),
            2
        );
    }

    #[test]
    fn a_missing_signal_length_is_inferred_from_the_file_size() {
        let dir = tempfile::tempdir().unwrap();
        raw_record(dir.path(), "m", Format::F212, 2, 101);
        let hea = dir.path().join("m.hea");
        let text = std::fs::read_to_string(&hea).unwrap();
        std::fs::write(&hea, text.replacen("m 2 360 101", "m 2 360", 1)).unwrap();
        let rec = Record::open(&hea).unwrap();
        assert_eq!(rec.header().sig_len, None);
        assert_eq!(rec.samples_per_signal().unwrap(), Some(101));
        assert_eq!(rec.read_signals().unwrap().n_samples(), 101);
    }

    #[test]
    fn a_file_shorter_than_its_header_is_refused_when_viewed() {
        let dir = tempfile::tempdir().unwrap();
        let hea = raw_record(dir.path(), "t", Format::F16, 1, 100);
        let dat = dir.path().join("t.dat");
        let bytes = std::fs::read(&dat).unwrap();
        std::fs::write(&dat, &bytes[..150]).unwrap();
        let err = Record::open(&hea).unwrap().view(0).unwrap_err().to_string();
        assert!(err.contains("t.dat") && err.contains("truncated"), "{err}");
        let err = Record::open(&hea).unwrap().view(1).unwrap_err().to_string();
        assert!(err.contains("t.hea") && err.contains("signal 1"), "{err}");
    }
}
