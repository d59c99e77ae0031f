//! The file-system helpers every WonHEE-rs crate shares: atomic writes of files and folders
//! ([`write_atomic`], [`write_file_with`], [`write_path_with`], [`write_json`],
//! [`write_dir_with`]) and where the MIT-BIH data is ([`locate_mitdb`]).
//!
//! A write never leaves a half-written file at its destination: the bytes go to a temporary
//! file beside it (same folder, so the final rename is atomic), which gets the ordinary
//! `rw-r--r--` permissions (temporary files are owner-only) and is renamed into place only
//! once complete. On any error the temporary file is removed and the destination is left as
//! it was.
//!
//! ```no_run
//! use std::path::Path;
//!
//! # fn main() -> Result<(), wonhee_fs::FsError> {
//! wonhee_fs::write_atomic(Path::new("out/table.csv"), b"a,b\n1,2\n")?;
//! let mitdb = wonhee_fs::locate_mitdb(None, Path::new("."));
//! # Ok(()) }
//! ```
//!
//! This is the lowest crate of the workspace: it depends on no other project crate.

mod atomic;
mod error;
mod locate;

pub use atomic::{write_atomic, write_dir_with, write_file_with, write_json, write_path_with};
pub use error::{FsError, Result};
pub use locate::{
    DEFAULT_DIR, ENV_VAR, SUMS_NAMES, Source, find_sums, locate_mitdb, mitdb_or_error,
    workspace_root,
};
