//! `metrics.json` and its Markdown rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bootstrap::Estimate;
use crate::classification::{ClassificationReport, pct_ci};
use crate::errors::ErrorStats;
use crate::tasks::{ForecastReport, ImputationReport};
use crate::{EvalError, Result};

/// Version of the `metrics.json` schema (`docs/metrics-schema.md`); bumped on breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `wonhee eval` measures: the contents of `metrics.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Beat classification on the test side; `None` if not evaluated.
    #[serde(default)]
    pub classification: Option<ClassificationReport>,
    /// Imputation, one entry per K in increasing K.
    #[serde(default)]
    pub imputation: Vec<ImputationReport>,
    /// Forecasting, one entry per K in increasing K.
    #[serde(default)]
    pub forecasting: Vec<ForecastReport>,
    /// Free-form context (split, run, checkpoint, data checksum, ...).
    #[serde(default)]
    pub meta: BTreeMap<String, serde_json::Value>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics of the current schema version.
    pub fn new() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            classification: None,
            imputation: Vec::new(),
            forecasting: Vec::new(),
            meta: BTreeMap::new(),
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json_pretty(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| EvalError::Json {
            place: "<metrics>".into(),
            source,
        })
    }

    /// Parses JSON written by [`Metrics::to_json_pretty`].
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|source| EvalError::Json {
            place: "<string>".into(),
            source,
        })
    }

    /// Writes pretty JSON (and a final newline) to `path` atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let mut json = self.to_json_pretty()?;
        json.push('\n');
        wonhee_fs::write_atomic(path, json.as_bytes()).map_err(|e| EvalError::Io {
            path: e.path,
            source: e.source,
        })
    }

    /// Reads a `metrics.json`.
    pub fn read_json(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&s).map_err(|source| EvalError::Json {
            place: path.display().to_string(),
            source,
        })
    }

    /// Markdown report: classification tables, then imputation and forecasting tables with the
    /// baselines side by side and the model's improvement over the best baseline.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        if !self.meta.is_empty() {
            self.meta_markdown(&mut s);
        }
        if let Some(c) = &self.classification {
            s.push_str("## Classification\n\n");
            s.push_str(&c.to_markdown());
            s.push('\n');
        }
        if !self.imputation.is_empty() {
            self.imputation_markdown(&mut s);
        }
        if !self.forecasting.is_empty() {
            self.forecasting_markdown(&mut s);
        }
        s
    }

    /// Appends the `meta` table (strings unquoted, other values as JSON) to `s`.
    fn meta_markdown(&self, s: &mut String) {
        s.push_str("| Key | Value |\n|---|---|\n");
        for (k, v) in &self.meta {
            let v = match v {
                serde_json::Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
    }

    /// Appends the imputation section (errors per K and method, then improvements) to `s`.
    fn imputation_markdown(&self, s: &mut String) {
        s.push_str("## Imputation\n\n");
        s.push_str(ERRORS_NOTE);
        s.push_str(ERROR_HEADER);
        for r in &self.imputation {
            for (name, e) in [
                ("model", &r.model),
                ("zero", &r.zero),
                ("mean", &r.mean),
                ("linear", &r.linear),
            ] {
                error_row(s, r.k, name, e);
            }
        }
        s.push_str(
            "\n| K | Windows | Best baseline | MSE improvement | MAE improvement |\n\
             |---:|---:|---|---:|---:|\n",
        );
        for r in &self.imputation {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.k,
                r.n_windows,
                r.best_baseline.as_deref().unwrap_or("–"),
                pct_ci(&r.improvement_mse),
                pct_ci(&r.improvement_mae)
            );
        }
        s.push('\n');
    }

    /// Appends the forecasting section (errors per K and method, then MASE, improvements and
    /// fallbacks) to `s`.
    fn forecasting_markdown(&self, s: &mut String) {
        s.push_str("## Forecasting\n\n");
        s.push_str(ERRORS_NOTE);
        s.push_str(ERROR_HEADER);
        for r in &self.forecasting {
            for (name, e) in [
                ("model", &r.model),
                ("last value", &r.last_value),
                ("previous beat", &r.previous_beat),
            ] {
                error_row(s, r.k, name, e);
            }
        }
        s.push_str(
            "\n| K | Windows | MASE (vs last value) | MASE (in-sample) | Best baseline | MSE improvement | MAE improvement | Previous-beat fallbacks |\n\
             |---:|---:|---:|---:|---|---:|---:|---:|\n",
        );
        for r in &self.forecasting {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.k,
                r.n_windows,
                num_ci(&r.mase),
                num_ci(&r.mase_insample),
                r.best_baseline.as_deref().unwrap_or("–"),
                pct_ci(&r.improvement_mse),
                pct_ci(&r.improvement_mae),
                r.previous_beat_fallbacks
            );
        }
        s.push('\n');
    }
}

const ERRORS_NOTE: &str = "Errors on hidden points only, pooled over points; standardized units \
and mV (each window scaled by its own mV per unit). Improvement = 1 − model / best baseline \
(positive = the model is better).\n\n";

const ERROR_HEADER: &str = "| K | Method | MSE | MAE | MSE (mV²) | MAE (mV) |\n\
                            |---:|---|---:|---:|---:|---:|\n";

fn error_row(s: &mut String, k: usize, name: &str, e: &ErrorStats) {
    let _ = writeln!(
        s,
        "| {k} | {name} | {} | {} | {} | {} |",
        num_ci(&e.mse),
        num_ci(&e.mae),
        num_ci(&e.mse_mv),
        num_ci(&e.mae_mv)
    );
}

/// A number with 4 significant digits (fixed notation, at most 8 decimals).
pub(crate) fn sig4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (3 - mag).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}

/// `0.1234 (0.1200–0.1300)`, `–` when undefined.
fn num_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => format!("{} ({}–{})", sig4(v), sig4(lo), sig4(hi)),
        (Some(v), ..) => sig4(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig4_formats() {
        assert_eq!(sig4(0.123456), "0.1235");
        assert_eq!(sig4(12.3456), "12.35");
        assert_eq!(sig4(0.00012346), "0.0001235");
        assert_eq!(sig4(12345.6), "12346");
        assert_eq!(sig4(0.0), "0");
    }
}
