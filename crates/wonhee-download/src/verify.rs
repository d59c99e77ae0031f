//! Checking a folder against its checksum list.

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::sums::{Entry, read_sums, sha256_file, to_hex};
use crate::{Error, Result};

/// What [`check`] found in a folder.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The folder.
    pub dir: PathBuf,
    /// The checksum list that was used.
    pub sums: PathBuf,
    /// Number of files the list names.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Every missing, unreadable or changed file, in list order (empty when all is well).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when every listed file is present with the right checksum.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The report itself when there are no problems, else [`Error::Verify`].
    pub fn into_result(self) -> Result<Self> {
        if self.is_ok() {
            Ok(self)
        } else {
            Err(Error::Verify {
                dir: self.dir,
                files: self.files,
                problems: self.problems,
            })
        }
    }
}

/// One file that failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file's name in the list.
    pub name: String,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file does not exist.
    Missing,
    /// The file exists but could not be read.
    Unreadable(String),
    /// The file's SHA-256 differs from the list's.
    Mismatch {
        /// SHA-256 in the list (hex).
        expected: String,
        /// SHA-256 of the file (hex).
        actual: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::Missing => write!(f, "{}: missing", self.name),
            ProblemKind::Unreadable(e) => write!(f, "{}: unreadable: {e}", self.name),
            ProblemKind::Mismatch { expected, actual } => write!(
                f,
                "{}: checksum mismatch (expected {expected}, found {actual})",
                self.name
            ),
        }
    }
}

/// Hashes every file listed in `dir`'s `SHA256SUMS` (or `SHA256SUMS.txt`) in parallel and lists
/// every problem without failing on them.
///
/// Fails only when the list itself is missing, unreadable or malformed. Files in the folder that
/// the list does not name are ignored.
pub fn check(dir: &Path) -> Result<VerifyReport> {
    let (sums, entries) = read_sums(dir)?;
    let results: Vec<(u64, Option<Problem>)> =
        entries.par_iter().map(|e| check_entry(dir, e)).collect();
    let bytes = results.iter().map(|r| r.0).sum();
    let problems: Vec<Problem> = results.into_iter().filter_map(|r| r.1).collect();
    for p in &problems {
        tracing::warn!(dir = %dir.display(), "{p}");
    }
    tracing::info!(
        dir = %dir.display(),
        files = entries.len(),
        bytes,
        problems = problems.len(),
        "verified"
    );
    Ok(VerifyReport {
        dir: dir.to_path_buf(),
        sums,
        files: entries.len(),
        bytes,
        problems,
    })
}

/// Like [`check`], but any missing or changed file is an [`Error::Verify`] naming the files.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    check(dir)?.into_result()
}

/// Bytes hashed and the problem, if any, of one listed file.
fn check_entry(dir: &Path, e: &Entry) -> (u64, Option<Problem>) {
    let path = e.path_in(dir);
    let problem = |kind| {
        Some(Problem {
            name: e.name.clone(),
            kind,
        })
    };
    match sha256_file(&path) {
        Ok((hash, len)) if hash == e.sha256 => (len, None),
        Ok((hash, len)) => (
            len,
            problem(ProblemKind::Mismatch {
                expected: e.hex(),
                actual: to_hex(&hash),
            }),
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            (0, problem(ProblemKind::Missing))
        }
        Err(err) => (0, problem(ProblemKind::Unreadable(err.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sums::sha256_bytes;

    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut list = String::new();
        for (name, data) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
            list.push_str(&format!("{}  {name}\n", to_hex(&sha256_bytes(data))));
        }
        std::fs::write(dir.path().join("SHA256SUMS"), list).unwrap();
        dir
    }

    #[test]
    fn intact_folder_verifies() {
        let dir = folder(&[("a.dat", b"hello"), ("sub/b.hea", b""), ("c", &[7u8; 3000])]);
        let r = verify(dir.path()).unwrap();
        assert_eq!((r.files, r.bytes), (3, 3005));
        assert!(r.is_ok());
        assert_eq!(r.sums, dir.path().join("SHA256SUMS"));
    }

    #[test]
    fn every_problem_is_listed_and_named() {
        let dir = folder(&[("a.dat", b"hello"), ("b.hea", b"x"), ("c.atr", b"y")]);
        std::fs::write(dir.path().join("a.dat"), b"hellO").unwrap();
        std::fs::remove_file(dir.path().join("c.atr")).unwrap();
        // A folder where a file should be: exists but cannot be read as a file.
        std::fs::remove_file(dir.path().join("b.hea")).unwrap();
        std::fs::create_dir(dir.path().join("b.hea")).unwrap();
        let r = check(dir.path()).unwrap();
        assert!(!r.is_ok());
        assert_eq!(r.files, 3);
        let names: Vec<_> = r.problems.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a.dat", "b.hea", "c.atr"]);
        assert_eq!(
            r.problems[0].kind,
            ProblemKind::Mismatch {
                expected: to_hex(&sha256_bytes(b"hello")),
                actual: to_hex(&sha256_bytes(b"hellO")),
            }
        );
        assert!(matches!(r.problems[1].kind, ProblemKind::Unreadable(_)));
        assert_eq!(r.problems[2].kind, ProblemKind::Missing);
        let err = verify(dir.path()).unwrap_err().to_string();
        assert!(err.contains("3 of 3 files failed verification"), "{err}");
        assert!(err.contains("a.dat: checksum mismatch"), "{err}");
        assert!(err.contains("c.atr: missing"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn long_problem_lists_are_shortened_in_the_error() {
        let files: Vec<(String, Vec<u8>)> =
            (0..8).map(|i| (format!("f{i}"), vec![i as u8])).collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let dir = folder(&refs);
        for (n, _) in &files {
            std::fs::remove_file(dir.path().join(n)).unwrap();
        }
        assert_eq!(check(dir.path()).unwrap().problems.len(), 8);
        let err = verify(dir.path()).unwrap_err().to_string();
        assert!(err.contains("8 of 8 files"), "{err}");
        assert!(err.contains("f4: missing; and 3 more"), "{err}");
        assert!(!err.contains("f5"), "{err}");
    }

    #[test]
    fn missing_list_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no SHA256SUMS"), "{err}");
    }
}
