//! The error type of this crate.

use std::path::{Path, PathBuf};

/// A configuration or run file that cannot be read, parsed or accepted.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A model configuration value is invalid (names the field).
    #[error("invalid model config: {0}")]
    ModelConfig(String),
    /// A model configuration file could not be read or parsed.
    #[error("model config {path}: {msg}")]
    ModelConfigFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An unusable run configuration (names its source and the field).
    #[error("configuration: {0}")]
    RunConfig(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file that is not what it should be (unparsable, another format version); `line` is
    /// 1-based, for line-oriented files.
    #[error("{}{}: {msg}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    File {
        /// The file.
        path: PathBuf,
        /// Line (1-based), where known.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// An atomic write failed.
    #[error(transparent)]
    Fs(#[from] wonhee_fs::FsError),
}

impl SchemaError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub(crate) fn file(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Self::File {
            path: path.as_ref().to_path_buf(),
            line: None,
            msg: msg.into(),
        }
    }

    pub(crate) fn at_line(path: impl AsRef<Path>, line: usize, msg: impl Into<String>) -> Self {
        Self::File {
            path: path.as_ref().to_path_buf(),
            line: Some(line),
            msg: msg.into(),
        }
    }
}

/// `Result` with [`SchemaError`].
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;
