//! The crate's error type.

use std::path::PathBuf;

use crate::verify::Problem;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while verifying or downloading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing a local file atomically failed (the message names the file and the step).
    #[error(transparent)]
    Write(#[from] wonhee_fs::FsError),
    /// The folder has no checksum list.
    #[error("{}: no SHA256SUMS (or SHA256SUMS.txt) in this folder", dir.display())]
    NoSums {
        /// The folder.
        dir: PathBuf,
    },
    /// A line of a checksum list is malformed.
    #[error("{place}, line {line}: {reason}")]
    BadSums {
        /// The file or URL of the list.
        place: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Files are missing or differ from their checksums.
    #[error("{}: {} of {files} files failed verification: {}", dir.display(), problems.len(), summary(problems))]
    Verify {
        /// The folder.
        dir: PathBuf,
        /// Number of files the list names.
        files: usize,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The base URL is not an `http://` or `https://` URL.
    #[error("{url}: not an http:// or https:// URL")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The server refused a file (an HTTP status that retrying will not change, e.g. 404).
    #[error("{url}: server answered HTTP {status}")]
    Http {
        /// The file's URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// None of the checksum list names exist on the server.
    #[error("{base}: no checksum list on the server (tried {tried})")]
    NoRemoteSums {
        /// The base URL.
        base: String,
        /// The names tried, comma-separated.
        tried: String,
    },
    /// The downloaded checksum list does not have the pinned SHA-256.
    #[error("{url}: checksum list has SHA-256 {actual}, expected {expected}")]
    SumsPin {
        /// The list's URL.
        url: String,
        /// The pinned hash.
        expected: String,
        /// The hash of what was downloaded.
        actual: String,
    },
    /// A file could not be fetched intact within the allowed attempts.
    #[error("{name}: gave up after {attempts} attempt(s) from {url}: {last}")]
    GaveUp {
        /// The file's name in the list.
        name: String,
        /// The file's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong the last time.
        last: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The first few problems, `; `-separated, and how many more there are.
fn summary(problems: &[Problem]) -> String {
    const SHOWN: usize = 5;
    let mut s = problems
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        s.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    s
}
