//! The error type of this crate.

use std::path::PathBuf;

/// What can go wrong training, evaluating or applying a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// An unusable configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A run folder or checkpoint that is missing pieces or does not fit.
    #[error("{path}: {message}")]
    Run {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Bad input data (wrong shape, NaN, too many missing points).
    #[error("{0}")]
    Input(String),
    /// A loss became NaN or infinite.
    #[error(
        "step {step}: the {task} loss is {value} (training stopped; the last good checkpoint is kept)"
    )]
    NonFinite {
        /// Training step.
        step: usize,
        /// Task whose loss diverged.
        task: &'static str,
        /// The value.
        value: f32,
    },
    /// The dataset layer failed.
    #[error(transparent)]
    Dataset(#[from] wonhee_dataset::DatasetError),
    /// The model layer failed.
    #[error(transparent)]
    Model(#[from] wonhee_model::ModelError),
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// An evaluation computation failed.
    #[error(transparent)]
    Eval(#[from] wonhee_eval::EvalError),
    /// A run file could not be read, or a configuration value is invalid.
    #[error(transparent)]
    Schema(#[from] wonhee_schema::SchemaError),
    /// An atomic write failed (the message names the file).
    #[error(transparent)]
    Fs(#[from] wonhee_fs::FsError),
    /// Reading a WFDB record failed.
    #[error(transparent)]
    Wfdb(#[from] wonhee_wfdb::WfdbError),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn run(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Run {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
