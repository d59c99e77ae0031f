//! The run folder: what `wonhee train` writes and `eval`/`predict`/`impute`/`forecast` read.
//!
//! ```text
//! RUN/
//!   config.toml          the run configuration ([model] + [train])
//!   run.json             dataset provenance, class names, scaler, device, timing (RunInfo)
//!   model.safetensors    final weights
//!   metrics.jsonl        one JSON object per training step and per validation
//!   checkpoint/          model.safetensors, optimizer.safetensors, state.json (for --resume)
//!   metrics.json         written by `wonhee eval`
//!   examples.json        a few test windows with predictions, written by `wonhee eval`
//! ```

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use wonhee_dataset::PrepareConfig;
use wonhee_model::WonHee;
use wonhee_signal::Scaler;

use crate::config::RunConfig;
use crate::error::{Result, TrainError};

/// File names inside a run folder.
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

/// Current layout version of run folders.
pub const RUN_FORMAT_VERSION: u32 = 1;

/// A trained run, loaded for evaluation or inference.
pub struct Run {
    /// The folder.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: RunConfig,
    /// Its metadata.
    pub info: RunInfo,
    /// The model with the final weights.
    pub model: WonHee,
    /// The variables behind `model`.
    pub varmap: VarMap,
}

impl Run {
    /// Loads `dir` (config, metadata, final weights) onto `device`.
    pub fn open(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let config = RunConfig::from_toml_file(&dir.join(CONFIG_FILE))?;
        let info = read_info(&dir)?;
        let weights = dir.join(MODEL_FILE);
        if !weights.is_file() {
            return Err(TrainError::run(
                &weights,
                "no final weights (did training finish? `wonhee train --resume` continues it)",
            ));
        }
        let varmap = VarMap::new();
        let model = WonHee::new(
            &config.model,
            VarBuilder::from_varmap(&varmap, DType::F32, device),
        )?;
        wonhee_model::load_weights(&varmap, &weights)?;
        Ok(Self {
            dir,
            config,
            info,
            model,
            varmap,
        })
    }
}

/// Reads `run.json`.
pub fn read_info(dir: &Path) -> Result<RunInfo> {
    let path = dir.join(INFO_FILE);
    let text = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
    let info: RunInfo = serde_json::from_slice(&text)
        .map_err(|e| TrainError::run(&path, format!("not a run description: {e}")))?;
    if info.format_version != RUN_FORMAT_VERSION {
        return Err(TrainError::run(
            &path,
            format!(
                "run format {} (this build reads {RUN_FORMAT_VERSION})",
                info.format_version
            ),
        ));
    }
    Ok(info)
}

/// Writes bytes atomically (temporary file in the same folder, then rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| TrainError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    readable_by_all(tmp.path())?;
    tmp.persist(path)
        .map_err(|e| TrainError::io(path, e.error))?;
    Ok(())
}

/// Gives a file written through an owner-only temporary file (tempfile's, safetensors') the
/// ordinary `rw-r--r--` permissions of a run's files.
pub(crate) fn readable_by_all(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| TrainError::io(path, e))?;
    }
    Ok(())
}

/// Writes a JSON value atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| TrainError::run(path, e.to_string()))?;
    write_atomic(path, &bytes)
}
