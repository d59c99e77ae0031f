//! [`ReportError`]: every failure names the file (and line, where there is one).

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading a file (or creating the output folder) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is malformed or inconsistent; `line` is 1-based where known.
    #[error("{}{}: {msg}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line (1-based), for line-oriented files.
        line: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// A run or dataset file read through its schema (`config.toml`, `run.json`,
    /// `metrics.jsonl`, `examples.json`, `summary.json`) is unreadable; the message names the
    /// file, and the line where there is one.
    #[error(transparent)]
    Schema(#[from] wonhee_schema::SchemaError),
    /// Writing a report file failed (the message names the file).
    #[error(transparent)]
    Fs(#[from] wonhee_fs::FsError),
    /// Drawing a figure failed.
    #[error("figure {name}: {msg}")]
    Plot {
        /// The figure's file stem.
        name: String,
        /// What went wrong.
        msg: String,
    },
    /// The inputs cannot make a report (for example, no run given).
    #[error("{0}")]
    Inputs(String),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            line: None,
            msg: msg.into(),
        }
    }

    pub(crate) fn at_line(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            line: Some(line),
            msg: msg.into(),
        }
    }
}

/// Result with [`ReportError`].
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
