//! Imputation and forecasting evaluation at one K: the model and the baselines on the same
//! windows and masks, with paired bootstrap intervals (every method is resampled with the same
//! draws, so differences and ratios get honest intervals too).

use serde::{Deserialize, Serialize};

use crate::baselines::{last_value, linear_fill, mean_fill, naive_scale, previous_beat, zero_fill};
use crate::bootstrap::{Bootstrap, BootstrapInfo, Estimate, Units, intervals};
use crate::errors::{ErrorStats, Table, error_stats, masked_errors, method_scalars, off};
use crate::{EvalError, Result};

/// Imputation at one K: the model next to zero, mean and linear-interpolation fills.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImputationReport {
    /// Hidden points per window.
    pub k: usize,
    /// Windows evaluated.
    pub n_windows: u64,
    /// How the intervals were obtained.
    pub bootstrap: BootstrapInfo,
    /// The model.
    pub model: ErrorStats,
    /// Hidden points set to 0.
    pub zero: ErrorStats,
    /// Hidden points set to the window's observed mean.
    pub mean: ErrorStats,
    /// Linear interpolation between observed neighbours.
    pub linear: ErrorStats,
    /// Name of the baseline with the lowest MSE (`zero`, `mean` or `linear`); `None` if undefined.
    pub best_baseline: Option<String>,
    /// `1 - mse(model) / mse(best baseline)`: 0.3 = 30% lower MSE than the best baseline.
    pub improvement_mse: Estimate,
    /// `1 - mae(model) / mae(best baseline)` (same baseline as `improvement_mse`).
    pub improvement_mae: Estimate,
}

/// Forecasting at one K: the model next to the last-value and previous-beat forecasts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastReport {
    /// Forecast horizon (trailing hidden points).
    pub k: usize,
    /// Windows evaluated.
    pub n_windows: u64,
    /// How the intervals were obtained.
    pub bootstrap: BootstrapInfo,
    /// The model.
    pub model: ErrorStats,
    /// Last observed value repeated.
    pub last_value: ErrorStats,
    /// Previous beat repeated at the RR interval.
    pub previous_beat: ErrorStats,
    /// Windows where the previous-beat forecast fell back to the last value (RR 0 or longer
    /// than the observed history).
    pub previous_beat_fallbacks: u64,
    /// MASE = mae(model) / mae(last value) on the same windows and masks.
    pub mase: Estimate,
    /// Classical MASE: mean over windows of mae(model) / (mean |x[t] - x[t-1]| over the
    /// window's observed history); windows with a flat history are left out.
    pub mase_insample: Estimate,
    /// Name of the baseline with the lowest MSE (`last_value` or `previous_beat`).
    pub best_baseline: Option<String>,
    /// `1 - mse(model) / mse(best baseline)`.
    pub improvement_mse: Estimate,
    /// `1 - mae(model) / mae(best baseline)`.
    pub improvement_mae: Estimate,
}

/// Checks the window/prediction lengths, the number of hidden points and finiteness.
fn check_window(window: &[f32], mask: &[bool], pred: &[f32], k: usize) -> Result<()> {
    for (what, len) in [("window", window.len()), ("prediction", pred.len())] {
        if len != mask.len() {
            return Err(EvalError::LengthMismatch {
                what: format!("{what} (vs mask)"),
                expected: mask.len(),
                got: len,
            });
        }
    }
    let hidden = mask.iter().filter(|&&h| h).count();
    if hidden != k {
        return Err(EvalError::InvalidMask(format!(
            "{hidden} hidden points, expected K = {k}"
        )));
    }
    crate::check_finite(|| "window".into(), window)
}

/// `1 - a / b` on method sums; `None` when undefined.
fn improvement(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(1.0 - a / b),
        _ => None,
    }
}

/// Index (among `1..n_methods`) of the baseline with the lowest MSE.
fn best(total: &[f64], n_methods: usize, scaled: bool) -> Option<usize> {
    (1..n_methods)
        .filter_map(|m| method_scalars(total, m, scaled)[0].map(|v| (m, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m)
}

/// Scalars of all methods followed by the improvement over method `best`.
fn method_block(
    s: &[f64],
    n_methods: usize,
    scaled: bool,
    best: Option<usize>,
) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(4 * n_methods + 2);
    for m in 0..n_methods {
        out.extend(method_scalars(s, m, scaled));
    }
    let model = method_scalars(s, 0, scaled);
    let base = best.map(|b| method_scalars(s, b, scaled));
    out.push(improvement(model[0], base.and_then(|b| b[0])));
    out.push(improvement(model[1], base.and_then(|b| b[1])));
    out
}

/// Accumulates imputation windows at one K; see [`ImputationReport`].
#[derive(Clone, Debug)]
pub struct ImputationEval {
    k: usize,
    table: Table,
}

const IMPUTATION_METHODS: [&str; 4] = ["model", "zero", "mean", "linear"];

impl ImputationEval {
    /// An evaluation where every mask hides exactly `k` points.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            table: Table::new(off(IMPUTATION_METHODS.len())),
        }
    }

    /// Adds one window: `window` = the true values (standardized), `mask` = hidden points (must
    /// hide exactly K), `pred` = the model's output for the window (only hidden points read).
    /// `scale_mv` = mV per standardized unit for this window; `group` = cluster id (record).
    /// Give `scale_mv` and `group` for every window or for none.
    pub fn push(
        &mut self,
        window: &[f32],
        mask: &[bool],
        pred: &[f32],
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<()> {
        self.push_inner(window, mask, pred, scale_mv, group)
            .map_err(|e| EvalError::At {
                place: format!(
                    "imputation K={}, window #{}",
                    self.k,
                    self.table.n_windows()
                ),
                source: Box::new(e),
            })
    }

    fn push_inner(
        &mut self,
        window: &[f32],
        mask: &[bool],
        pred: &[f32],
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<()> {
        check_window(window, mask, pred, self.k)?;
        self.table.check(scale_mv, group)?;
        let fills = [
            zero_fill(window, mask)?,
            mean_fill(window, mask)?,
            linear_fill(window, mask)?,
        ];
        let mut row = vec![0.0; self.table.dim];
        Table::fill(&mut row, 0, &masked_errors(pred, window, mask)?, scale_mv);
        for (m, f) in fills.iter().enumerate() {
            Table::fill(&mut row, m + 1, &masked_errors(f, window, mask)?, scale_mv);
        }
        self.table.push(&row, scale_mv, group);
        Ok(())
    }

    /// Windows added so far.
    pub fn len(&self) -> usize {
        self.table.n_windows()
    }

    /// True before the first window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The report, with paired bootstrap intervals.
    pub fn finish(&self, boot: &Bootstrap) -> Result<ImputationReport> {
        boot.validate()?;
        let n_methods = IMPUTATION_METHODS.len();
        let (rows, info) = self.table.units(boot);
        let units = Units {
            rows: &rows,
            dim: self.table.dim,
            weights: None,
        };
        let scaled = self.table.scaled();
        let total = units.total();
        let best_m = best(&total, n_methods, scaled);
        let point = method_block(&total, n_methods, scaled, best_m);
        let ci = intervals(boot, &units, point.len(), |s| {
            method_block(s, n_methods, scaled, best_m)
        });
        let (nw, np) = (self.table.n_windows() as u64, total[0] as u64);
        let stats = |m: usize| error_stats(nw, np, &point, &ci, 4 * m);
        let imp = 4 * n_methods;
        Ok(ImputationReport {
            k: self.k,
            n_windows: nw,
            bootstrap: info,
            model: stats(0),
            zero: stats(1),
            mean: stats(2),
            linear: stats(3),
            best_baseline: best_m.map(|m| IMPUTATION_METHODS[m].to_string()),
            improvement_mse: Estimate::new(point[imp], ci[imp]),
            improvement_mae: Estimate::new(point[imp + 1], ci[imp + 1]),
        })
    }
}

/// Accumulates forecasting windows at one K; see [`ForecastReport`].
#[derive(Clone, Debug)]
pub struct ForecastEval {
    k: usize,
    table: Table,
    fallbacks: u64,
}

const FORECAST_METHODS: [&str; 3] = ["model", "last_value", "previous_beat"];
/// Row offset of the classical-MASE sums (Σ per-window MASE, windows counted).
const Q: usize = off(FORECAST_METHODS.len());

impl ForecastEval {
    /// An evaluation where every mask hides the trailing `k` points.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            table: Table::new(Q + 2),
            fallbacks: 0,
        }
    }

    /// Adds one window: `window` = true values, `mask` = the trailing K points hidden, `pred` =
    /// the model's output, `rr` = the RR interval in samples for the previous-beat forecast
    /// (e.g. the RR interval before the window's beat). `scale_mv`/`group` as in
    /// [`ImputationEval::push`].
    pub fn push(
        &mut self,
        window: &[f32],
        mask: &[bool],
        pred: &[f32],
        rr: usize,
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<()> {
        self.push_inner(window, mask, pred, rr, scale_mv, group)
            .map_err(|e| EvalError::At {
                place: format!(
                    "forecasting K={}, window #{}",
                    self.k,
                    self.table.n_windows()
                ),
                source: Box::new(e),
            })
    }

    fn push_inner(
        &mut self,
        window: &[f32],
        mask: &[bool],
        pred: &[f32],
        rr: usize,
        scale_mv: Option<f64>,
        group: Option<u32>,
    ) -> Result<()> {
        check_window(window, mask, pred, self.k)?;
        let l = mask.len();
        if mask
            .iter()
            .enumerate()
            .any(|(i, &h)| h != (i + self.k >= l))
        {
            return Err(EvalError::InvalidMask(
                "forecasting needs the trailing K points hidden and the rest observed".into(),
            ));
        }
        self.table.check(scale_mv, group)?;
        let last = last_value(window, mask)?;
        let (beat, fell_back) = previous_beat(window, mask, rr)?;
        let scale = naive_scale(window, mask)?;
        let mut row = vec![0.0; self.table.dim];
        let model = masked_errors(pred, window, mask)?;
        Table::fill(&mut row, 0, &model, scale_mv);
        Table::fill(&mut row, 1, &masked_errors(&last, window, mask)?, scale_mv);
        Table::fill(&mut row, 2, &masked_errors(&beat, window, mask)?, scale_mv);
        if let (Some(q), Some(mae)) = (scale, model.mae()) {
            row[Q] = mae / q;
            row[Q + 1] = 1.0;
        }
        self.table.push(&row, scale_mv, group);
        self.fallbacks += u64::from(fell_back);
        Ok(())
    }

    /// Windows added so far.
    pub fn len(&self) -> usize {
        self.table.n_windows()
    }

    /// True before the first window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The report, with paired bootstrap intervals.
    pub fn finish(&self, boot: &Bootstrap) -> Result<ForecastReport> {
        boot.validate()?;
        let n_methods = FORECAST_METHODS.len();
        let (rows, info) = self.table.units(boot);
        let units = Units {
            rows: &rows,
            dim: self.table.dim,
            weights: None,
        };
        let scaled = self.table.scaled();
        let total = units.total();
        let best_m = best(&total, n_methods, scaled);
        let all = |s: &[f64]| {
            let mut v = method_block(s, n_methods, scaled, best_m);
            let mae = |m: usize| method_scalars(s, m, scaled)[1];
            v.push(match (mae(0), mae(1)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            });
            v.push((s[Q + 1] > 0.0).then(|| s[Q] / s[Q + 1]));
            v
        };
        let point = all(&total);
        let ci = intervals(boot, &units, point.len(), all);
        let (nw, np) = (self.table.n_windows() as u64, total[0] as u64);
        let stats = |m: usize| error_stats(nw, np, &point, &ci, 4 * m);
        let e = |i: usize| Estimate::new(point[i], ci[i]);
        let imp = 4 * n_methods;
        Ok(ForecastReport {
            k: self.k,
            n_windows: nw,
            bootstrap: info,
            model: stats(0),
            last_value: stats(1),
            previous_beat: stats(2),
            previous_beat_fallbacks: self.fallbacks,
            mase: e(imp + 2),
            mase_insample: e(imp + 3),
            best_baseline: best_m.map(|m| FORECAST_METHODS[m].to_string()),
            improvement_mse: e(imp),
            improvement_mae: e(imp + 1),
        })
    }
}
