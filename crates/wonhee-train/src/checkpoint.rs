//! The checkpoint folder (`RUN/checkpoint/`): weights, optimizer moments and every random
//! stream's position, so a resumed run ends with the same bits as an uninterrupted one.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use wonhee_dataset::RngState;
use wonhee_model::DropoutState;
use wonhee_schema::{CHECKPOINT_DIR, MODEL_FILE};

use crate::error::{Result, TrainError};
use crate::learner::Learner;
use crate::validate::ValReport;

const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";

/// Everything besides tensors that a checkpoint restores (`state.json`; field names are the
/// file's keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub step: usize,
    pub total_steps: usize,
    pub config_sha256: String,
    pub sampler: RngState,
    /// Shuffle sampler: its state before the current epoch's permutation, and the position in it.
    pub shuffler_epoch_start: Option<RngState>,
    pub shuffle_pos: usize,
    pub masks_pos: u128,
    pub noise_pos: u128,
    /// Augmentation stream (absent in checkpoints written before augmentation existed).
    #[serde(default)]
    pub augment_pos: u128,
    pub pcgrad_pos: u128,
    pub dropout: DropoutState,
    pub train_seconds: f64,
    pub last_val: Option<ValReport>,
}

/// Writes `run/checkpoint/` whole (a new folder renamed over the old one).
pub(crate) fn save(run: &Path, learner: &Learner, state: &State) -> Result<()> {
    wonhee_fs::write_dir_with(&run.join(CHECKPOINT_DIR), |dir| -> Result<()> {
        wonhee_model::save_weights(learner.varmap(), dir.join(MODEL_FILE))?;
        let opt: HashMap<String, Tensor> =
            learner.optimizer().state_tensors().into_iter().collect();
        let opt_path = dir.join(OPTIMIZER_FILE);
        wonhee_fs::write_path_with(&opt_path, |tmp| -> Result<()> {
            Ok(candle_core::safetensors::save(&opt, tmp)?)
        })?;
        wonhee_fs::write_json(&dir.join(STATE_FILE), state)?;
        Ok(())
    })
}

/// Loads `run/checkpoint/` into `learner` (weights, optimizer moments) and returns its state.
pub(crate) fn load(run: &Path, learner: &mut Learner) -> Result<State> {
    let dir = run.join(CHECKPOINT_DIR);
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: State =
        serde_json::from_slice(&text).map_err(|e| TrainError::run(&state_path, e.to_string()))?;
    wonhee_model::load_weights(learner.varmap(), dir.join(MODEL_FILE))?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    let tensors = candle_core::safetensors::load(&opt_path, &Device::Cpu)
        .map_err(|e| TrainError::run(&opt_path, e.to_string()))?;
    learner
        .optimizer_mut()
        .load_state(&|k| tensors.get(k).cloned(), state.step)
        .map_err(|m| TrainError::run(&opt_path, m))?;
    Ok(state)
}
