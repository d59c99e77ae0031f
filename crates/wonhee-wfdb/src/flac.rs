//! FLAC-compressed signal files (formats 508, 516 and 524), decoded with `claxon`.
//!
//! Such a file is one FLAC stream whose channels are the file's signals, in file order; every
//! signal of the file has the same samples per frame `spf`, and signal `c`'s sample `m` is
//! channel `c`'s sample `offset + m`, where `offset` is the signal line's byte offset field,
//! read (as wfdb-python 4.3.1 reads it) as a number of samples per channel to skip. The
//! stream's samples must fit the format (at most 8, 16 or 24 bits).
//!
//! Memory: nothing is allocated from a claim. The metadata blocks' lengths are checked against
//! the file before the decoder sees them, the decoded samples grow block by block as the stream
//! yields them, and no more than [`MAX_SAMPLES_PER_BYTE`] samples (all channels together) per
//! byte of the file, or 2^24, whichever is more, are decoded: a FLAC frame of a constant
//! signal takes a few bytes for up to 65535 samples, so a small hostile file could otherwise
//! claim gigabytes.

use std::path::Path;

use crate::error::{Result, WfdbError};
use crate::header::SignalSpec;

/// Samples (all channels together) decoded at most per byte of a FLAC file (beyond 2^24).
/// Real recordings compress 2-5 fold; hours of all-constant signals, the most compressible
/// content, about 350 samples per byte.
pub(crate) const MAX_SAMPLES_PER_BYTE: u64 = 1024;

/// What the signal lines say of a FLAC file: its signals' common samples per frame and the
/// sample offset. Refuses skew (wfdb-python 4.3.1 fails on skewed FLAC signals), different
/// samples per frame (the channels of a FLAC stream share one rate; wfdb-python refuses them
/// too) and more than 8 signals (a FLAC stream holds at most 8 channels).
pub(crate) fn layout(path: &Path, sigs: &[SignalSpec], in_file: &[usize]) -> Result<(u64, u64)> {
    let Some(&first) = in_file.first() else {
        return Ok((1, 0));
    };
    let head = &sigs[first];
    for &j in in_file {
        let s = &sigs[j];
        if s.skew != 0 {
            return Err(WfdbError::unsupported(
                path,
                format!(
                    "signal {j} has skew {} in a FLAC-compressed file (format {}); skew is read \
                     in uncompressed formats only",
                    s.skew,
                    s.format.code()
                ),
            ));
        }
        if s.samples_per_frame != head.samples_per_frame {
            return Err(WfdbError::invalid(
                path,
                format!(
                    "signal {j} has {} samples per frame, signal {first} {}: the signals of a \
                     FLAC file must all have the same",
                    s.samples_per_frame, head.samples_per_frame
                ),
            ));
        }
    }
    if in_file.len() > 8 {
        return Err(WfdbError::invalid(
            path,
            format!(
                "{} signals in one FLAC file (a FLAC stream holds at most 8 channels)",
                in_file.len()
            ),
        ));
    }
    if head.samples_per_frame == 0 {
        return Err(WfdbError::invalid(
            path,
            format!("signal {first} has 0 samples per frame (at least 1 is needed)"),
        ));
    }
    Ok((u64::from(head.samples_per_frame), head.byte_offset))
}

/// The largest number of samples (all channels together) decoded from a file of `len` bytes.
fn max_samples(len: usize) -> u64 {
    (len as u64)
        .saturating_mul(MAX_SAMPLES_PER_BYTE)
        .max(1 << 24)
}

/// Walks the metadata block headers of the stream in `bytes` and checks that each block lies
/// inside the file (the decoder allocates some blocks whole, up to 10 MiB, from their claimed
/// length).
fn check_metadata(bytes: &[u8], path: &Path) -> Result<()> {
    if bytes.get(..4) != Some(b"fLaC") {
        return Err(flac_error(
            path,
            0,
            "not a FLAC stream (no `fLaC` signature)",
        ));
    }
    let mut at = 4usize;
    loop {
        let Some(h) = bytes.get(at..at + 4) else {
            return Err(WfdbError::Truncated {
                path: path.to_path_buf(),
                offset: bytes.len() as u64,
                message: format!("FLAC metadata block header expected at byte {at}"),
            });
        };
        let last = h[0] & 0x80 != 0;
        let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        let end = at + 4 + len;
        if end > bytes.len() {
            return Err(WfdbError::Truncated {
                path: path.to_path_buf(),
                offset: bytes.len() as u64,
                message: format!(
                    "the FLAC metadata block at byte {at} claims {len} bytes, past the file's end"
                ),
            });
        }
        at = end;
        if last {
            return Ok(());
        }
    }
}

fn flac_error(path: &Path, sample: u64, message: impl Into<String>) -> WfdbError {
    WfdbError::Flac {
        path: path.to_path_buf(),
        sample,
        message: message.into(),
    }
}

/// A decoder error at inter-channel sample `sample`: a stream cut short is
/// [`WfdbError::Truncated`], anything else [`WfdbError::Flac`].
fn decoder_error(path: &Path, len: usize, sample: u64, e: claxon::Error) -> WfdbError {
    match e {
        claxon::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            WfdbError::Truncated {
                path: path.to_path_buf(),
                offset: len as u64,
                message: format!("the FLAC stream is cut inside the frame from sample {sample}"),
            }
        }
        e => flac_error(path, sample, e.to_string()),
    }
}

/// Opens the stream and checks it against the file's signals: as many channels as signals,
/// samples of at most `bits` bits (the format's). Returns the reader.
fn open<'a>(
    bytes: &'a [u8],
    path: &Path,
    spec: &SignalSpec,
    k: usize,
) -> Result<claxon::FlacReader<&'a [u8]>> {
    check_metadata(bytes, path)?;
    let options = claxon::FlacReaderOptions {
        metadata_only: false,
        read_vorbis_comment: false,
    };
    let reader = claxon::FlacReader::new_ext(bytes, options)
        .map_err(|e| decoder_error(path, bytes.len(), 0, e))?;
    let info = reader.streaminfo();
    if info.channels as usize != k {
        return Err(WfdbError::invalid(
            path,
            format!(
                "the FLAC stream has {} channel(s), the header {k} signal(s) in this file",
                info.channels
            ),
        ));
    }
    let bits = spec.format.default_adc_res();
    if info.bits_per_sample > bits {
        return Err(WfdbError::invalid(
            path,
            format!(
                "the FLAC stream has {}-bit samples; format {} holds at most {bits} bits",
                info.bits_per_sample,
                spec.format.code()
            ),
        ));
    }
    Ok(reader)
}

/// Frames in the file when the header gives no length: from the stream's STREAMINFO total
/// (samples per channel, less the offset, over the samples per frame), else, where the stream
/// does not say, from decoding it whole.
pub(crate) fn count_frames(
    bytes: &[u8],
    path: &Path,
    sigs: &[SignalSpec],
    in_file: &[usize],
) -> Result<u64> {
    let Some(&first) = in_file.first() else {
        return Ok(0);
    };
    let (spf, offset) = layout(path, sigs, in_file)?;
    let reader = open(bytes, path, &sigs[first], in_file.len())?;
    match reader.streaminfo().samples {
        Some(total) => Ok(total.saturating_sub(offset) / spf),
        None => {
            let wanted = vec![false; in_file.len()];
            let n = decode(bytes, path, sigs, in_file, &wanted, None, &mut Vec::new())?;
            Ok(n as u64)
        }
    }
}

/// Which part of the stream to decode: `frames` of `spf` samples after `offset` (the header's
/// length, else STREAMINFO's total; `None`: the whole stream) and the sample per channel to stop
/// at, checked against `limit`; `None` when there is nothing to decode.
fn decode_range(
    path: &Path,
    file_len: usize,
    sig_len: Option<u64>,
    stream_samples: Option<u64>,
    spf: u64,
    offset: u64,
    limit: u64,
) -> Result<Option<(Option<u64>, Option<u64>)>> {
    let frames = match sig_len {
        Some(n) if n > 0 => Some(n),
        _ => stream_samples.map(|t| t.saturating_sub(offset) / spf),
    };
    if frames == Some(0) {
        return Ok(None);
    }
    let end = match frames {
        Some(n) => Some(
            n.checked_mul(spf)
                .and_then(|s| s.checked_add(offset))
                .ok_or_else(|| WfdbError::invalid(path, "record too long for this platform"))?,
        ),
        None => None,
    };
    if let Some(e) = end.filter(|&e| e > limit) {
        return Err(WfdbError::invalid(
            path,
            format!(
                "the header's length (else the stream's STREAMINFO) asks for {e} samples per \
                 channel (offset included) of a FLAC file of {file_len} bytes; at most {limit} \
                 are decoded from it ({MAX_SAMPLES_PER_BYTE} samples per byte of all channels)"
            ),
        ));
    }
    Ok(Some((frames, end)))
}

/// Decodes the wanted signals of a FLAC file (`bytes`; its signals `in_file`, in file order)
/// into `chans` (one vector per signal of the file, the unwanted ones empty): `sig_len` frames
/// (the header's length; without one, STREAMINFO's total, else the whole stream). Returns the
/// number of frames.
pub(crate) fn decode(
    bytes: &[u8],
    path: &Path,
    sigs: &[SignalSpec],
    in_file: &[usize],
    wanted: &[bool],
    sig_len: Option<u64>,
    chans: &mut Vec<Vec<i32>>,
) -> Result<usize> {
    let k = in_file.len();
    chans.resize_with(k, Vec::new);
    chans.iter_mut().for_each(Vec::clear);
    let Some(&first) = in_file.first() else {
        return Ok(0);
    };
    let spec = &sigs[first];
    let (spf, offset) = layout(path, sigs, in_file)?;
    let mut reader = open(bytes, path, spec, k)?;
    let info = reader.streaminfo();
    let too_long = || WfdbError::invalid(path, "record too long for this platform");
    let limit = max_samples(bytes.len()) / k as u64;
    let Some((frames, end)) =
        decode_range(path, bytes.len(), sig_len, info.samples, spf, offset, limit)?
    else {
        return Ok(0);
    };
    // Valid samples of the stream's bit depth (at most the format's, checked by `open`).
    let half = 1i64 << (info.bits_per_sample.clamp(1, 32) - 1);
    let (lo, hi) = (-half, half - 1);
    // A modest first reservation; the vectors grow with what the stream yields.
    let first_guess = end
        .unwrap_or(0)
        .saturating_sub(offset)
        .min(bytes.len() as u64 * 8) as usize;
    for (c, &w) in chans.iter_mut().zip(wanted) {
        if w {
            c.reserve(first_guess);
        }
    }
    let mut blocks = reader.blocks();
    let mut buffer = Vec::new();
    // Inter-channel samples decoded so far.
    let mut pos: u64 = 0;
    loop {
        if end.is_some_and(|e| pos >= e) {
            break;
        }
        let block = match blocks.read_next_or_eof(buffer) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => return Err(decoder_error(path, bytes.len(), pos, e)),
        };
        if block.channels() as usize != k {
            return Err(flac_error(
                path,
                pos,
                format!(
                    "a FLAC frame holds {} channel(s), the stream {k}",
                    block.channels()
                ),
            ));
        }
        let d = u64::from(block.duration());
        // The part of this block inside [offset, end).
        let from = offset.saturating_sub(pos).min(d) as usize;
        let to = end.map_or(d, |e| e.saturating_sub(pos).min(d)) as usize;
        for (c, (out, &w)) in chans.iter_mut().zip(wanted).enumerate() {
            let ch = block.channel(c as u32);
            let part = ch.get(from..to).unwrap_or(&[]);
            if let Some(i) = part
                .iter()
                .position(|&v| i64::from(v) < lo || i64::from(v) > hi)
            {
                return Err(flac_error(
                    path,
                    pos + (from + i) as u64,
                    format!(
                        "channel {c} holds {}, outside the stream's {} bits",
                        part[i], info.bits_per_sample
                    ),
                ));
            }
            if w {
                out.extend_from_slice(part);
            }
        }
        pos += d;
        if end.is_none() && pos > limit {
            return Err(flac_error(
                path,
                pos,
                format!(
                    "the FLAC stream decodes to more than {limit} samples per channel, over \
                     {MAX_SAMPLES_PER_BYTE} per byte of a file of {} bytes",
                    bytes.len()
                ),
            ));
        }
        buffer = block.into_buffer();
    }
    let n = match end {
        Some(e) if pos < e => {
            return Err(WfdbError::Truncated {
                path: path.to_path_buf(),
                offset: bytes.len() as u64,
                message: format!(
                    "the FLAC stream ends after {pos} samples per channel; {} frames of {spf} \
                     sample(s) after offset {offset} need {e}",
                    frames.unwrap_or(0)
                ),
            });
        }
        Some(_) => frames.unwrap_or(0),
        None => pos.saturating_sub(offset) / spf,
    };
    let n = usize::try_from(n).map_err(|_| too_long())?;
    let len = n.checked_mul(spf as usize).ok_or_else(too_long)?;
    for (c, &w) in chans.iter_mut().zip(wanted) {
        if w {
            c.truncate(len);
        }
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::header::Format;

    fn specs(format: Format, k: usize) -> Vec<SignalSpec> {
        (0..k)
            .map(|i| SignalSpec::new("f.dat", format, format!("s{i}")))
            .collect()
    }

    fn fixture(name: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wfdb");
        std::fs::read(dir.join(name)).unwrap()
    }

    #[test]
    fn flac_formats_parse_with_their_invalid_values() {
        for (code, f, invalid) in [
            (508, Format::F508, -128),
            (516, Format::F516, -32768),
            (524, Format::F524, -8_388_608),
        ] {
            assert_eq!(Format::from_code(code), Some(f));
            assert_eq!(f.code(), code);
            assert!(f.is_flac() && Format::FLAC.contains(&f) && !Format::ALL.contains(&f));
            assert_eq!(f.invalid_value(), invalid);
            assert_eq!(f.digital_range().0, invalid);
            assert_eq!(f.bytes_for(1), None);
        }
        let h =
            crate::header::Header::parse(b"r 1 250 10\nr.dat 524+5 200/mV\n", Path::new("r.hea"))
                .unwrap();
        assert_eq!(h.signals[0].format, Format::F524);
        assert_eq!(h.signals[0].byte_offset, 5);
    }

    #[test]
    fn more_than_8_signals_and_zero_samples_per_frame_are_refused() {
        let p = Path::new("f.dat");
        let sigs = specs(Format::F516, 9);
        let all: Vec<usize> = (0..9).collect();
        let e = layout(p, &sigs, &all).unwrap_err().to_string();
        assert!(e.contains("f.dat") && e.contains("at most 8"), "{e}");
        let mut sigs = specs(Format::F516, 2);
        sigs.iter_mut().for_each(|s| s.samples_per_frame = 0);
        let e = layout(p, &sigs, &[0, 1]).unwrap_err().to_string();
        assert!(e.contains("0 samples per frame"), "{e}");
    }

    /// Thousands of damaged copies of a fixture (bytes changed, cut, both): each read is a
    /// result, never a panic, and what is read has the header's length and fits the format.
    #[test]
    fn damaged_streams_never_panic() {
        let good = fixture("flac516.dat");
        let sigs = specs(Format::F516, 3);
        let p = Path::new("f.dat");
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut chans = Vec::new();
        let mut ok = 0;
        for round in 0..3000 {
            let mut b = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            if round % 3 == 0 {
                b.truncate((next() % b.len() as u64) as usize);
            }
            let sig_len = [None, Some(203), Some(100)][round % 3];
            let wanted = [true, round % 2 == 0, true];
            if let Ok(n) = decode(&b, p, &sigs, &[0, 1, 2], &wanted, sig_len, &mut chans) {
                ok += 1;
                for (c, &w) in chans.iter().zip(&wanted) {
                    assert_eq!(c.len(), if w { n } else { 0 });
                    assert!(c.iter().all(|&v| (-32768..=32767).contains(&v)));
                }
            }
            let _ = count_frames(&b, p, &sigs, &[0, 1, 2]);
        }
        // Changes in the metadata's unread parts (the vendor string) read fine.
        assert!(ok > 0);
    }
}
