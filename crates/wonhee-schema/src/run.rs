//! A run folder's files: what `wonhee train` writes and `eval`, `predict`, `impute`,
//! `forecast` and `report` read.
//!
//! ```text
//! RUN/
//!   config.toml          the run configuration ([model] + [train], RunConfig)
//!   run.json             dataset provenance, class names, scaler, device, timing (RunInfo)
//!   model.safetensors    final weights
//!   metrics.jsonl        one JSON object per training step and per validation (LogLine)
//!   checkpoint/          model.safetensors, optimizer.safetensors, state.json (for --resume)
//!   metrics.json         written by `wonhee eval` (wonhee_eval::Metrics)
//!   examples.json        a few test windows with predictions, written by `wonhee eval` (Examples)
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use wonhee_signal::Scaler;

use crate::dataset::PrepareConfig;
use crate::error::{Result, SchemaError};

/// The run configuration.
pub const CONFIG_FILE: &str = "config.toml";
/// Run metadata.
pub const INFO_FILE: &str = "run.json";
/// Final weights.
pub const MODEL_FILE: &str = "model.safetensors";
/// Per-step metrics.
pub const METRICS_LOG: &str = "metrics.jsonl";
/// Checkpoint folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Evaluation output.
pub const METRICS_FILE: &str = "metrics.json";
/// Example windows written by `wonhee eval` for the report's figures ([`crate::Examples`]).
pub const EXAMPLES_FILE: &str = "examples.json";

/// Current layout version of run folders.
pub const RUN_FORMAT_VERSION: u32 = 1;

/// Where the training data came from and how to process new records the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The prepared dataset folder, as given.
    pub dir: String,
    /// SHA-256 of its `summary.json`.
    pub summary_sha256: String,
    /// Its preparation settings (lead, rates, window, classes, split).
    pub prepare: PrepareConfig,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// Train-set scaler applied to every window.
    pub scaler: Scaler,
    /// Record fold held out, for record-fold datasets.
    pub fold: Option<u8>,
    /// Training, validation and evaluation-side window counts.
    pub n_train: usize,
    /// Validation windows (held out of the training side).
    pub n_val: usize,
}

/// `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Layout version.
    pub format_version: u32,
    /// Dataset provenance.
    pub dataset: DatasetInfo,
    /// Model parameters.
    pub parameters: usize,
    /// Device trained on (`cpu`, `cuda:0`).
    pub device: String,
    /// Steps planned.
    pub total_steps: usize,
    /// Steps done.
    pub steps_done: usize,
    /// Wall-clock seconds spent training (summed over resumed sessions).
    pub train_seconds: f64,
    /// Training samples per second over the whole run.
    pub samples_per_s: f64,
    /// Whether training reached `total_steps`.
    pub finished: bool,
}

impl RunInfo {
    /// Reads `dir/run.json` and checks its format version.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(INFO_FILE);
        let text = std::fs::read(&path).map_err(|e| SchemaError::io(&path, e))?;
        let info: RunInfo = serde_json::from_slice(&text)
            .map_err(|e| SchemaError::file(&path, format!("not a run description: {e}")))?;
        if info.format_version != RUN_FORMAT_VERSION {
            return Err(SchemaError::file(
                &path,
                format!(
                    "run format {} (this build reads {RUN_FORMAT_VERSION})",
                    info.format_version
                ),
            ));
        }
        Ok(info)
    }

    /// Writes `dir/run.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        Ok(wonhee_fs::write_json(&dir.join(INFO_FILE), self)?)
    }
}
