//! Where the MIT-BIH data is: one rule for the CLI, `cargo xtask`, the tests and the benches.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable that names the MIT-BIH folder.
pub const ENV_VAR: &str = "WONHEE_MITDB";

/// Default folder, relative to the repository root, that `wonhee download` fills.
pub const DEFAULT_DIR: &str = "data/mitdb";

/// Names a folder's checksum list may have, in the order they are looked for.
pub const SUMS_NAMES: [&str; 2] = ["SHA256SUMS", "SHA256SUMS.txt"];

/// The checksum list of `dir`, if it has one.
pub fn find_sums(dir: &Path) -> Option<PathBuf> {
    SUMS_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

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
/// typo is reported when the folder is read rather than silently replaced by a download).
/// The two default folders count only when they hold a checksum list (`SHA256SUMS` or
/// `SHA256SUMS.txt`); `wonhee download` writes that list last, so an interrupted download is
/// not mistaken for data. `None` means: download into `repo_root/data/mitdb`.
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

/// [`locate_mitdb`] for tools that cannot download (tests, benches, `cargo xtask`): the folder
/// it finds, which must hold a `RECORDS` file, or an error saying where it looked.
pub fn mitdb_or_error(explicit: Option<&Path>, repo_root: &Path) -> Result<PathBuf, String> {
    match locate_mitdb(explicit, repo_root) {
        Some((dir, _)) if dir.join("RECORDS").is_file() => Ok(dir),
        Some((dir, source)) => Err(format!(
            "{}: no MIT-BIH here (no RECORDS file), given by {source}",
            dir.display()
        )),
        None => Err(format!(
            "MIT-BIH not found: pass --data DIR, set {ENV_VAR}, or place it (with its \
             SHA256SUMS) at {} or {}",
            repo_root.join(DEFAULT_DIR).display(),
            repo_root.join("../shared/data/mitdb").display()
        )),
    }
}

/// The workspace root above `start` (the nearest folder whose `Cargo.toml` has a
/// `[workspace]` table), else `start` itself. Tests and benches pass their crate's runtime
/// `CARGO_MANIFEST_DIR`: a shared target folder may hold binaries built from another checkout.
pub fn workspace_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .unwrap_or(start)
        .to_path_buf()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
        // Explicit wins even when it does not exist: reading it reports it.
        let explicit = Path::new("no/such/dir");
        assert_eq!(
            locate_with_env(Some(explicit), Some(env), &root),
            Some((explicit.to_path_buf(), Source::Explicit))
        );
        assert_eq!(Source::Shared.to_string(), "../shared/data/mitdb");

        // Without RECORDS, tools that cannot download get an error naming the place.
        let e = mitdb_or_error(Some(&local), &root).unwrap_err();
        assert!(e.contains("no RECORDS") && e.contains("--data"), "{e}");
        std::fs::write(local.join("RECORDS"), b"100\n").unwrap();
        assert_eq!(mitdb_or_error(Some(&local), &root).unwrap(), local);
    }

    #[test]
    fn workspace_root_is_found_from_a_member() {
        let top = tempfile::tempdir().unwrap();
        let member = top.path().join("crates").join("a");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        std::fs::write(top.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        assert_eq!(workspace_root(&member), top.path());
        let lone = tempfile::tempdir().unwrap();
        assert_eq!(workspace_root(lone.path()), lone.path());
    }
}
