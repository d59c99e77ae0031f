//! Multi-task training of the WonHEE model, evaluation, and inference on new data.
//!
//! Every training step draws one class-balanced batch and runs all three tasks on it:
//! classification of the full window, imputation with K random points hidden and forecasting
//! with the trailing K points hidden (K uniform in `[mask_min, mask_max]`, 200..=540 by
//! default). The loss is `w_c * cross-entropy + w_i * MSE(hidden) + w_f * MSE(hidden)`; each
//! task is backpropagated on its own (one graph alive at a time) and the gradients are summed,
//! or combined by PCGrad. AdamW with optional warm-up + cosine schedule and gradient clipping.
//!
//! ```no_run
//! use wonhee_train::{RunConfig, TrainOptions, train};
//!
//! # fn main() -> wonhee_train::Result<()> {
//! let cfg = RunConfig::from_toml_file("configs/quick.toml".as_ref())?;
//! let opts = TrainOptions {
//!     device: candle_core::Device::Cpu,
//!     resume: false,
//!     stop_after: None,
//!     on_step: &|r| println!("step {} loss {}", r.step, r.loss_cls),
//!     on_val: &|v| println!("val accuracy {}", v.accuracy),
//! };
//! let summary = train("runs/quick".as_ref(), "prepared".as_ref(), &cfg, &opts)?;
//! # Ok(()) }
//! ```
//!
//! Determinism: every random choice (initialisation, batches, masks, noise, dropout, PCGrad
//! order) comes from a seeded stream whose position is saved in each checkpoint, so a run
//! resumed from a checkpoint ends with the same weights, bit for bit, as an uninterrupted one
//! (on CPU).

mod config;
mod error;
mod evaluate;
pub mod masks;
pub mod optim;
pub mod pcgrad;
mod run;
mod train;

pub use config::{Combine, RunConfig, SamplerKind, Schedule, TrainConfig};
pub use error::{Result, TrainError};
pub use evaluate::{
    BeatPrediction, EvalOptions, Example, Examples, Units, check_dataset, eval_side, evaluate,
    fill_window, forecast_batch, impute_batch, predict_record,
};
pub use run::{
    CHECKPOINT_DIR, CONFIG_FILE, DatasetInfo, EXAMPLES_FILE, INFO_FILE, METRICS_FILE, METRICS_LOG,
    MODEL_FILE, Run, RunInfo, read_info,
};
pub use train::{
    StepReport, TASKS, TrainOptions, TrainSummary, ValReport, checkpoint_dir, device_name,
    masked_mse, rhythm_batch, train, train_val_split, validate,
};
