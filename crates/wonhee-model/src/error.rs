//! Error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong building, running, saving or loading the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is invalid (names the field).
    #[error("invalid model config: {0}")]
    Config(String),
    /// A configuration file could not be read or parsed.
    #[error("model config {path}: {msg}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An input tensor has the wrong shape, dtype or values.
    #[error("bad model input: {0}")]
    Input(String),
    /// A device string could not be parsed or the device is not available.
    #[error("device {spec:?}: {msg}")]
    Device {
        /// The string as given.
        spec: String,
        /// What went wrong.
        msg: String,
    },
    /// A weights file is missing tensors, has tensors of the wrong shape, or is unreadable.
    #[error("weights {path}: {msg}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A configuration file could not be read, or a value is invalid (from [`wonhee_schema`]).
    #[error(transparent)]
    Schema(#[from] wonhee_schema::SchemaError),
    /// An atomic write failed (the message names the file).
    #[error(transparent)]
    Fs(#[from] wonhee_fs::FsError),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result with [`ModelError`].
pub type Result<T> = std::result::Result<T, ModelError>;
