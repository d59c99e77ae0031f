//! Where the MIT-BIH data is.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::sums::find_sums;

/// Environment variable that names the MIT-BIH folder.
pub const ENV_VAR: &str = "WONHEE_MITDB";

/// Default folder (relative to the repository root or the current directory) that
/// `wonhee download` fills.
pub const DEFAULT_DIR: &str = "data/mitdb";

/// Where [`locate_mitdb`] found the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Named explicitly (`--data`).
    Explicit,
    /// Named by `$WONHEE_MITDB`.
    Env,
    /// `data/mitdb` under the repository root.
    Local,
    /// `../shared/data/mitdb` beside the repository root.
    Shared,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Explicit => "--data",
            Source::Env => "$WONHEE_MITDB",
            Source::Local => "data/mitdb",
            Source::Shared => "../shared/data/mitdb",
        })
    }
}

/// Finds the MIT-BIH folder, without downloading: `explicit` (`--data`) if given, else
/// `$WONHEE_MITDB` if set and non-empty, else `repo_root/data/mitdb`, else
/// `repo_root/../shared/data/mitdb`.
///
/// An explicit or environment path is returned as given, whether it exists or not (so that a
/// typo is reported by [`verify`](crate::verify) rather than silently replaced by a download).
/// The two default folders count only when they hold a checksum list (`SHA256SUMS` or
/// `SHA256SUMS.txt`); [`download`](crate::download) writes that list last, so an interrupted
/// download is not mistaken for data. `None` means: download into `repo_root/data/mitdb`.
pub fn locate_mitdb(explicit: Option<&Path>, repo_root: &Path) -> Option<(PathBuf, Source)> {
    locate_with_env(explicit, std::env::var_os(ENV_VAR).as_deref(), repo_root)
}

/// [`locate_mitdb`] with the environment variable's value passed in.
fn locate_with_env(
    explicit: Option<&Path>,
    env: Option<&OsStr>,
    repo_root: &Path,
) -> Option<(PathBuf, Source)> {
    if let Some(p) = explicit {
        return Some((p.to_path_buf(), Source::Explicit));
    }
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(v), Source::Env));
    }
    let local = repo_root.join(DEFAULT_DIR);
    if find_sums(&local).is_some() {
        return Some((local, Source::Local));
    }
    let shared = repo_root
        .join("..")
        .join("shared")
        .join("data")
        .join("mitdb");
    if find_sums(&shared).is_some() {
        return Some((shared, Source::Shared));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_explicit_env_local_shared() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("repo");
        let local = root.join("data").join("mitdb");
        let shared = top.path().join("shared").join("data").join("mitdb");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&shared).unwrap();
        let env = OsStr::new("/somewhere/mitdb");

        // Nothing holds a checksum list yet (an interrupted download looks like this).
        std::fs::write(local.join("100.dat"), b"x").unwrap();
        assert_eq!(locate_with_env(None, None, &root), None);
        assert_eq!(locate_with_env(None, Some(OsStr::new("")), &root), None);

        std::fs::write(shared.join("SHA256SUMS"), b"").unwrap();
        assert_eq!(
            locate_with_env(None, None, &root),
            Some((root.join("../shared/data/mitdb"), Source::Shared))
        );
        std::fs::write(local.join("SHA256SUMS.txt"), b"").unwrap();
        assert_eq!(
            locate_with_env(None, None, &root),
            Some((local.clone(), Source::Local))
        );
        assert_eq!(
            locate_with_env(None, Some(env), &root),
            Some((PathBuf::from("/somewhere/mitdb"), Source::Env))
        );
        // Explicit wins even when it does not exist: verify reports it.
        let explicit = Path::new("no/such/dir");
        assert_eq!(
            locate_with_env(Some(explicit), Some(env), &root),
            Some((explicit.to_path_buf(), Source::Explicit))
        );
        assert_eq!(Source::Shared.to_string(), "../shared/data/mitdb");
    }
}
