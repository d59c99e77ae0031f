//! Atomic writes: a temporary file (or folder) beside the destination, renamed into place once
//! complete.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{FsError, Result};

/// Prefix of every temporary file and folder this crate makes (hidden, so listings skip them).
const TMP_PREFIX: &str = ".wonhee-";

/// The folder that holds `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Ordinary `rw-r--r--` permissions for a file written through an owner-only temporary file.
fn readable_by_all(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| FsError::new(path, "cannot set its permissions", e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A fresh temporary file beside `path` (in an existing folder).
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = parent_of(path);
    tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| FsError::new(dir, "cannot create a temporary file", e))
}

/// Renames a finished temporary file onto `path`.
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    readable_by_all(tmp.path())?;
    tmp.persist(path)
        .map_err(|e| FsError::new(path, "cannot move the finished file into place", e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_with(path, |f| {
        f.write_all(bytes)
            .map_err(|e| FsError::new(path, "write failed", e))
    })
}

/// Writes `value` as pretty-printed JSON (no trailing newline) to `path` atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| {
        FsError::new(
            path,
            "cannot encode JSON",
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    write_atomic(path, &bytes)
}

/// Runs `write` on a temporary file beside `path`, flushes it to disk and renames it to
/// `path`. On any error the temporary file is removed and `path` is left untouched.
pub fn write_file_with<E: From<FsError>>(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut tmp = temp_beside(path)?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut()
        .sync_all()
        .map_err(|e| FsError::new(path, "write failed", e))?;
    persist(tmp, path)?;
    Ok(())
}

/// For writers that take a path rather than a file (safetensors): runs `write` with the path
/// of a temporary file beside `path`, then renames that file to `path`.
pub fn write_path_with<E: From<FsError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let tmp = temp_beside(path)?;
    write(tmp.path())?;
    persist(tmp, path)?;
    Ok(())
}

/// Runs `write` on a fresh temporary folder beside `dir`, then puts it in `dir`'s place (an
/// existing `dir` is replaced; its parent is created). On any error the temporary folder is
/// removed and `dir` is left as it was.
pub fn write_dir_with<T, E: From<FsError>>(
    dir: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let parent = parent_of(dir).to_path_buf();
    std::fs::create_dir_all(&parent)
        .map_err(|e| FsError::new(&parent, "cannot create the folder", e))?;
    let tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempdir_in(&parent)
        .map_err(|e| FsError::new(&parent, "cannot create a temporary folder", e))?;
    let value = write(tmp.path())?;
    let moved = |e| FsError::new(dir, "cannot move the finished folder into place", e);
    if dir.exists() {
        let old = old_name(&parent, dir);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).map_err(moved)?;
        if let Err(e) = std::fs::rename(tmp.path(), dir) {
            // Put the old folder back; the temporary one is removed on drop.
            let _ = std::fs::rename(&old, dir);
            return Err(moved(e).into());
        }
        let _ = tmp.keep();
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(tmp.path(), dir).map_err(moved)?;
        let _ = tmp.keep();
    }
    Ok(value)
}

/// Where `dir` is parked while its replacement moves in.
fn old_name(parent: &Path, dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent.join(format!("{TMP_PREFIX}old-{name}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn files_are_written_whole_with_ordinary_permissions() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        write_json(&d.path().join("b.json"), &[1, 2]).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("b.json")).unwrap(),
            "[\n  1,\n  2\n]"
        );
        assert_eq!(names(d.path()), ["a.txt", "b.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_destination_and_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        write_atomic(&p, b"old").unwrap();
        let r: std::result::Result<(), FsError> = write_file_with(&p, |f| {
            f.write_all(b"half").unwrap();
            Err(FsError::new(&p, "test", std::io::Error::other("stop")))
        });
        assert!(r.is_err());
        let r: std::result::Result<(), FsError> = write_path_with(&p, |t| {
            std::fs::write(t, b"half").unwrap();
            Err(FsError::new(&p, "test", std::io::Error::other("stop")))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(names(d.path()), ["a.txt"]);
        // A missing folder is an error naming it.
        let e = write_atomic(&d.path().join("no/such/x"), b"").unwrap_err();
        assert!(e.to_string().contains("no/such"), "{e}");
    }

    #[test]
    fn path_writers_get_ordinary_permissions() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("w.bin");
        write_path_with::<FsError>(&p, |t| {
            std::fs::write(t, b"xyz").map_err(|e| FsError::new(t, "w", e))
        })
        .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"xyz");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn folders_are_replaced_whole() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("sub").join("ds");
        let n = write_dir_with::<_, FsError>(&out, |t| {
            std::fs::write(t.join("f"), b"1").unwrap();
            Ok(7)
        })
        .unwrap();
        assert_eq!(n, 7);
        write_dir_with::<_, FsError>(&out, |t| {
            std::fs::write(t.join("g"), b"2").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(names(&out), ["g"]);
        let r = write_dir_with::<(), FsError>(&out, |t| {
            std::fs::write(t.join("h"), b"3").unwrap();
            Err(FsError::new(t, "test", std::io::Error::other("stop")))
        });
        assert!(r.is_err());
        assert_eq!(names(&out), ["g"]);
        assert_eq!(names(&d.path().join("sub")), ["ds"]);
    }
}
