//! Checksum lists (`SHA256SUMS`) and SHA-256 of files.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wonhee_fs::find_sums;

use crate::{Error, Result};

/// The name this crate writes a checksum list under (PhysioNet publishes `SHA256SUMS.txt`;
/// both are read, see [`wonhee_fs::SUMS_NAMES`]).
pub const SUMS_FILE: &str = wonhee_fs::SUMS_NAMES[0];

/// One line of a checksum list: a file (relative, `/`-separated) and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the list's folder, `/`-separated.
    pub name: String,
    /// Expected SHA-256.
    pub sha256: [u8; 32],
}

impl Entry {
    /// The expected SHA-256 in lower-case hex.
    pub fn hex(&self) -> String {
        to_hex(&self.sha256)
    }

    /// Where the file lies under `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        self.name
            .split('/')
            .fold(dir.to_path_buf(), |p, c| p.join(c))
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {}", self.hex(), self.name)
    }
}

/// Reads and parses the checksum list of `dir`; returns the list's path and its entries.
pub fn read_sums(dir: &Path) -> Result<(PathBuf, Vec<Entry>)> {
    let path = find_sums(dir).ok_or_else(|| Error::NoSums {
        dir: dir.to_path_buf(),
    })?;
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let entries = parse_sums(&bytes, &path.display().to_string())?;
    Ok((path, entries))
}

/// Parses a checksum list as `sha256sum` writes it: one `<64 hex digits>  <name>` per line
/// (one or two spaces, or ` *` for binary mode; CRLF and blank lines are accepted).
///
/// `place` names the list in errors. Names must be relative paths without `.` or `..`
/// components, and may appear only once.
pub fn parse_sums(bytes: &[u8], place: &str) -> Result<Vec<Entry>> {
    let bad = |line: usize, reason: String| Error::BadSums {
        place: place.to_string(),
        line,
        reason,
    };
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line =
            std::str::from_utf8(raw).map_err(|_| bad(line_no, "line is not valid UTF-8".into()))?;
        if line.starts_with('\\') {
            return Err(bad(line_no, "escaped file names are not supported".into()));
        }
        let (hex, rest) = line
            .split_at_checked(64)
            .ok_or_else(|| bad(line_no, "expected `<64 hex digits>  <name>`".into()))?;
        let sha256 = from_hex(hex).ok_or_else(|| {
            bad(
                line_no,
                format!("`{hex}` is not a SHA-256 in hex (64 hex digits)"),
            )
        })?;
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| bad(line_no, "expected a space after the checksum".into()))?;
        let name = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('*'))
            .unwrap_or(rest);
        check_name(name).map_err(|reason| bad(line_no, format!("file name `{name}`: {reason}")))?;
        if !seen.insert(name.to_string()) {
            return Err(bad(line_no, format!("`{name}` is listed twice")));
        }
        entries.push(Entry {
            name: name.to_string(),
            sha256,
        });
    }
    Ok(entries)
}

/// A list may only name files inside its own folder.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.contains('\\') || name.contains('\0') {
        return Err("contains a backslash or NUL");
    }
    if name.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    for c in name.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            return Err("empty, `.` or `..` path components are not allowed");
        }
    }
    Ok(())
}

/// SHA-256 and length of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<([u8; 32], u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hasher.finalize().into(), len))
}

/// SHA-256 of a byte slice.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// 64 hex digits (either case) to 32 bytes.
pub(crate) fn from_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_known_vectors() {
        // FIPS 180-2 test vectors.
        assert_eq!(to_hex(&sha256_bytes(b"abc")), ABC);
        assert_eq!(
            to_hex(&sha256_bytes(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        // One million 'a': spans the 1 MiB read block boundary.
        std::fs::write(&p, vec![b'a'; 1_000_000]).unwrap();
        let (h, len) = sha256_file(&p).unwrap();
        assert_eq!(len, 1_000_000);
        assert_eq!(
            to_hex(&h),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        std::fs::write(&p, vec![b'a'; (1 << 20) + 1]).unwrap();
        let (h2, len2) = sha256_file(&p).unwrap();
        assert_eq!(len2, (1 << 20) + 1);
        assert_eq!(h2, sha256_bytes(&vec![b'a'; (1 << 20) + 1]));
    }

    #[test]
    fn hex_round_trip() {
        let h = from_hex(ABC).unwrap();
        assert_eq!(to_hex(&h), ABC);
        assert_eq!(from_hex(&ABC.to_uppercase()), Some(h));
        assert_eq!(from_hex(&ABC[..63]), None);
        assert_eq!(from_hex(&format!("{}g", &ABC[..63])), None);
    }

    #[test]
    fn parses_all_sha256sum_forms() {
        let text = format!(
            "{ABC} one.dat\n{ABC}  two.hea\r\n\n{ABC} *sub/three.atr\n{}  RECORDS\n",
            ABC.to_uppercase()
        );
        let e = parse_sums(text.as_bytes(), "L").unwrap();
        let names: Vec<_> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["one.dat", "two.hea", "sub/three.atr", "RECORDS"]);
        assert!(e.iter().all(|e| e.hex() == ABC));
        assert_eq!(
            e[2].path_in(Path::new("/d")),
            Path::new("/d").join("sub").join("three.atr")
        );
        assert_eq!(e[1].to_string(), format!("{ABC}  two.hea"));
    }

    #[test]
    fn rejects_malformed_lines_with_place_and_line() {
        let cases: &[(&str, &str)] = &[
            ("abc  x", "64 hex"),
            (&format!("{}  x", "z".repeat(64)), "not a SHA-256"),
            (&format!("{ABC}x"), "space after"),
            (&format!("{ABC}  "), "empty"),
            (&format!("{ABC}  ../etc/passwd"), "`..`"),
            (&format!("{ABC}  /etc/passwd"), "absolute"),
            (&format!("{ABC}  a\\b"), "backslash"),
            (&format!("{ABC}  a//b"), "empty, `.`"),
            (&format!("\\{ABC}  a\\nb"), "escaped"),
        ];
        for (line, want) in cases {
            let text = format!("{ABC}  ok\n{line}\n");
            let err = parse_sums(text.as_bytes(), "the/list")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("the/list, line 2: "), "{err}");
            assert!(err.contains(want), "{line:?}: {err}");
        }
        let dup = format!("{ABC}  a\n{ABC}  a\n");
        let err = parse_sums(dup.as_bytes(), "L").unwrap_err().to_string();
        assert!(err.contains("listed twice"), "{err}");
        let bad_utf8 = [ABC.as_bytes(), b"  \xff\n"].concat();
        let err = parse_sums(&bad_utf8, "L").unwrap_err().to_string();
        assert!(err.contains("line 1: line is not valid UTF-8"), "{err}");
    }

    #[test]
    fn finds_either_list_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_sums(dir.path()), None);
        let err = read_sums(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no SHA256SUMS"), "{err}");
        std::fs::write(dir.path().join("SHA256SUMS.txt"), format!("{ABC} a\n")).unwrap();
        assert_eq!(
            find_sums(dir.path()),
            Some(dir.path().join("SHA256SUMS.txt"))
        );
        std::fs::write(dir.path().join("SHA256SUMS"), format!("{ABC} b\n")).unwrap();
        let (path, e) = read_sums(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("SHA256SUMS"));
        assert_eq!(e[0].name, "b");
    }
}
