//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing WFDB files.
///
/// Every variant names the file it concerns and, where it makes sense, the line (headers,
/// 1-based) or the byte offset (signal and annotation files, 0-based) of the problem.
#[derive(Debug, thiserror::Error)]
pub enum WfdbError {
    /// The operating system refused a read or a write.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said (shown in the message, so not a `source()`).
        error: std::io::Error,
    },
    /// A header line that does not follow the WFDB header syntax.
    #[error("{path}:{line}: {message}")]
    Header {
        /// The `.hea` file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A signal or annotation file that is shorter than its header or its own framing says.
    #[error("{path}: truncated at byte {offset}: {message}")]
    Truncated {
        /// The file concerned.
        path: PathBuf,
        /// 0-based byte offset where data is missing.
        offset: u64,
        /// What was expected there.
        message: String,
    },
    /// Malformed content in an annotation file.
    #[error("{path}: byte {offset}: {message}")]
    Annotation {
        /// The annotation file.
        path: PathBuf,
        /// 0-based byte offset of the offending 16-bit word.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A FLAC-compressed signal file (formats 508, 516, 524) whose stream the decoder refuses
    /// or whose content does not fit the header (a stream cut short is
    /// [`WfdbError::Truncated`]).
    #[error("{path}: FLAC stream, at sample {sample} (per channel): {message}")]
    Flac {
        /// The signal file.
        path: PathBuf,
        /// 0-based sample number of the stream (per channel) where decoding stopped.
        sample: u64,
        /// What is wrong.
        message: String,
    },
    /// A valid WFDB feature this crate does not implement (e.g. multi-segment records).
    #[error("{path}: unsupported: {what}")]
    Unsupported {
        /// The file that uses the feature.
        path: PathBuf,
        /// The feature.
        what: String,
    },
    /// Writing a file failed (the message names the file and the step: creating the temporary
    /// file beside it, writing, or renaming it into place).
    #[error(transparent)]
    Write(#[from] wonhee_fs::FsError),
    /// A request that does not fit the record (unknown signal index, bad writer input).
    #[error("{path}: {message}")]
    InvalidInput {
        /// The record or file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl WfdbError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self::Unsupported {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = WfdbError> = std::result::Result<T, E>;
