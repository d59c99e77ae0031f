//! Errors on hidden points: per window ([`masked_errors`]) and pooled over windows with
//! bootstrap intervals ([`ErrorAccumulator`], [`ErrorStats`]).

use serde::{Deserialize, Serialize};

use crate::bootstrap::{Bootstrap, BootstrapInfo, Estimate, Unit, Units, dense_groups, intervals};
use crate::{EvalError, Result};

/// Sums of one window's errors over its hidden points (standardized units).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowErrors {
    /// Hidden points compared.
    pub n_points: u64,
    /// Sum of squared errors.
    pub sse: f64,
    /// Sum of absolute errors.
    pub sae: f64,
}

impl WindowErrors {
    /// Mean squared error; `None` without hidden points.
    pub fn mse(&self) -> Option<f64> {
        (self.n_points > 0).then(|| self.sse / self.n_points as f64)
    }

    /// Mean absolute error; `None` without hidden points.
    pub fn mae(&self) -> Option<f64> {
        (self.n_points > 0).then(|| self.sae / self.n_points as f64)
    }
}

/// Errors of `pred` against `truth` on the hidden points (`mask[i] == true`) only, in f64.
/// Values at observed points are not read. Lengths must agree; a non-finite value at a hidden
/// point is an error naming the index.
pub fn masked_errors(pred: &[f32], truth: &[f32], mask: &[bool]) -> Result<WindowErrors> {
    for (what, len) in [("prediction", pred.len()), ("truth", truth.len())] {
        if len != mask.len() {
            return Err(EvalError::LengthMismatch {
                what: format!("{what} (vs mask)"),
                expected: mask.len(),
                got: len,
            });
        }
    }
    let mut e = WindowErrors::default();
    for (i, ((&p, &t), &h)) in pred.iter().zip(truth).zip(mask).enumerate() {
        if !h {
            continue;
        }
        for (what, v) in [("prediction", p), ("truth", t)] {
            if !v.is_finite() {
                return Err(EvalError::NonFinite {
                    what: format!("{what} at a hidden point"),
                    index: i,
                    value: f64::from(v),
                });
            }
        }
        let d = f64::from(p) - f64::from(t);
        e.n_points += 1;
        e.sse += d * d;
        e.sae += d.abs();
    }
    Ok(e)
}

/// Pooled errors of one method over many windows, with bootstrap intervals.
///
/// `mse = Σ squared errors / Σ hidden points` (pooled over points; with a fixed K per window it
/// equals the mean of the per-window MSEs), likewise `mae`. The mV variants scale each window's
/// errors by its own factor `s` (mV per standardized unit): `sse·s²` and `sae·s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorStats {
    /// Windows pooled.
    pub n_windows: u64,
    /// Hidden points pooled.
    pub n_points: u64,
    /// Mean squared error, standardized units².
    pub mse: Estimate,
    /// Mean absolute error, standardized units.
    pub mae: Estimate,
    /// Mean squared error in mV²; `None` unless every window came with a mV scale.
    pub mse_mv: Estimate,
    /// Mean absolute error in mV; same rule.
    pub mae_mv: Estimate,
}

/// Per-window rows shared by the error accumulators: `[n_points, (sse, sae, sse_mv, sae_mv) per
/// method, extra...]`, plus optional group ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub dim: usize,
    pub rows: Vec<f64>,
    groups: Vec<u32>,
    grouped: Option<bool>,
    scaled: Option<bool>,
}

/// Offset of method `m`'s four sums in a row.
pub(crate) const fn off(m: usize) -> usize {
    1 + 4 * m
}

impl Table {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            ..Self::default()
        }
    }

    pub fn n_windows(&self) -> usize {
        self.rows.len() / self.dim.max(1)
    }

    pub fn scaled(&self) -> bool {
        self.scaled == Some(true)
    }

    /// Checks that `scale`/`group` are given for all windows or none, and the scale is valid.
    pub fn check(&self, scale_mv: Option<f64>, group: Option<u32>) -> Result<()> {
        if let Some(s) = scale_mv
            && !(s.is_finite() && s > 0.0)
        {
            return Err(EvalError::InvalidParameter(format!(
                "mV scale must be finite and > 0, got {s}"
            )));
        }
        if self.scaled.is_some_and(|s| s != scale_mv.is_some()) {
            return Err(EvalError::InvalidParameter(
                "a mV scale must be given for every window or for none".into(),
            ));
        }
        if self.grouped.is_some_and(|g| g != group.is_some()) {
            return Err(EvalError::InvalidParameter(
                "a group must be given for every window or for none".into(),
            ));
        }
        Ok(())
    }

    /// Appends a row (after [`Table::check`]).
    pub fn push(&mut self, row: &[f64], scale_mv: Option<f64>, group: Option<u32>) {
        debug_assert_eq!(row.len(), self.dim);
        self.scaled = Some(scale_mv.is_some());
        self.grouped = Some(group.is_some());
        self.rows.extend_from_slice(row);
        if let Some(g) = group {
            self.groups.push(g);
        }
    }

    /// Writes method `m`'s sums for window errors `e` into `row`.
    pub fn fill(row: &mut [f64], m: usize, e: &WindowErrors, scale_mv: Option<f64>) {
        let s = scale_mv.unwrap_or(0.0);
        row[0] = e.n_points as f64;
        row[off(m)] = e.sse;
        row[off(m) + 1] = e.sae;
        row[off(m) + 2] = e.sse * s * s;
        row[off(m) + 3] = e.sae * s;
    }

    /// Bootstrap units (windows, or groups with their rows summed) and their description.
    pub fn units(&self, boot: &Bootstrap) -> (Vec<f64>, BootstrapInfo) {
        let (rows, unit, n_units) = if self.grouped == Some(true) {
            let (dense, n_groups) = dense_groups(&self.groups);
            let mut rows = vec![0.0; n_groups * self.dim];
            for (w, &g) in dense.iter().enumerate() {
                for j in 0..self.dim {
                    rows[g * self.dim + j] += self.rows[w * self.dim + j];
                }
            }
            (rows, Unit::Group, n_groups)
        } else {
            (self.rows.clone(), Unit::Window, self.n_windows())
        };
        let info = BootstrapInfo {
            unit,
            resamples: boot.resamples,
            seed: boot.seed,
            level: boot.level,
            n_units: n_units as u64,
        };
        (rows, info)
    }
}

/// The four error scalars (mse, mae, mse_mv, mae_mv) of method `m` from summed rows.
pub(crate) fn method_scalars(sums: &[f64], m: usize, scaled: bool) -> [Option<f64>; 4] {
    let n = sums[0];
    let r = |j: usize| (n > 0.0).then(|| sums[off(m) + j] / n);
    [r(0), r(1), r(2).filter(|_| scaled), r(3).filter(|_| scaled)]
}

/// Builds an [`ErrorStats`] from the point scalars/intervals at `base..base + 4`.
pub(crate) fn error_stats(
    n_windows: u64,
    n_points: u64,
    point: &[Option<f64>],
    ci: &[Option<(f64, f64)>],
    base: usize,
) -> ErrorStats {
    let e = |j: usize| Estimate::new(point[base + j], ci[base + j]);
    ErrorStats {
        n_windows,
        n_points,
        mse: e(0),
        mae: e(1),
        mse_mv: e(2),
        mae_mv: e(3),
    }
}

/// Pools one method's errors over windows (see [`ErrorStats`]).
#[derive(Clone, Debug)]
pub struct ErrorAccumulator {
    table: Table,
}

impl Default for ErrorAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self {
            table: Table::new(off(1)),
        }
    }

    /// Adds one window: errors of `pred` vs `truth` on the hidden points of `mask`.
    /// `scale_mv` = mV per standardized unit for this window (give it for all windows or none);
    /// `group` = cluster id for a group bootstrap (all windows or none).
    pub fn push(
        &mut self,
        pred: &[f32],
        truth: &[f32],
        mask: &[bool],
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<WindowErrors> {
        let e = masked_errors(pred, truth, mask).map_err(|e| self.at(e))?;
        self.push_errors(e, scale_mv, group)?;
        Ok(e)
    }

    /// Adds one window's precomputed errors.
    pub fn push_errors(
        &mut self,
        e: WindowErrors,
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<()> {
        self.table.check(scale_mv, group).map_err(|x| self.at(x))?;
        let mut row = [0.0; 5];
        Table::fill(&mut row, 0, &e, scale_mv);
        self.table.push(&row, scale_mv, group);
        Ok(())
    }

    fn at(&self, e: EvalError) -> EvalError {
        EvalError::At {
            place: format!("window #{}", self.table.n_windows()),
            source: Box::new(e),
        }
    }

    /// Pooled errors with intervals, and how the intervals were obtained.
    pub fn finish(&self, boot: &Bootstrap) -> Result<(ErrorStats, BootstrapInfo)> {
        boot.validate()?;
        let (rows, info) = self.table.units(boot);
        let units = Units {
            rows: &rows,
            dim: self.table.dim,
            weights: None,
        };
        let scaled = self.table.scaled();
        let total = units.total();
        let point = method_scalars(&total, 0, scaled);
        let ci = intervals(boot, &units, 4, |s| method_scalars(s, 0, scaled).to_vec());
        let stats = error_stats(
            self.table.n_windows() as u64,
            total[0] as u64,
            &point,
            &ci,
            0,
        );
        Ok((stats, info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_errors_use_hidden_points_only() {
        let truth = [1.0, 2.0, 3.0, 4.0];
        let pred = [f32::NAN, 2.5, 1.0, 100.0];
        let mask = [false, true, true, false];
        let e = masked_errors(&pred, &truth, &mask).unwrap();
        assert_eq!(e.n_points, 2);
        assert!((e.sse - (0.25 + 4.0)).abs() < 1e-12);
        assert!((e.sae - 2.5).abs() < 1e-12);
        assert_eq!(e.mse(), Some(2.125));
        assert_eq!(e.mae(), Some(1.25));
        assert_eq!(WindowErrors::default().mse(), None);
    }

    #[test]
    fn masked_errors_reject_nan_and_bad_lengths() {
        let err = masked_errors(&[0.0, f32::NAN], &[0.0, 0.0], &[false, true]).unwrap_err();
        assert!(err.to_string().contains("index 1"), "{err}");
        assert!(masked_errors(&[0.0], &[0.0, 0.0], &[false, true]).is_err());
    }

    #[test]
    fn accumulator_pools_points_and_scales_to_mv() {
        let mut acc = ErrorAccumulator::new();
        // window 1: errors 1, 1 (scale 2 mV/unit); window 2: errors 3 (scale 1).
        acc.push(&[1.0, 1.0], &[0.0, 0.0], &[true, true], Some(2.0), None)
            .unwrap();
        acc.push(&[3.0, 0.0], &[0.0, 0.0], &[true, false], Some(1.0), None)
            .unwrap();
        let (s, info) = acc.finish(&Bootstrap::new(100, 5)).unwrap();
        assert_eq!((s.n_windows, s.n_points), (2, 3));
        assert_eq!(info.unit, Unit::Window);
        assert!((s.mse.value.unwrap() - 11.0 / 3.0).abs() < 1e-12);
        assert!((s.mae.value.unwrap() - 5.0 / 3.0).abs() < 1e-12);
        // mV: squared errors 4+4+9, absolute 2+2+3
        assert!((s.mse_mv.value.unwrap() - 17.0 / 3.0).abs() < 1e-12);
        assert!((s.mae_mv.value.unwrap() - 7.0 / 3.0).abs() < 1e-12);
        let (lo, hi) = (s.mse.lo.unwrap(), s.mse.hi.unwrap());
        assert!(lo <= s.mse.value.unwrap() && s.mse.value.unwrap() <= hi);
    }

    #[test]
    fn mixed_scale_or_group_is_an_error_and_no_scale_gives_null_mv() {
        let mut acc = ErrorAccumulator::new();
        acc.push(&[1.0], &[0.0], &[true], None, None).unwrap();
        let e = acc
            .push(&[1.0], &[0.0], &[true], Some(1.0), None)
            .unwrap_err();
        assert!(e.to_string().contains("window #1"), "{e}");
        assert!(acc.push(&[1.0], &[0.0], &[true], None, Some(3)).is_err());
        assert!(acc.push(&[1.0], &[0.0], &[true], None, None).is_ok());
        let (s, _) = acc.finish(&Bootstrap::new(10, 0)).unwrap();
        assert_eq!(s.mse_mv, Estimate::default());
        assert_eq!(s.mse.value, Some(1.0));
        let mut acc = ErrorAccumulator::new();
        assert!(acc.push(&[1.0], &[0.0], &[true], Some(-1.0), None).is_err());
    }
}
