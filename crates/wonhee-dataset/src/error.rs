//! The error type of this crate.

use std::path::PathBuf;

/// What can go wrong preparing, storing or loading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Reading a WFDB record failed (the message names the file and place).
    #[error(transparent)]
    Wfdb(#[from] wonhee_wfdb::WfdbError),
    /// The operating system refused a read or write.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said (shown in the message, so not a `source()`).
        error: std::io::Error,
    },
    /// A file whose content is not what a prepared dataset holds.
    #[error("{path}: {message}")]
    Invalid {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A configuration that cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// `summary.json` could not be read or is not a dataset summary (the message names it).
    #[error(transparent)]
    Schema(#[from] wonhee_schema::SchemaError),
    /// An atomic write failed (the message names the file).
    #[error(transparent)]
    Fs(#[from] wonhee_fs::FsError),
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;
