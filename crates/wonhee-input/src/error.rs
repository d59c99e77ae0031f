//! The one error type of this crate.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading or writing a recording.
///
/// Every variant names the file and, where it makes sense, the place in it: the line and
/// column of a CSV file (1-based), the header field, signal or data record of an EDF file
/// (with its byte offset, 0-based).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The operating system refused a read.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said (shown in the message, so not a `source()`).
        error: std::io::Error,
    },
    /// A WFDB record that could not be read (the message names the file and the place).
    #[error(transparent)]
    Wfdb(#[from] wonhee_wfdb::WfdbError),
    /// Writing a file failed (the message names the file and the step).
    #[error(transparent)]
    Write(#[from] wonhee_fs::FsError),
    /// An EDF file that does not follow the EDF specification, or is cut short.
    #[error("{path}: {place}: {message}")]
    Edf {
        /// The EDF file.
        path: PathBuf,
        /// Where: a header field, a signal's field or a data record, with its byte offset.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A CSV cell or row that cannot be read.
    #[error("{path}: line {line}{}: {message}", at_column(.column))]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The column, when one cell is at fault.
        column: Option<Column>,
        /// What is wrong.
        message: String,
    },
    /// A valid file using a feature this crate does not read (EDF+D, BDF).
    #[error("{path}: unsupported: {what}")]
    Unsupported {
        /// The file that uses the feature.
        path: PathBuf,
        /// The feature.
        what: String,
    },
    /// A file or request that does not fit as a whole: no sampling rate for a CSV file, a rate
    /// that disagrees with the file's, an unknown lead, leads a writer cannot store.
    #[error("{path}: {message}")]
    Invalid {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A CSV column named in an error: its 1-based position and its name (the header's, or the
/// lead's 0-based index when the file has no header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// 1-based position in the row.
    pub index: usize,
    /// The column's name.
    pub name: String,
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (`{}`)", self.index, self.name)
    }
}

fn at_column(column: &Option<Column>) -> String {
    column
        .as_ref()
        .map(|c| format!(", column {c}"))
        .unwrap_or_default()
}

impl InputError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn edf(path: &Path, place: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Edf {
            path: path.to_path_buf(),
            place: place.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(path: &Path, what: impl Into<String>) -> Self {
        Self::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}
