//! [`Source`]: a lead read a stretch at a time, so that a long record need not be held whole.

use std::cell::RefCell;
use std::ops::Range;

/// Why a [`Source`] could not be read (its message names the input).
pub type ReadError = Box<dyn std::error::Error + Send + Sync>;

/// One lead, read by position: a slice, or a record's signal file read on demand. Missing
/// samples read as NaN.
pub trait Source: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes samples `start..start + out.len()` into `out`.
    fn read(&self, start: usize, out: &mut [f32]) -> Result<(), ReadError>;
}

impl Source for [f32] {
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<(), ReadError> {
        let got = self
            .get(start..start.saturating_add(out.len()))
            .ok_or_else(|| format!("samples {start}.. asked of a signal of {}", self.len()))?;
        out.copy_from_slice(got);
        Ok(())
    }
}

thread_local! {
    /// Per-thread scratch of [`filled`].
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Reads sample `i`.
fn sample<S: Source + ?Sized>(src: &S, i: usize) -> Result<f32, ReadError> {
    let mut v = [0f32];
    src.read(i, &mut v)?;
    Ok(v[0])
}

/// Writes samples `r` of `src` as f64 into `out`, every missing sample replaced as
/// `wonhee_signal::fill_nan_linear` replaces it in the whole signal (the same arithmetic):
/// linearly between the finite samples either side of its run, or the nearest finite one at
/// the ends. `missing` holds the maximal runs of non-finite samples, in order; some sample must
/// be finite.
pub(crate) fn filled<S: Source + ?Sized>(
    src: &S,
    missing: &[Range<usize>],
    r: Range<usize>,
    out: &mut [f64],
) -> Result<(), ReadError> {
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        buf.resize(r.len(), 0.0);
        src.read(r.start, buf)?;
        for (o, &v) in out.iter_mut().zip(buf.iter()) {
            *o = f64::from(v);
        }
        Ok::<(), ReadError>(())
    })?;
    let n = src.len();
    let first = missing.partition_point(|m| m.end <= r.start);
    for m in missing[first..].iter().take_while(|m| m.start < r.end) {
        let before = match m.start.checked_sub(1) {
            Some(p) => Some((p, f64::from(sample(src, p)?))),
            None => None,
        };
        let after = match m.end < n {
            true => Some((m.end, f64::from(sample(src, m.end)?))),
            false => None,
        };
        for k in m.start.max(r.start)..m.end.min(r.end) {
            out[k - r.start] = match (before, after) {
                (Some((p, a)), Some((q, b))) => a + (b - a) * (k - p) as f64 / (q - p) as f64,
                (Some((_, a)), None) => a,
                (None, Some((_, b))) => b,
                (None, None) => 0.0,
            };
        }
    }
    Ok(())
}
