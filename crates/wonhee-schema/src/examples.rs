//! `examples.json`: a few test windows with the model's and a baseline's outputs, written by
//! `wonhee eval` for the report's figures.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SchemaError};

/// One example window (standardized units; `hidden[i]` = hidden from the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Number of hidden points.
    pub k: usize,
    /// Record name.
    pub record: String,
    /// Beat sample at the record's rate.
    pub sample: i64,
    /// True class name.
    pub class: String,
    /// The true window.
    pub truth: Vec<f32>,
    /// Hidden points.
    pub hidden: Vec<bool>,
    /// The model's output.
    pub pred: Vec<f32>,
    /// Name of the baseline in `baseline`.
    pub baseline_name: String,
    /// The baseline's output.
    pub baseline: Vec<f32>,
}

/// `examples.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Examples {
    /// Points per window.
    pub window_len: usize,
    /// Sampling rate of the windows (Hz).
    pub rate_hz: f64,
    /// Imputation examples.
    #[serde(default)]
    pub imputation: Vec<Example>,
    /// Forecasting examples.
    #[serde(default)]
    pub forecasting: Vec<Example>,
}

impl Examples {
    /// Reads an `examples.json` and checks that every series has `window_len` points.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| SchemaError::io(path, e))?;
        let ex: Examples = serde_json::from_slice(&text)
            .map_err(|e| SchemaError::file(path, format!("not an examples file: {e}")))?;
        if !(ex.rate_hz.is_finite() && ex.rate_hz > 0.0) {
            return Err(SchemaError::file(path, "rate_hz must be positive"));
        }
        for (task, list) in [
            ("imputation", &ex.imputation),
            ("forecasting", &ex.forecasting),
        ] {
            for (i, e) in list.iter().enumerate() {
                let lens = [
                    ("truth", e.truth.len()),
                    ("hidden", e.hidden.len()),
                    ("pred", e.pred.len()),
                    ("baseline", e.baseline.len()),
                ];
                for (name, len) in lens {
                    if len != ex.window_len {
                        return Err(SchemaError::file(
                            path,
                            format!(
                                "{task}[{i}].{name} has {len} points, window_len is {}",
                                ex.window_len
                            ),
                        ));
                    }
                }
            }
        }
        Ok(ex)
    }

    /// Writes compact JSON (the series are long) atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self).map_err(|e| SchemaError::file(path, e.to_string()))?;
        Ok(wonhee_fs::write_atomic(path, &bytes)?)
    }
}
