//! Sample codecs: bytes of one signal file <-> per-signal digital samples.
//!
//! A signal file holds frames of `k` interleaved samples (one per signal stored in it). The
//! decoders read `n_frames` frames straight into `k` preallocated channel vectors; no per-sample
//! allocation, no per-frame system call.
//!
//! Format 8 decodes to its stored differences; [`undiff`] turns them into samples.

use std::slice::ChunksExact;

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
        Format::F8 => fixed::<1>(bytes, n, wanted, chans, |b| i32::from(b[0] as i8)),
        Format::F310 => triples(bytes, n, wanted, chans, unpack_310, unpack_310x2),
        Format::F311 => triples(bytes, n, wanted, chans, unpack_311, unpack_311x2),
        Format::F24 => decode_24(bytes, n, wanted, chans),
        Format::F32 => fixed::<4>(bytes, n, wanted, chans, i32::from_le_bytes),
        // Compressed: decoded whole by `crate::flac`, never by position (callers route these
        // formats there); nothing is decoded here.
        Format::F508 | Format::F516 | Format::F524 => {}
    }
}

/// Turns decoded format-8 differences of the wanted channels into samples: a running sum
/// (wrapping, as wfdb-python's `int32` sum does) from each signal's initial value `init[c]`.
pub(crate) fn undiff(chans: &mut [Vec<i32>], wanted: &[bool], init: &[i32]) {
    for ((c, &w), &start) in chans.iter_mut().zip(wanted).zip(init) {
        if w {
            let mut acc = start;
            for v in c.iter_mut() {
                acc = acc.wrapping_add(*v);
                *v = acc;
            }
        }
    }
}

#[inline]
fn sext10(v: u32) -> i32 {
    ((v << 22) as i32) >> 22
}

/// The three samples of one 4-byte group of format 310 (missing trailing bytes read as 0).
#[inline(always)]
fn unpack_310(b: [u8; 4]) -> [i32; 3] {
    let w0 = u32::from(u16::from_le_bytes([b[0], b[1]]));
    let w1 = u32::from(u16::from_le_bytes([b[2], b[3]]));
    [
        sext10(w0 >> 1),
        sext10(w1 >> 1),
        sext10((w0 >> 11) | ((w1 >> 11) << 5)),
    ]
}

/// The six samples of two 4-byte groups of format 310, read as one little-endian word `q`
/// (what [`unpack_310`] gives for each group, cut from the word with shifts: fewer operations
/// than two 16-bit loads per group).
#[inline(always)]
fn unpack_310x2(q: u64) -> [i32; 6] {
    let s = |v: u64| sext10(v as u32);
    let last = |v: u64| s(((v >> 11) & 0x1F) | (((v >> 27) & 0x1F) << 5));
    [
        s(q >> 1),
        s(q >> 17),
        last(q),
        s(q >> 33),
        s(q >> 49),
        last(q >> 32),
    ]
}

/// The six samples of two 4-byte groups of format 311, read as one little-endian word `q`.
#[inline(always)]
fn unpack_311x2(q: u64) -> [i32; 6] {
    let s = |v: u64| sext10(v as u32);
    [
        s(q),
        s(q >> 10),
        s(q >> 20),
        s(q >> 32),
        s(q >> 42),
        s(q >> 52),
    ]
}

/// The three samples of one 4-byte group of format 311 (bits 30 and 31 are unused).
#[inline(always)]
fn unpack_311(b: [u8; 4]) -> [i32; 3] {
    let w = u32::from_le_bytes(b);
    [sext10(w), sext10(w >> 10), sext10(w >> 20)]
}

/// Decodes `n` samples stored three to a 4-byte group (formats 310 and 311); a trailing
/// partial group may be cut short (its missing bytes read as 0). `unpack2` decodes two groups
/// at once from their 8 bytes as a little-endian word (as `unpack` does each).
#[inline(always)]
fn triples(
    bytes: &[u8],
    n: usize,
    wanted: &[bool],
    chans: &mut [Vec<i32>],
    unpack: impl Fn([u8; 4]) -> [i32; 3],
    unpack2: impl Fn(u64) -> [i32; 6],
) {
    let k = wanted.len();
    if !wanted.contains(&true) {
        return;
    }
    let groups = n / 3;
    let body = &bytes[..groups * 4];
    if let ([true, true], [c0, c1]) = (wanted, &mut *chans) {
        // Two signals, both wanted: two groups hold three whole frames (no capacity check or
        // channel test per sample).
        let pairs = groups / 2;
        append2(c0, c1, body.chunks_exact(8), |g| {
            let mut w = [0u8; 8];
            w.copy_from_slice(g);
            let u = unpack2(u64::from_le_bytes(w));
            ([u[0], u[2], u[4]], [u[1], u[3], u[5]])
        });
        // The last samples (at most a group and a partial one; missing bytes read as 0).
        let mut i = pairs * 6;
        let tail = bytes.get(pairs * 8..).unwrap_or(&[]);
        for g in tail.chunks(4) {
            if i >= n {
                break;
            }
            let mut last = [0u8; 4];
            for (d, s) in last.iter_mut().zip(g) {
                *d = *s;
            }
            for v in unpack(last) {
                if i < n {
                    let c = if i.is_multiple_of(2) {
                        &mut *c0
                    } else {
                        &mut *c1
                    };
                    c.push(v);
                    i += 1;
                }
            }
        }
        return;
    }
    if k == 1 {
        let c = &mut chans[0];
        for g in body.chunks_exact(4) {
            c.extend_from_slice(&unpack([g[0], g[1], g[2], g[3]]));
        }
    } else {
        let mut ch = 0;
        for g in body.chunks_exact(4) {
            for v in unpack([g[0], g[1], g[2], g[3]]) {
                if wanted[ch] {
                    chans[ch].push(v);
                }
                ch += 1;
                if ch == k {
                    ch = 0;
                }
            }
        }
    }
    let rest = n % 3;
    if rest > 0 {
        let mut last = [0u8; 4];
        let tail = bytes.get(groups * 4..).unwrap_or(&[]);
        for (d, s) in last.iter_mut().zip(tail) {
            *d = *s;
        }
        let vals = unpack(last);
        // The trailing samples belong to the last `rest` channels of the last frame.
        for (i, &v) in vals[..rest].iter().enumerate() {
            let ch = (groups * 3 + i) % k;
            if wanted[ch] {
                chans[ch].push(v);
            }
        }
    }
}

/// One format-24 sample: three little-endian bytes, two's complement.
#[inline(always)]
fn sample_24(b: [u8; 3]) -> i32 {
    i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8
}

/// The low 24 bits of `v`, sign-extended.
#[inline(always)]
fn sext24(v: u64) -> i32 {
    ((v as u32) << 8) as i32 >> 8
}

/// Eight format-24 samples from 24 bytes, read as three little-endian words and cut apart
/// with shifts (three-byte loads one sample at a time are what made format 24 slow).
#[inline(always)]
fn unpack_24x8(b: &[u8]) -> [i32; 8] {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let (w0, w1, w2) = (word(0), word(8), word(16));
    [
        sext24(w0),
        sext24(w0 >> 24),
        sext24((w0 >> 48) | (w1 << 16)),
        sext24(w1 >> 8),
        sext24(w1 >> 32),
        sext24((w1 >> 56) | (w2 << 8)),
        sext24(w2 >> 16),
        sext24(w2 >> 40),
    ]
}

/// Decodes `n` format-24 samples: eight at a time for one signal, or for two signals both
/// wanted (four frames); any other layout by [`fixed`].
#[inline(always)]
fn decode_24(bytes: &[u8], n: usize, wanted: &[bool], chans: &mut [Vec<i32>]) {
    let body = &bytes[..n * 3];
    fn tail(t: &[u8]) -> impl Iterator<Item = i32> + '_ {
        t.chunks_exact(3).map(|c| sample_24([c[0], c[1], c[2]]))
    }
    match (wanted, &mut *chans) {
        ([true], [c]) => {
            let blocks = body.chunks_exact(24);
            let rest = blocks.remainder();
            for blk in blocks {
                c.extend_from_slice(&unpack_24x8(blk));
            }
            c.extend(tail(rest));
        }
        ([true, true], [c0, c1]) => {
            let blocks = body.chunks_exact(24);
            let rest = blocks.remainder();
            append2(c0, c1, blocks, |blk| {
                let s = unpack_24x8(blk);
                ([s[0], s[2], s[4], s[6]], [s[1], s[3], s[5], s[7]])
            });
            for (j, v) in tail(rest).enumerate() {
                let c = if j % 2 == 0 { &mut *c0 } else { &mut *c1 };
                c.push(v);
            }
        }
        _ => fixed::<3>(bytes, n, wanted, chans, sample_24),
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
        // One of two signals.
        (2, [true, false]) => append1(&mut chans[0], body.chunks_exact(3), lo12),
        (2, [false, true]) => append1(&mut chans[1], body.chunks_exact(3), hi12),
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
            // No capacity check per sample, so the loop vectorizes (2-3x faster than pushing).
            let (c0, c1) = chans.split_at_mut(1);
            append2(&mut c0[0], &mut c1[0], body.chunks_exact(3), |t| {
                ([lo12(t)], [hi12(t)])
            });
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
    // One signal has a stride known at compile time, and this loop vectorizes; the strided
    // pass below, whose stride `W * k` is known only at run time, does not (a one-signal
    // format-16 record of 1.3 M samples: 258 µs here, 614 µs through that pass).
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
    let n_frames = n / k;
    let read = |frame: &[u8], at: usize| {
        let mut x = [0u8; W];
        x.copy_from_slice(&frame[at..at + W]);
        f(x)
    };
    if let ([true, true], [c0, c1]) = (wanted, &mut *chans) {
        append2(c0, c1, body.chunks_exact(2 * W), |fr| {
            ([read(fr, 0)], [read(fr, W)])
        });
        return;
    }
    // Any other selection: one strided pass per wanted signal.
    for ((ch, c), _) in chans
        .iter_mut()
        .enumerate()
        .zip(wanted)
        .filter(|(_, w)| **w)
    {
        let at = ch * W;
        append1(c, body[..n_frames * W * k].chunks_exact(W * k), |fr| {
            read(fr, at)
        });
    }
}

/// Appends `L` samples per block of `blocks` to each of `c0` and `c1` (`split` decodes a
/// block into both), each sample written once into reserved space: no zero-fill first and no
/// capacity check per sample, so the loop vectorizes. (Sizing with `resize` and then writing
/// by index costs a whole extra pass over the output, a quarter of reading a format-16
/// record.)
///
/// Panics if either vector has not reserved room for every sample.
#[allow(unsafe_code)]
#[inline(always)]
fn append2<const L: usize>(
    c0: &mut Vec<i32>,
    c1: &mut Vec<i32>,
    blocks: ChunksExact<'_, u8>,
    split: impl Fn(&[u8]) -> ([i32; L], [i32; L]),
) {
    let m = blocks.len() * L;
    let (l0, l1) = (c0.len(), c1.len());
    let (s0, _) = c0.spare_capacity_mut()[..m].as_chunks_mut::<L>();
    let (s1, _) = c1.spare_capacity_mut()[..m].as_chunks_mut::<L>();
    for ((blk, a), b) in blocks.zip(s0.iter_mut()).zip(s1.iter_mut()) {
        let (x, y) = split(blk);
        for (d, v) in a.iter_mut().zip(x) {
            d.write(v);
        }
        for (d, v) in b.iter_mut().zip(y) {
            d.write(v);
        }
    }
    // SAFETY: `s0` and `s1` are exactly `m` slots long (the slicing above panics otherwise),
    // cut into `m / L` whole chunks, as many as `blocks` has items; the loop visits every
    // chunk and writes each of its `L` slots. So the first `m` spare slots of both vectors
    // are initialized.
    unsafe {
        c0.set_len(l0 + m);
        c1.set_len(l1 + m);
    }
}

/// [`append2`] for one vector, one sample per block.
#[allow(unsafe_code)]
#[inline(always)]
fn append1(c: &mut Vec<i32>, blocks: ChunksExact<'_, u8>, read: impl Fn(&[u8]) -> i32) {
    let m = blocks.len();
    let l = c.len();
    let s = &mut c.spare_capacity_mut()[..m];
    for (blk, d) in blocks.zip(s.iter_mut()) {
        d.write(read(blk));
    }
    // SAFETY: `s` is exactly `m` slots long, as many as `blocks` has items, and the loop
    // writes each.
    unsafe { c.set_len(l + m) };
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
        Format::F8 => {
            // Differences from the previous sample, the first from itself (the writer's
            // initial value is the first sample).
            let mut prev: Vec<i32> = chans
                .iter()
                .map(|c| c.first().copied().unwrap_or(0))
                .collect();
            for i in 0..n_frames {
                for (c, p) in chans.iter().zip(prev.iter_mut()) {
                    out.push(c[i].wrapping_sub(*p) as i8 as u8);
                    *p = c[i];
                }
            }
        }
        Format::F310 | Format::F311 => {
            let samples: Vec<i32> = flat.collect();
            for g in samples.chunks(3) {
                let v = |i: usize| g.get(i).map_or(0, |&s| (s as u32) & 0x3FF);
                let (a, b, c) = (v(0), v(1), v(2));
                if format == Format::F310 {
                    let w0 = (a << 1) | ((c & 0x1F) << 11);
                    let w1 = (b << 1) | ((c >> 5) << 11);
                    out.extend_from_slice(&(w0 as u16).to_le_bytes());
                    if g.len() > 1 {
                        out.extend_from_slice(&(w1 as u16).to_le_bytes());
                    }
                } else {
                    let w = a | (b << 10) | (c << 20);
                    // A trailing single sample takes 2 bytes; a trailing pair is padded to a
                    // whole word, as wfdb-python and the WFDB library write it.
                    let len = if g.len() == 1 { 2 } else { 4 };
                    out.extend_from_slice(&w.to_le_bytes()[..len]);
                }
            }
        }
        Format::F24 => flat.for_each(|v| out.extend_from_slice(&v.to_le_bytes()[..3])),
        Format::F32 => flat.for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        // Not written (`write_record` refuses them before encoding).
        Format::F508 | Format::F516 | Format::F524 => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Format; 10] = Format::ALL;

    #[test]
    fn known_212_bytes() {
        // Samples 0x123 and -1 (0xFFF): bytes 0x23, 0xF1, 0xFF.
        let ch = decode(Format::F212, &[0x23, 0xF1, 0xFF], 2, &[true]);
        assert_eq!(ch[0], vec![0x123, -1]);
        let mut out = Vec::new();
        encode(Format::F212, &[&[0x123], &[-1]], &mut out);
        assert_eq!(out, vec![0x23, 0xF1, 0xFF]);
    }

    /// Format 8 decodes to differences; the samples are their running sum.
    fn decode_samples(
        f: Format,
        bytes: &[u8],
        n: usize,
        wanted: &[bool],
        init: &[i32],
    ) -> Vec<Vec<i32>> {
        let mut ch = decode(f, bytes, n, wanted);
        if f == Format::F8 {
            undiff(&mut ch, wanted, init);
        }
        ch
    }

    #[test]
    fn two_groups_at_once_match_one_at_a_time() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let b = s.to_le_bytes();
            let (g0, g1) = ([b[0], b[1], b[2], b[3]], [b[4], b[5], b[6], b[7]]);
            let (x, y) = (unpack_310(g0), unpack_310(g1));
            assert_eq!(
                unpack_310x2(s),
                [x[0], x[1], x[2], y[0], y[1], y[2]],
                "{s:#x}"
            );
            let (x, y) = (unpack_311(g0), unpack_311(g1));
            assert_eq!(
                unpack_311x2(s),
                [x[0], x[1], x[2], y[0], y[1], y[2]],
                "{s:#x}"
            );
        }
    }

    #[test]
    fn known_310_bytes() {
        // Words 0x2A03 and 0xFFFE: samples bits 1-10 of each, (0x203 >> 1) = 0x101 = 257 and
        // 0x3FF = -1; the third is bits 11-15 of the first word (0b00101 = 5) below bits
        // 11-15 of the second (0b11111): 0x3E5 = -27.
        let bytes = [0x03, 0x2A, 0xFE, 0xFF];
        assert_eq!(decode(Format::F310, &bytes, 3, &[true])[0], [257, -1, -27]);
        let mut out = Vec::new();
        encode(Format::F310, &[&[257, -1, -27]], &mut out);
        // Bit 0 of each word is unused: it comes back 0.
        assert_eq!(out, [0x02, 0x2A, 0xFE, 0xFF]);
        // A trailing single sample is one word: 0x0400 >> 1 = 0x200 = -512.
        assert_eq!(decode(Format::F310, &[0x00, 0x04], 1, &[true])[0], [-512]);
        // Two signals, 5 samples: frames (257, -1), (-27, 1), (511, _).
        let bytes = [0x03, 0x2A, 0xFE, 0xFF, 0x02, 0x00, 0xFE, 0x03];
        let ch = decode(Format::F310, &bytes, 2, &[true, true]);
        assert_eq!(ch, [vec![257, -27], vec![-1, 1]]);
        let ch = decode(Format::F310, &bytes[..6], 2, &[false, true]);
        assert_eq!(ch[1], [-1, 1]);
    }

    #[test]
    fn known_311_bytes() {
        // Word 0x2FF8_0201: bits 0-9 0x201 = -511, bits 10-19 0x200 = -512, bits 20-29
        // 0x2FF = -257.
        let bytes = [0x01, 0x02, 0xF8, 0x2F];
        assert_eq!(
            decode(Format::F311, &bytes, 3, &[true])[0],
            [-511, -512, -257]
        );
        let mut out = Vec::new();
        encode(Format::F311, &[&[-511, -512, -257]], &mut out);
        assert_eq!(out, bytes);
        // A trailing pair needs 3 bytes to read (0x1FF = 511, then 0x001 = 1) and is
        // written as a whole word.
        assert_eq!(
            decode(Format::F311, &[0xFF, 0x05, 0x00], 2, &[true])[0],
            [511, 1]
        );
        let mut out = Vec::new();
        encode(Format::F311, &[&[511, 1]], &mut out);
        assert_eq!(out, [0xFF, 0x05, 0x00, 0x00]);
    }

    #[test]
    fn known_8_bytes() {
        // Two signals with initial values 100 and -5; differences (+1, -128), (+127, 2).
        let bytes = [0x01, 0x80, 0x7F, 0x02];
        let ch = decode_samples(Format::F8, &bytes, 2, &[true, true], &[100, -5]);
        assert_eq!(ch, [vec![101, 228], vec![-133, -131]]);
        // The writer starts from the first sample: its difference is 0.
        let mut out = Vec::new();
        encode(Format::F8, &[&[101, 228], &[-133, -131]], &mut out);
        assert_eq!(out, [0x00, 0x00, 0x7F, 0x02]);
    }

    #[test]
    fn round_trip_every_format_and_layout() {
        for f in ALL {
            let (lo, hi) = f.digital_range();
            for k in 1..=3usize {
                // Past 8 frames: format 24 decodes eight samples at a time.
                for n_frames in 0..20usize {
                    let chans: Vec<Vec<i32>> = (0..k)
                        .map(|c| {
                            (0..n_frames)
                                .map(|i| match ((i + c) % 3, f) {
                                    // Steps of 53 or -74 from each signal's own start.
                                    (_, Format::F8) => {
                                        (i as i32 * 53) % 127 + c as i32 * 1000 - 1000
                                    }
                                    (0, _) => lo,
                                    (1, _) => hi,
                                    _ => (i as i32 * 37 - 50).clamp(lo, hi),
                                })
                                .collect()
                        })
                        .collect();
                    let init: Vec<i32> = chans
                        .iter()
                        .map(|c| c.first().copied().unwrap_or(0))
                        .collect();
                    let refs: Vec<&[i32]> = chans.iter().map(Vec::as_slice).collect();
                    let mut bytes = Vec::new();
                    encode(f, &refs, &mut bytes);
                    // 311 pads a trailing pair to a whole word; reading needs 3 of its bytes.
                    let pad = u64::from(f == Format::F311 && (n_frames * k) % 3 == 2);
                    assert_eq!(
                        bytes.len() as u64,
                        f.bytes_for((n_frames * k) as u64).unwrap() + pad,
                        "{f:?}"
                    );
                    assert_eq!(
                        decode_samples(f, &bytes, n_frames, &vec![true; k], &init),
                        chans,
                        "{f:?} k={k} n={n_frames}"
                    );
                    // Any subset of channels decodes to the same values.
                    for mask in 0..(1u32 << k) {
                        let wanted: Vec<bool> = (0..k).map(|c| mask & (1 << c) != 0).collect();
                        let got = decode_samples(f, &bytes, n_frames, &wanted, &init);
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
