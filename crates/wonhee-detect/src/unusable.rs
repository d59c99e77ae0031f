//! Where no beat can be detected: missing samples and flat dropouts.

use std::ops::Range;

use rayon::prelude::*;

use crate::source::{ReadError, Source};

/// Why a stretch of signal is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Missing samples (NaN or infinite).
    Missing,
    /// A flat line (a lead off, a dropout): the same value for at least [`FLAT_SECONDS`].
    Flat,
}

/// A flat stretch this long (seconds) or longer counts as a dropout.
pub const FLAT_SECONDS: f64 = 1.0;

/// The stretches of `x` (at `fs` Hz) where no beat can be detected, as half-open sample ranges
/// in order: runs of missing samples, and runs of one value lasting [`FLAT_SECONDS`] or more.
pub fn unusable_stretches(x: &[f32], fs: f64) -> Vec<(Range<usize>, Unusable)> {
    // The stretches are the maximal runs of non-finite samples, and the maximal runs of one
    // finite value at least `min_flat` long. Such a run covers two samples `h` apart at
    // multiples of `h`, so only where those are equal is the signal looked at closely.
    let min_flat = ((FLAT_SECONDS * fs).ceil() as usize).max(2);
    let h = (min_flat / 2).max(1);
    let n = x.len();
    let mut out = Vec::new();
    // Missing runs, looked for only in blocks that hold a non-finite sample.
    const BLOCK: usize = 4096;
    let mut i = 0;
    for (k, c) in x.chunks(BLOCK).enumerate() {
        // Non-finite: all exponent bits set. An OR over the block, without early exit,
        // vectorizes.
        const EXP: u32 = 0x7f80_0000;
        if c.iter()
            .fold(0, |a, v| a | u32::from(v.to_bits() & EXP == EXP))
            == 0
        {
            continue;
        }
        i = i.max(k * BLOCK);
        while i < k * BLOCK + c.len() {
            if x[i].is_finite() {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && !x[i].is_finite() {
                i += 1;
            }
            out.push((start..i, Unusable::Missing));
        }
    }
    // Flat runs: one covers two equal samples at consecutive multiples of `h`.
    let mut flat_end = 0;
    let mut p = 0;
    while p + h < n {
        let v = x[p];
        if p >= flat_end && v.is_finite() && v == x[p + h] {
            let mut a = p;
            while a > 0 && x[a - 1] == v {
                a -= 1;
            }
            let mut e = p + 1;
            while e < n && x[e] == v {
                e += 1;
            }
            if e > p + h && e - a >= min_flat {
                out.push((a..e, Unusable::Flat));
                flat_end = e;
            }
        }
        p += h;
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

/// The reference [`unusable_stretches`]: one sample at a time.
#[cfg(test)]
pub(crate) fn unusable_stretches_serial(x: &[f32], fs: f64) -> Vec<(Range<usize>, Unusable)> {
    let min_flat = (FLAT_SECONDS * fs).ceil() as usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        let start = i;
        if !x[i].is_finite() {
            while i < x.len() && !x[i].is_finite() {
                i += 1;
            }
            out.push((start..i, Unusable::Missing));
            continue;
        }
        while i < x.len() && x[i] == x[start] {
            i += 1;
        }
        if i - start >= min_flat.max(2) {
            out.push((start..i, Unusable::Flat));
        }
    }
    out
}

/// Samples scanned at a time by [`unusable_stretches_in`].
const BLOCK: usize = 1 << 16;

/// What one block of a [`Source`] tells about the stretches.
struct BlockScan {
    start: usize,
    end: usize,
    /// The maximal runs of one class at the block's start and end (lengths).
    head: (usize, Class),
    tail: (usize, Class),
    /// The stretches wholly inside the block, touching neither edge.
    inner: Vec<(Range<usize>, Unusable)>,
}

/// A sample's class: missing, or its value (runs of one value are flat).
#[derive(Clone, Copy, Debug)]
enum Class {
    Missing,
    Value(f32),
}

impl Class {
    fn of(v: f32) -> Self {
        if v.is_finite() {
            Self::Value(v)
        } else {
            Self::Missing
        }
    }

    fn same(self, other: Self) -> bool {
        match (self, other) {
            (Self::Missing, Self::Missing) => true,
            (Self::Value(a), Self::Value(b)) => a == b,
            _ => false,
        }
    }
}

/// [`unusable_stretches`] of a signal read a block at a time (in parallel): the same stretches,
/// without a copy of the whole signal.
pub fn unusable_stretches_in<S: Source + ?Sized>(
    src: &S,
    fs: f64,
) -> Result<Vec<(Range<usize>, Unusable)>, ReadError> {
    scan_blocks(src, fs, BLOCK)
}

fn scan_blocks<S: Source + ?Sized>(
    src: &S,
    fs: f64,
    block: usize,
) -> Result<Vec<(Range<usize>, Unusable)>, ReadError> {
    let n = src.len();
    let block = block.max(1);
    let scans: Vec<BlockScan> = (0..n.div_ceil(block))
        .into_par_iter()
        .map(|k| {
            let (start, end) = (k * block, ((k + 1) * block).min(n));
            let mut x = vec![0f32; end - start];
            src.read(start, &mut x)?;
            let run = |it: &mut dyn Iterator<Item = &f32>, c: Class| {
                it.take_while(|&&v| c.same(Class::of(v))).count()
            };
            let (hc, tc) = (Class::of(x[0]), Class::of(x[x.len() - 1]));
            let head = (run(&mut x.iter(), hc), hc);
            let tail = (run(&mut x.iter().rev(), tc), tc);
            let inner = unusable_stretches(&x, fs)
                .into_iter()
                .filter(|(r, _)| r.start > 0 && r.end < x.len())
                .map(|(r, why)| (r.start + start..r.end + start, why))
                .collect();
            Ok(BlockScan {
                start,
                end,
                head,
                tail,
                inner,
            })
        })
        .collect::<Result<_, ReadError>>()?;
    let min_flat = ((FLAT_SECONDS * fs).ceil() as usize).max(2);
    let mut out = Vec::new();
    let emit = |out: &mut Vec<(Range<usize>, Unusable)>, r: Range<usize>, c: Class| match c {
        Class::Missing => out.push((r, Unusable::Missing)),
        Class::Value(_) if r.len() >= min_flat => out.push((r, Unusable::Flat)),
        Class::Value(_) => {}
    };
    // A run that reaches the end of the blocks seen so far: its start and class.
    let mut open: Option<(usize, Class)> = None;
    for b in scans {
        let (hl, hc) = b.head;
        let whole = hl == b.end - b.start;
        match open {
            Some((s, c)) if c.same(hc) => {
                if whole {
                    continue;
                }
                emit(&mut out, s..b.start + hl, c);
            }
            _ => {
                if let Some((s, c)) = open {
                    emit(&mut out, s..b.start, c);
                }
                if whole {
                    open = Some((b.start, hc));
                    continue;
                }
                emit(&mut out, b.start..b.start + hl, hc);
            }
        }
        out.extend(b.inner);
        let (tl, tc) = b.tail;
        open = Some((b.end - tl, tc));
    }
    if let Some((s, c)) = open {
        emit(&mut out, s..n, c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read block by block, with blocks of any size, the stretches are those of the whole
    /// slice (and of the one-sample-at-a-time reference).
    #[test]
    fn blocks_find_the_stretches_of_the_whole_signal() {
        let mut seed = 11u64;
        let mut rnd = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for fs in [100.0, 360.0, 0.5, 3.0] {
            for _ in 0..40 {
                let mut x: Vec<f32> = Vec::new();
                let total = rnd(5000) as usize + 1;
                while x.len() < total {
                    let len = rnd(300) as usize + 1;
                    let v = match rnd(6) {
                        0 => f32::NAN,
                        1 => f32::NEG_INFINITY,
                        2 => 0.0,
                        3 => -0.0,
                        _ => rnd(4) as f32,
                    };
                    if rnd(2) == 0 {
                        x.extend((0..len).map(|_| v));
                    } else {
                        x.extend((0..len).map(|_| rnd(3) as f32));
                    }
                }
                let want = unusable_stretches_serial(&x, fs);
                assert_eq!(unusable_stretches(&x, fs), want);
                for block in [1, 2, 7, 64, 99, 1000, BLOCK] {
                    let got = scan_blocks(x.as_slice(), fs, block);
                    assert_eq!(got.ok(), Some(want.clone()), "fs {fs}, block {block}");
                }
            }
        }
    }
}
