//! The files WonHEE-rs writes and reads, as typed serde schemas shared by their writers and
//! readers (so no reader mirrors a writer's `json!` by hand):
//!
//! | file | type | written by | read by |
//! |---|---|---|---|
//! | run configuration (`configs/*.toml`, `RUN/config.toml`) | [`RunConfig`] = [`ModelConfig`] + [`TrainConfig`] | the user, `wonhee train` | train, eval, predict, report |
//! | `PREPARED/summary.json` | [`Summary`] (with [`PrepareConfig`]) | `wonhee prepare` | dataset loader, report |
//! | `RUN/run.json` | [`RunInfo`] | `wonhee train` | eval, predict, report |
//! | `RUN/metrics.jsonl` | [`LogLine`] per line, read as a [`TrainingLog`] | `wonhee train` | report |
//! | `RUN/examples.json` | [`Examples`] | `wonhee eval` | report |
//!
//! `metrics.json` is `wonhee_eval::Metrics`, owned by the crate that computes it.
//!
//! This crate has no tensors and no data frames: a reader links serde, not candle or polars.
//!
//! ```no_run
//! use std::path::Path;
//! use wonhee_schema::{RunConfig, RunInfo, TrainingLog};
//!
//! # fn main() -> wonhee_schema::Result<()> {
//! let run = Path::new("runs/quick");
//! let cfg = RunConfig::from_toml_file(&run.join(wonhee_schema::CONFIG_FILE))?;
//! let info = RunInfo::read(run)?;
//! let log = TrainingLog::read(&run.join(wonhee_schema::METRICS_LOG))?;
//! println!("{} steps of d = {}", info.steps_done, cfg.model.d_model);
//! # Ok(()) }
//! ```

mod dataset;
mod error;
mod examples;
mod log;
mod model;
mod run;
mod train;

pub use dataset::{
    BEATS_FILE, ClassCounts, ClassScheme, FORMAT_VERSION, InputFile, OverlapStats, PrepareConfig,
    RecordSummary, ResampleMethod, SIGNALS_FILE, SIGNALS2_FILE, SUMMARY_FILE, SecondLead, Side,
    SideSummary, SplitKind, Summary, WINDOWS_FILE,
};
pub use error::{Result, SchemaError};
pub use examples::{Example, Examples};
pub use log::{LogLine, TrainPoint, TrainingLog, ValPoint, truncate_log};
pub use model::{FfnKind, Flops, ImputeBase, LEAD2_CONTEXT_INPUTS, MissingInput, ModelConfig};
pub use run::{
    CHECKPOINT_DIR, CONFIG_FILE, DatasetInfo, EXAMPLES_FILE, INFO_FILE, METRICS_FILE, METRICS_LOG,
    MODEL_FILE, RUN_FORMAT_VERSION, RunInfo,
};
pub use train::{Combine, RunConfig, SamplerKind, Schedule, TrainConfig, class_weight};
