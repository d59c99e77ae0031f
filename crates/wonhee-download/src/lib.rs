//! Getting MIT-BIH onto disk and making sure it is intact.
//!
//! * [`verify`] / [`check`]: hash every file listed in a folder's `SHA256SUMS` (in parallel) and
//!   report missing or changed files.
//! * [`download`]: fetch a PhysioNet release (MIT-BIH 1.0.0 by default, [`PHYSIONET_MITDB`]):
//!   its checksum list first, then every file it lists, each into `<name>.part`, resumed with an
//!   HTTP `Range` request after an interruption, checked against its checksum and only then
//!   renamed into place. Dropped connections and 5xx answers are retried with backoff; a file
//!   whose checksum does not match is deleted and fetched again.
//! * [`locate_mitdb`]: where the data is (`--data`, `$WONHEE_MITDB`, `data/mitdb`,
//!   `../shared/data/mitdb`), re-exported from [`wonhee_fs`], which the CLI, `cargo xtask
//!   pipeline`, the tests and the benches share.
//!
//! ```no_run
//! use std::path::Path;
//! use wonhee_download::{DownloadOptions, PHYSIONET_MITDB, download, locate_mitdb, verify};
//!
//! # fn main() -> Result<(), wonhee_download::Error> {
//! let dir = match locate_mitdb(None, Path::new(".")) {
//!     Some((dir, _source)) => dir,
//!     None => {
//!         let dest = Path::new("data/mitdb");
//!         download(PHYSIONET_MITDB, dest, &DownloadOptions::default())?;
//!         dest.to_path_buf()
//!     }
//! };
//! let report = verify(&dir)?;
//! println!("{} files verified", report.files);
//! # Ok(())
//! # }
//! ```

mod download;
mod error;
mod sums;
#[cfg(feature = "test-server")]
pub mod testing;
mod verify;

pub use download::{DownloadOptions, DownloadReport, Progress, ProgressFn, download};
pub use error::{Error, Result};
pub use sums::{Entry, SUMS_FILE, parse_sums, read_sums, sha256_file};
pub use verify::{Problem, ProblemKind, VerifyReport, check, verify};
// Where the MIT-BIH data is, and a folder's checksum list: wonhee-fs's, re-exported for the CLI.
pub use wonhee_fs::{DEFAULT_DIR, ENV_VAR, Source, find_sums, locate_mitdb};

/// The MIT-BIH Arrhythmia Database 1.0.0 on PhysioNet.
pub const PHYSIONET_MITDB: &str = "https://physionet.org/files/mitdb/1.0.0/";
