//! A trained run folder loaded for evaluation or inference (its files: [`wonhee_schema`]).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use wonhee_model::WonHee;
use wonhee_schema::{CONFIG_FILE, MODEL_FILE, RunConfig, RunInfo};

use crate::error::{Result, TrainError};

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
        let info = RunInfo::read(&dir)?;
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
