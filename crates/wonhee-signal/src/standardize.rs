//! Z-scoring of one signal, and a scaler fitted on training data only.

use serde::{Deserialize, Serialize};

use crate::SignalError;

/// Mean and (population) standard deviation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean of the fitted values.
    pub mean: f64,
    /// Standard deviation of the fitted values (divides by n, as numpy's default).
    pub std: f64,
}

impl Scaler {
    /// Fits on finite values (NaN and infinities are ignored). Errors on no finite values
    /// or a zero standard deviation (a flat signal cannot be standardized).
    pub fn fit(values: &[f64]) -> Result<Self, SignalError> {
        let mut acc = Accumulator::default();
        acc.extend(values.iter().copied());
        acc.finish()
    }

    /// Applies `(x - mean) / std` in place.
    pub fn apply(&self, values: &mut [f64]) {
        let (m, s) = (self.mean, self.std);
        values.iter_mut().for_each(|v| *v = (*v - m) / s);
    }

    /// Applies `(x - mean) / std` to one value.
    pub fn transform(&self, v: f64) -> f64 {
        (v - self.mean) / self.std
    }
}

/// Streaming mean/std over many slices (e.g. all training windows), compensated summation.
#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Accumulator {
    /// Adds finite values (Welford's update; NaN and infinities are skipped).
    pub fn extend(&mut self, values: impl IntoIterator<Item = f64>) {
        for v in values {
            if v.is_finite() {
                self.n += 1;
                let d = v - self.mean;
                self.mean += d / self.n as f64;
                self.m2 += d * (v - self.mean);
            }
        }
    }

    /// Merges another accumulator (Chan et al.'s parallel update).
    pub fn merge(&mut self, other: &Accumulator) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = other.clone();
            return;
        }
        let n = self.n + other.n;
        let d = other.mean - self.mean;
        self.mean += d * other.n as f64 / n as f64;
        self.m2 += other.m2 + d * d * (self.n as f64 * other.n as f64 / n as f64);
        self.n = n;
    }

    /// Number of values seen.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The fitted scaler.
    pub fn finish(&self) -> Result<Scaler, SignalError> {
        if self.n == 0 {
            return Err(SignalError::InvalidInput(
                "no finite values to standardize".into(),
            ));
        }
        let std = (self.m2 / self.n as f64).sqrt();
        if !(std > 0.0 && std.is_finite()) {
            return Err(SignalError::InvalidInput(
                "values have zero spread (flat signal)".into(),
            ));
        }
        Ok(Scaler {
            mean: self.mean,
            std,
        })
    }
}

/// Sum with 8 independent accumulators (vectorisable; fixed order).
fn sum8(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut it = values.chunks_exact(8);
    for c in &mut it {
        for i in 0..8 {
            acc[i] += f(c[i]);
        }
    }
    let tail: f64 = it.remainder().iter().map(|&v| f(v)).sum();
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + tail
}

/// Per-signal z-score in place (population std); returns the statistics used.
///
/// Two passes (mean, then squared deviations) when every value is finite; otherwise the
/// non-finite values are ignored by the statistics and left as they are.
pub fn zscore(values: &mut [f64]) -> Result<Scaler, SignalError> {
    let n = values.len() as f64;
    let sum = sum8(values, |v| v);
    let s = if sum.is_finite() && !values.is_empty() {
        let mean = sum / n;
        let var = sum8(values, |v| (v - mean) * (v - mean)) / n;
        let std = var.sqrt();
        if !(std > 0.0 && std.is_finite()) {
            return Err(SignalError::InvalidInput(
                "values have zero spread (flat signal)".into(),
            ));
        }
        Scaler { mean, std }
    } else {
        Scaler::fit(values)?
    };
    let inv = 1.0 / s.std;
    let m = s.mean;
    values.iter_mut().for_each(|v| *v = (*v - m) * inv);
    Ok(s)
}

/// Replaces NaN runs by linear interpolation between their finite neighbours (constant at the
/// ends). Returns how many values were filled; errors if nothing is finite.
pub fn fill_nan_linear(values: &mut [f64]) -> Result<usize, SignalError> {
    let n = values.len();
    let Some(first) = values.iter().position(|v| v.is_finite()) else {
        return if n == 0 {
            Ok(0)
        } else {
            Err(SignalError::InvalidInput("no finite values".into()))
        };
    };
    let mut filled = 0;
    let v0 = values[first];
    for v in &mut values[..first] {
        *v = v0;
        filled += 1;
    }
    let mut last = first;
    let mut i = first + 1;
    while i < n {
        if values[i].is_finite() {
            let gap = i - last;
            if gap > 1 {
                let (a, b) = (values[last], values[i]);
                for j in 1..gap {
                    values[last + j] = a + (b - a) * j as f64 / gap as f64;
                    filled += 1;
                }
            }
            last = i;
        }
        i += 1;
    }
    let vl = values[last];
    for v in &mut values[last + 1..] {
        *v = vl;
        filled += 1;
    }
    Ok(filled)
}

/// Exact mean and population standard deviation of integer samples (e.g. a WFDB signal's
/// digital values), from integer sums: `None` when `x` is empty, flat, or holds `invalid`.
///
/// One pass, vectorized for the CPU at hand; the sums are exact, so the result is the
/// correctly rounded mean and (up to one rounding in the square root) std.
pub fn integer_mean_std(x: &[i32], invalid: Option<i32>) -> Option<(f64, f64)> {
    let (sum, sumsq) = pulp::Arch::new().dispatch(IntSums { x, invalid })?;
    let n = x.len() as i128;
    // n * var = sumsq - sum^2 / n, computed exactly as (n * sumsq - sum^2) / n^2.
    let num = n.checked_mul(sumsq)?.checked_sub(sum.checked_mul(sum)?)?;
    if n == 0 || num <= 0 {
        return None;
    }
    let mean = sum as f64 / n as f64;
    let std = ((num as f64) / (n as f64 * n as f64)).sqrt();
    Some((mean, std))
}

/// The sums of [`integer_mean_std`] as a `pulp` operation (compiled per instruction set).
struct IntSums<'a> {
    x: &'a [i32],
    invalid: Option<i32>,
}

impl pulp::WithSimd for IntSums<'_> {
    type Output = Option<(i128, i128)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        // Blocks of 2^16 samples: while every |v| <= 2^23, the block's i64 sums cannot
        // overflow (2^16 * 2^46 = 2^62); blocks with larger values are summed in i128.
        let invalid = self.invalid;
        let (mut sum, mut sumsq) = (0i128, 0i128);
        for block in self.x.chunks(1 << 16) {
            let (mut s, mut q, mut bad, mut big) = (0i64, 0i64, 0u8, 0u8);
            let inv = invalid.unwrap_or(0);
            for &v in block {
                bad |= u8::from(v == inv);
                big |= u8::from((v as u32).wrapping_add(1 << 23) > (1 << 24));
                // Wrapping: with huge values the i64 sums may wrap; they are then discarded.
                let w = i64::from(v);
                s = s.wrapping_add(w);
                q = q.wrapping_add(w.wrapping_mul(w));
            }
            if bad != 0 && invalid.is_some() {
                return None;
            }
            if big != 0 {
                let (s, q) = block.iter().fold((0i128, 0i128), |(s, q), &v| {
                    let v = i128::from(v);
                    (s + v, q + v * v)
                });
                sum += s;
                sumsq += q;
            } else {
                sum += i128::from(s);
                sumsq += i128::from(q);
            }
        }
        Some((sum, sumsq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zscore_matches_numpy_definition() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        let s = zscore(&mut x).unwrap();
        assert_eq!(s.mean, 2.5);
        assert!((s.std - 1.118_033_988_749_895).abs() < 1e-15);
        assert!((x.iter().sum::<f64>()).abs() < 1e-12);
        assert!(zscore(&mut [3.0, 3.0]).is_err());
        assert!(zscore(&mut []).is_err());
    }

    #[test]
    fn merged_accumulators_equal_one_pass() {
        let a: Vec<f64> = (0..1000)
            .map(|i| (i as f64 * 0.37).sin() * 3.0 + 1.0)
            .collect();
        let mut one = Accumulator::default();
        one.extend(a.iter().copied());
        let mut x = Accumulator::default();
        x.extend(a[..313].iter().copied());
        let mut y = Accumulator::default();
        y.extend(a[313..].iter().copied());
        x.merge(&y);
        let (p, q) = (one.finish().unwrap(), x.finish().unwrap());
        assert!((p.mean - q.mean).abs() < 1e-12 && (p.std - q.std).abs() < 1e-12);
    }

    #[test]
    fn nan_filling() {
        let mut x = vec![f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        assert_eq!(fill_nan_linear(&mut x).unwrap(), 4);
        assert_eq!(x, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert!(fill_nan_linear(&mut [f64::NAN]).is_err());
    }

    #[test]
    fn integer_mean_std_is_exact() {
        let naive = |x: &[i32]| {
            let n = x.len() as f64;
            let m = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = x.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n;
            (m, var.sqrt())
        };
        let mut seed = 12345u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i32
        };
        // Small values (12-bit), several blocks; and huge values (i128 path).
        let small: Vec<i32> = (0..200_003).map(|_| rnd() % 4096 - 2048).collect();
        let huge: Vec<i32> = (0..70_001).map(|_| rnd().wrapping_mul(3)).collect();
        for x in [&small, &huge] {
            let (m, s) = integer_mean_std(x, None).unwrap();
            let (em, es) = naive(x);
            assert!((m - em).abs() <= 1e-12 * es, "{m} vs {em}");
            assert!((s - es).abs() <= 1e-12 * es, "{s} vs {es}");
        }
        assert_eq!(integer_mean_std(&[4, 4, 4], None), None);
        assert_eq!(integer_mean_std(&[], None), None);
        assert_eq!(integer_mean_std(&[1, -32768, 3], Some(-32768)), None);
        assert_eq!(integer_mean_std(&[1, 3], Some(-32768)), Some((2.0, 1.0)));
    }
}
