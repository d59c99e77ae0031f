//! The one error type: an I/O failure, naming the path and what was being done.

use std::path::{Path, PathBuf};

/// A file-system operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}: {source}", path.display())]
pub struct FsError {
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What was being done (`cannot create a temporary file`, ...).
    pub what: &'static str,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

impl FsError {
    /// An error about `path`.
    pub fn new(path: impl AsRef<Path>, what: &'static str, source: std::io::Error) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            what,
            source,
        }
    }
}

/// `Result` with [`FsError`].
pub type Result<T, E = FsError> = std::result::Result<T, E>;
