//! Sample codecs: bytes of one signal file <-> per-signal digital samples.
//!
//! A signal file holds frames of `k` interleaved samples (one per signal stored in it). The
//! decoders read `n_frames` frames straight into `k` preallocated channel vectors; no per-sample
//! allocation, no per-frame system call.

use crate::header::Format;

/// Decodes `n_frames` frames of `k` interleaved samples from `bytes`; channel `c` is kept
/// when `wanted[c]` (the others come back empty, never allocated).
///
/// The caller has checked that `bytes` holds at least `format.bytes_for(n_frames * k)` bytes.
#[cfg(test)]
pub(crate) fn decode(
    format: Format,
    bytes: &[u8],
    n_frames: usize,
    wanted: &[bool],
) -> Vec<Vec<i32>> {
    let mut chans = Vec::new();
    decode_into(format, bytes, n_frames, wanted, &mut chans);
    chans
}

/// [`decode`] into `chans`, reusing its vectors' capacity: `chans` ends with `k` vectors,
/// the unwanted ones empty.
pub(crate) fn decode_into(
    format: Format,
    bytes: &[u8],
    n_frames: usize,
    wanted: &[bool],
    chans: &mut Vec<Vec<i32>>,
) {
    let k = wanted.len();
    chans.resize_with(k, Vec::new);
    for (c, &w) in chans.iter_mut().zip(wanted) {
        c.clear();
        if w {
            c.reserve(n_frames);
        }
    }
    if k == 0 || n_frames == 0 {
        return;
    }
    pulp::Arch::new().dispatch(Decode {
        format,
        bytes,
        n_frames,
        wanted,
        chans,
    });
}

/// The decoders as a `pulp` operation: compiled once per instruction set, so the per-sample
/// loops vectorize with the widest registers the CPU has.
struct Decode<'a> {
    format: Format,
    bytes: &'a [u8],
    n_frames: usize,
    wanted: &'a [bool],
    chans: &'a mut [Vec<i32>],
}

impl pulp::WithSimd for Decode<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        decode_any(
            self.format,
            self.bytes,
            self.n_frames,
            self.wanted,
            self.chans,
        );
    }
}

#[inline(always)]
fn decode_any(
    format: Format,
    bytes: &[u8],
    n_frames: usize,
    wanted: &[bool],
    chans: &mut [Vec<i32>],
) {
    let n = n_frames * wanted.len();
    match format {
        Format::F212 => decode_212(bytes, n_frames, wanted, chans),
        Format::F16 => fixed::<2>(bytes, n, wanted, chans, |b| {
            i32::from(i16::from_le_bytes(b))
        }),
        Format::F61 => fixed::<2>(bytes, n, wanted, chans, |b| {
            i32::from(i16::from_be_bytes(b))
        }),
        Format::F160 => fixed::<2>(bytes, n, wanted, chans, |b| {
            i32::from(u16::from_le_bytes(b)) - 32768
        }),
        Format::F80 => fixed::<1>(bytes, n, wanted, chans, |b| i32::from(b[0]) - 128),
        Format::F24 => fixed::<3>(bytes, n, wanted, chans, |b| {
            (i32::from_le_bytes([0, b[0], b[1], b[2]])) >> 8
        }),
        Format::F32 => fixed::<4>(bytes, n, wanted, chans, i32::from_le_bytes),
    }
}

#[inline]
fn sext12(v: u32) -> i32 {
    ((v << 20) as i32) >> 20
}

#[inline(always)]
fn lo12(t: &[u8]) -> i32 {
    sext12(u32::from(t[0]) | ((u32::from(t[1]) & 0x0F) << 8))
}

#[inline(always)]
fn hi12(t: &[u8]) -> i32 {
    sext12(u32::from(t[2]) | ((u32::from(t[1]) & 0xF0) << 4))
}

#[inline(always)]
fn decode_212(bytes: &[u8], n_frames: usize, wanted: &[bool], chans: &mut [Vec<i32>]) {
    let k = wanted.len();
    let n = n_frames * k;
    let pairs = n / 2;
    let body = &bytes[..pairs * 3];
    match (k, wanted) {
        // One of two signals: sized first, then written by index (vectorizes).
        (2, [true, false]) => {
            let c = &mut chans[0];
            c.resize(pairs, 0);
            for (t, a) in body.chunks_exact(3).zip(c.iter_mut()) {
                *a = lo12(t);
            }
        }
        (2, [false, true]) => {
            let c = &mut chans[1];
            c.resize(pairs, 0);
            for (t, a) in body.chunks_exact(3).zip(c.iter_mut()) {
                *a = hi12(t);
            }
        }
        (_, w) if !w.contains(&true) => {}
        (1, _) => {
            let c = &mut chans[0];
            for t in body.chunks_exact(3) {
                let (b0, b1, b2) = (u32::from(t[0]), u32::from(t[1]), u32::from(t[2]));
                c.push(sext12(b0 | ((b1 & 0x0F) << 8)));
                c.push(sext12(b2 | ((b1 & 0xF0) << 4)));
            }
        }
        (2, _) => {
            // Sized first, then written by index: no capacity check per sample, so the loop
            // vectorizes (2-3x faster than pushing).
            let (c0, c1) = chans.split_at_mut(1);
            let (c0, c1) = (&mut c0[0], &mut c1[0]);
            c0.resize(pairs, 0);
            c1.resize(pairs, 0);
            for ((t, a), b) in body.chunks_exact(3).zip(c0.iter_mut()).zip(c1.iter_mut()) {
                *a = lo12(t);
                *b = hi12(t);
            }
        }
        _ => {
            let mut ch = 0;
            for t in body.chunks_exact(3) {
                if wanted[ch] {
                    chans[ch].push(lo12(t));
                }
                ch += 1;
                if ch == k {
                    ch = 0;
                }
                if wanted[ch] {
                    chans[ch].push(hi12(t));
                }
                ch += 1;
                if ch == k {
                    ch = 0;
                }
            }
        }
    }
    if n % 2 == 1 && wanted[k - 1] {
        chans[k - 1].push(lo12(&bytes[pairs * 3..pairs * 3 + 2]));
    }
}

#[inline(always)]
fn fixed<const W: usize>(
    bytes: &[u8],
    n: usize,
    wanted: &[bool],
    chans: &mut [Vec<i32>],
    f: impl Fn([u8; W]) -> i32,
) {
    let k = wanted.len();
    let body = &bytes[..n * W];
    if k == 1 {
        if !wanted[0] {
            return;
        }
        chans[0].extend(body.chunks_exact(W).map(|c| {
            let mut a = [0u8; W];
            a.copy_from_slice(c);
            f(a)
        }));
        return;
    }
    for frame in body.chunks_exact(W * k) {
        for (ch, c) in frame
            .chunks_exact(W)
            .enumerate()
            .filter(|(ch, _)| wanted[*ch])
        {
            let mut a = [0u8; W];
            a.copy_from_slice(c);
            chans[ch].push(f(a));
        }
    }
}

/// Encodes interleaved frames of the given channels (all the same length) into `out`.
///
/// Values must already be inside the format's digital range (the writer checks).
pub(crate) fn encode(format: Format, chans: &[&[i32]], out: &mut Vec<u8>) {
    let n_frames = chans.first().map_or(0, |c| c.len());
    let flat = (0..n_frames).flat_map(|i| chans.iter().map(move |c| c[i]));
    match format {
        Format::F212 => {
            let mut pending: Option<i32> = None;
            for v in flat {
                match pending.take() {
                    None => pending = Some(v),
                    Some(a) => {
                        let (a, b) = ((a as u32) & 0xFFF, (v as u32) & 0xFFF);
                        out.push((a & 0xFF) as u8);
                        out.push((((a >> 8) & 0x0F) | ((b >> 4) & 0xF0)) as u8);
                        out.push((b & 0xFF) as u8);
                    }
                }
            }
            if let Some(a) = pending {
                let a = (a as u32) & 0xFFF;
                out.push((a & 0xFF) as u8);
                out.push(((a >> 8) & 0x0F) as u8);
            }
        }
        Format::F16 => flat.for_each(|v| out.extend_from_slice(&(v as i16).to_le_bytes())),
        Format::F61 => flat.for_each(|v| out.extend_from_slice(&(v as i16).to_be_bytes())),
        Format::F160 => {
            flat.for_each(|v| out.extend_from_slice(&((v + 32768) as u16).to_le_bytes()))
        }
        Format::F80 => flat.for_each(|v| out.push((v + 128) as u8)),
        Format::F24 => flat.for_each(|v| out.extend_from_slice(&v.to_le_bytes()[..3])),
        Format::F32 => flat.for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Format; 7] = [
        Format::F16,
        Format::F24,
        Format::F32,
        Format::F61,
        Format::F80,
        Format::F160,
        Format::F212,
    ];

    #[test]
    fn known_212_bytes() {
        // Samples 0x123 and -1 (0xFFF): bytes 0x23, 0xF1, 0xFF.
        let ch = decode(Format::F212, &[0x23, 0xF1, 0xFF], 2, &[true]);
        assert_eq!(ch[0], vec![0x123, -1]);
        let mut out = Vec::new();
        encode(Format::F212, &[&[0x123], &[-1]], &mut out);
        assert_eq!(out, vec![0x23, 0xF1, 0xFF]);
    }

    #[test]
    fn round_trip_every_format_and_layout() {
        for f in ALL {
            let (lo, hi) = f.digital_range();
            for k in 1..=3usize {
                for n_frames in 0..6usize {
                    let chans: Vec<Vec<i32>> = (0..k)
                        .map(|c| {
                            (0..n_frames)
                                .map(|i| match (i + c) % 3 {
                                    0 => lo,
                                    1 => hi,
                                    _ => (i as i32 * 37 - 50).clamp(lo, hi),
                                })
                                .collect()
                        })
                        .collect();
                    let refs: Vec<&[i32]> = chans.iter().map(Vec::as_slice).collect();
                    let mut bytes = Vec::new();
                    encode(f, &refs, &mut bytes);
                    assert_eq!(
                        bytes.len() as u64,
                        f.bytes_for((n_frames * k) as u64).unwrap(),
                        "{f:?}"
                    );
                    assert_eq!(
                        decode(f, &bytes, n_frames, &vec![true; k]),
                        chans,
                        "{f:?} k={k} n={n_frames}"
                    );
                    // Any subset of channels decodes to the same values.
                    for mask in 0..(1u32 << k) {
                        let wanted: Vec<bool> = (0..k).map(|c| mask & (1 << c) != 0).collect();
                        let got = decode(f, &bytes, n_frames, &wanted);
                        for c in 0..k {
                            let expect = if wanted[c] {
                                chans[c].clone()
                            } else {
                                Vec::new()
                            };
                            assert_eq!(got[c], expect, "{f:?} k={k} mask={mask}");
                        }
                    }
                }
            }
        }
    }
}
