//! Multi-task training of the WonHEE model, evaluation, and inference on new data: the only
//! crate that joins datasets and the model.
//!
//! Every training step draws one class-balanced batch and runs all three tasks on it:
//! classification of the full window, imputation with K random points hidden and forecasting
//! with the trailing K points hidden (K uniform in `[mask_min, mask_max]`, 200..=540 by
//! default). The loss is `w_c * cross-entropy + w_i * MSE(hidden) + w_f * MSE(hidden)`; each
//! task is backpropagated on its own (one graph alive at a time) and the gradients are summed,
//! or combined by PCGrad. AdamW with optional warm-up + cosine schedule and gradient clipping.
//!
//! Modules, in the order data flows through them:
//! - [`Trainer`] (`trainer.rs`): a run folder, step by step (`new`/`resume`, `next_batch`,
//!   `step`, `validate`, `checkpoint`, `finish`); [`train`] runs one to the end;
//! - `batch.rs`: which windows form a batch and what is hidden ([`Batch`]);
//! - [`Learner`] (`learner.rs`): the training step itself, which `wonhee bench train` times;
//! - `validate.rs`, `checkpoint.rs`: validation during training, bitwise-resumable checkpoints;
//! - [`evaluate`] (`evaluate.rs`): `wonhee eval` on the held-out side;
//! - `classify.rs`: the beats of any lead at given positions ([`classify_beats`]);
//! - `infer.rs`: inference on new data ([`fill_window`], [`predict_record`]);
//! - [`adapt`] (`adapt.rs`): the patient-specific protocol (`wonhee adapt`), each held-out
//!   record's model fine-tuned on its first minutes;
//! - [`embed_windows`] (`embed.rs`): [CLS] embeddings for `wonhee tsne --run`;
//! - [`Run`] (`run.rs`): a finished run folder loaded for the three above.
//!
//! The run folder's files are typed in [`wonhee_schema`]; the configuration types are
//! re-exported here.
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

mod adapt;
mod batch;
mod checkpoint;
mod classify;
mod embed;
mod error;
mod evaluate;
mod infer;
mod learner;
pub mod optim;
pub mod pcgrad;
mod run;
mod trainer;
mod validate;

pub use adapt::{AdaptOptions, Adaptation, RecordAdaptation, adapt};
pub use batch::{Batch, lead2_batch, rhythm_batch};
pub use classify::{BeatClass, classify_beats};
pub use embed::embed_windows;
pub use error::{Result, TrainError};
pub use evaluate::{
    EvalOptions, WindowPredictions, check_dataset, eval_side, evaluate, predict_windows,
};
pub use infer::{
    BeatPrediction, Units, fill_window, forecast_after, forecast_batch, impute_batch,
    predict_record,
};
pub use learner::{Learner, StepOutcome, TASKS, masked_mse};
pub use run::Run;
pub use trainer::{StepReport, TrainOptions, TrainSummary, Trainer, device_name, train};
pub use validate::{ValReport, train_val_split, validate};
/// The run configuration and run-file schemas, from [`wonhee_schema`].
pub use wonhee_schema::{
    CHECKPOINT_DIR, CONFIG_FILE, Combine, DatasetInfo, EXAMPLES_FILE, Example, Examples, INFO_FILE,
    METRICS_FILE, METRICS_LOG, MODEL_FILE, RunConfig, RunInfo, SamplerKind, Schedule, TrainConfig,
};
