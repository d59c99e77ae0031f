//! Baselines for imputation and forecasting, computed from the observed points of a window only.
//!
//! Each takes the window and its mask (`true` = hidden) and returns a full-length copy of the
//! window whose hidden points are filled; hidden values of the input are never read, so passing
//! the true window is safe. Errors: length mismatch, a non-finite observed value (named by
//! index), or no observed point where one is needed.

use crate::{EvalError, Result};

/// Checks lengths and the finiteness of observed values; returns the observed count.
fn validate(window: &[f32], mask: &[bool]) -> Result<usize> {
    if window.len() != mask.len() {
        return Err(EvalError::LengthMismatch {
            what: "window (vs mask)".into(),
            expected: mask.len(),
            got: window.len(),
        });
    }
    let mut observed = 0;
    for (i, (&v, &h)) in window.iter().zip(mask).enumerate() {
        if !h {
            if !v.is_finite() {
                return Err(EvalError::NonFinite {
                    what: "window at an observed point".into(),
                    index: i,
                    value: f64::from(v),
                });
            }
            observed += 1;
        }
    }
    Ok(observed)
}

fn need_observed(observed: usize, what: &str) -> Result<()> {
    if observed == 0 {
        return Err(EvalError::InvalidMask(format!(
            "{what} needs at least one observed point; every point is hidden"
        )));
    }
    Ok(())
}

/// Copy of the window with hidden points set to `fill(i)`.
fn filled(window: &[f32], mask: &[bool], mut fill: impl FnMut(usize) -> f32) -> Vec<f32> {
    window
        .iter()
        .zip(mask)
        .enumerate()
        .map(|(i, (&v, &h))| if h { fill(i) } else { v })
        .collect()
}

/// Hidden points set to 0 (the training-set mean in standardized units).
pub fn zero_fill(window: &[f32], mask: &[bool]) -> Result<Vec<f32>> {
    validate(window, mask)?;
    Ok(filled(window, mask, |_| 0.0))
}

/// Hidden points set to the mean of the window's observed points.
pub fn mean_fill(window: &[f32], mask: &[bool]) -> Result<Vec<f32>> {
    let observed = validate(window, mask)?;
    need_observed(observed, "mean fill")?;
    let sum: f64 = window
        .iter()
        .zip(mask)
        .filter(|(_, h)| !**h)
        .map(|(&v, _)| f64::from(v))
        .sum();
    let mean = (sum / observed as f64) as f32;
    Ok(filled(window, mask, |_| mean))
}

/// Linear interpolation between the nearest observed neighbours; before the first and after the
/// last observed point, that point's value is repeated (constant extrapolation).
pub fn linear_fill(window: &[f32], mask: &[bool]) -> Result<Vec<f32>> {
    let observed = validate(window, mask)?;
    need_observed(observed, "linear interpolation")?;
    let mut out = window.to_vec();
    let mut prev: Option<usize> = None;
    let mut i = 0;
    while i < mask.len() {
        if !mask[i] {
            prev = Some(i);
            i += 1;
            continue;
        }
        // Hidden run i..j.
        let mut j = i;
        while j < mask.len() && mask[j] {
            j += 1;
        }
        match (prev, (j < mask.len()).then_some(j)) {
            (Some(a), Some(b)) => {
                let (xa, xb) = (f64::from(window[a]), f64::from(window[b]));
                let span = (b - a) as f64;
                for (t, o) in out.iter_mut().enumerate().take(j).skip(i) {
                    *o = (xa + (xb - xa) * (t - a) as f64 / span) as f32;
                }
            }
            (Some(a), None) => out[i..j].fill(window[a]),
            (None, Some(b)) => out[i..j].fill(window[b]),
            // Not reached: `need_observed` guarantees an observed point.
            (None, None) => {}
        }
        i = j;
    }
    Ok(out)
}

/// Naive forecast: each hidden point takes the value of the most recent observed point before
/// it (hidden points before the first observed point take the first observed value).
pub fn last_value(window: &[f32], mask: &[bool]) -> Result<Vec<f32>> {
    let observed = validate(window, mask)?;
    need_observed(observed, "last-value forecast")?;
    let first = mask.iter().position(|h| !h).map_or(0.0, |i| window[i]);
    let mut last = first;
    Ok(window
        .iter()
        .zip(mask)
        .map(|(&v, &h)| {
            if h {
                last
            } else {
                last = v;
                v
            }
        })
        .collect())
}

/// Previous beat repeated: `x[t] = x[t - rr]` for every hidden `t`, in increasing `t`, so a
/// source point that is itself hidden contributes its own forecast (the beat repeats
/// periodically). `rr` is the RR interval in samples at the window's rate.
///
/// Falls back to [`last_value`] when `rr` is 0 or longer than the observed history before the
/// first hidden point (`rr > t0`); the returned flag is `true` when it did.
pub fn previous_beat(window: &[f32], mask: &[bool], rr: usize) -> Result<(Vec<f32>, bool)> {
    let observed = validate(window, mask)?;
    need_observed(observed, "previous-beat forecast")?;
    let t0 = mask.iter().position(|&h| h).unwrap_or(mask.len());
    if rr == 0 || rr > t0 {
        return Ok((last_value(window, mask)?, true));
    }
    let mut out = filled(window, mask, |_| 0.0);
    for t in t0..out.len() {
        if mask[t] {
            out[t] = out[t - rr];
        }
    }
    Ok((out, false))
}

/// The classical MASE denominator for a window: mean `|x[t] - x[t-1]|` over pairs of
/// consecutive observed points (the in-sample one-step naive error). `None` without such pairs
/// or when it is 0 (a flat history). Non-finite observed values give an error.
pub fn naive_scale(window: &[f32], mask: &[bool]) -> Result<Option<f64>> {
    validate(window, mask)?;
    let (mut s, mut n) = (0.0, 0usize);
    for t in 1..window.len() {
        if !mask[t] && !mask[t - 1] {
            s += (f64::from(window[t]) - f64::from(window[t - 1])).abs();
            n += 1;
        }
    }
    Ok((n > 0 && s > 0.0).then(|| s / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f32 = f32::NAN;

    #[test]
    fn hidden_values_are_never_read() {
        // Hidden points hold NaN: every baseline must still succeed and give finite values.
        let w = [1.0, NAN, 3.0, NAN, NAN];
        let m = [false, true, false, true, true];
        for out in [
            zero_fill(&w, &m).unwrap(),
            mean_fill(&w, &m).unwrap(),
            linear_fill(&w, &m).unwrap(),
            last_value(&w, &m).unwrap(),
            previous_beat(&w, &m, 2).unwrap().0,
        ] {
            assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        }
    }

    #[test]
    fn zero_and_mean_fill() {
        let w = [1.0, 9.0, 3.0, 9.0];
        let m = [false, true, false, true];
        assert_eq!(zero_fill(&w, &m).unwrap(), vec![1.0, 0.0, 3.0, 0.0]);
        assert_eq!(mean_fill(&w, &m).unwrap(), vec![1.0, 2.0, 3.0, 2.0]);
    }

    #[test]
    fn linear_is_exact_on_a_line_and_constant_at_the_ends() {
        let w: Vec<f32> = (0..20).map(|i| 0.5 * i as f32 - 3.0).collect();
        let mut m = vec![false; 20];
        for i in [3, 4, 5, 9, 10, 15] {
            m[i] = true;
        }
        let out = linear_fill(&w, &m).unwrap();
        for (a, b) in out.iter().zip(&w) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        let w = [9.0, 2.0, 9.0, 4.0, 9.0];
        let m = [true, false, true, false, true];
        assert_eq!(linear_fill(&w, &m).unwrap(), vec![2.0, 2.0, 3.0, 4.0, 4.0]);
    }

    #[test]
    fn last_value_repeats_the_last_observation() {
        let w = [5.0, 1.0, 2.0, 7.0, 7.0];
        let m = [true, false, false, true, true];
        assert_eq!(last_value(&w, &m).unwrap(), vec![1.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn previous_beat_is_exact_on_a_periodic_signal() {
        let period = 7;
        let w: Vec<f32> = (0..40).map(|i| ((i % period) as f32 * 0.9).sin()).collect();
        // Trailing 25 hidden: longer than one period, so the recursion is exercised.
        let m: Vec<bool> = (0..40).map(|i| i >= 15).collect();
        let (out, fell_back) = previous_beat(&w, &m, period).unwrap();
        assert!(!fell_back);
        assert_eq!(out, w);
        // A wrong rr is not exact.
        let (out, _) = previous_beat(&w, &m, period - 1).unwrap();
        assert_ne!(out, w);
    }

    #[test]
    fn previous_beat_falls_back_to_last_value() {
        let w = [1.0, 2.0, 3.0, 0.0, 0.0];
        let m = [false, false, false, true, true];
        for rr in [0, 4, 100] {
            let (out, fell_back) = previous_beat(&w, &m, rr).unwrap();
            assert!(fell_back, "rr {rr}");
            assert_eq!(out, vec![1.0, 2.0, 3.0, 3.0, 3.0]);
        }
        let (out, fell_back) = previous_beat(&w, &m, 3).unwrap();
        assert!(!fell_back);
        assert_eq!(out, vec![1.0, 2.0, 3.0, 1.0, 2.0]);
    }

    #[test]
    fn naive_scale_uses_observed_pairs() {
        let w = [0.0, 1.0, 3.0, 100.0, 100.0];
        let m = [false, false, false, true, true];
        assert_eq!(naive_scale(&w, &m).unwrap(), Some(1.5));
        assert_eq!(
            naive_scale(&[2.0, 2.0, 0.0], &[false, false, true]).unwrap(),
            None
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(zero_fill(&[1.0], &[true, false]).is_err());
        let e = mean_fill(&[1.0, NAN], &[false, false]).unwrap_err();
        assert!(e.to_string().contains("index 1"), "{e}");
        assert!(linear_fill(&[1.0, 2.0], &[true, true]).is_err());
        assert!(last_value(&[1.0], &[true]).is_err());
        assert!(previous_beat(&[1.0], &[true], 1).is_err());
    }
}
