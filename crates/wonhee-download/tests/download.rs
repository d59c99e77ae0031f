//! `download` and `verify` against the local test server (`wonhee_download::testing`).
//!
//! The normal suite serves a copy of `fixtures/synth` (plus a file in a sub-folder) with a
//! `SHA256SUMS` computed here; the ignored tests serve a copy of the real MIT-BIH folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wonhee_download::testing::{Fault, FileStats, TestServer};
use wonhee_download::{DownloadOptions, Error, ProblemKind, Progress, check, download, verify};

/// Fast retries for tests.
fn opts() -> DownloadOptions {
    DownloadOptions {
        attempts: 3,
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a `sha256sum`-style list of `names` (relative to `dir`) into `dir/list_name`.
fn write_sums(dir: &Path, names: &[String], list_name: &str) {
    let list: String = names
        .iter()
        .map(|n| format!("{}  {n}\n", hex(&std::fs::read(dir.join(n)).unwrap())))
        .collect();
    std::fs::write(dir.join(list_name), list).unwrap();
}

/// A served tree: the synthetic records, their RECORDS file and `doc/notes.txt`.
struct Tree {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    dst: PathBuf,
    names: Vec<String>,
}

impl Tree {
    fn new() -> Self {
        Self::with_list_name("SHA256SUMS")
    }

    fn with_list_name(list_name: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("doc")).unwrap();
        let fixtures = Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("../../fixtures/synth");
        let mut names = Vec::new();
        for e in std::fs::read_dir(&fixtures).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            std::fs::copy(e.path(), src.join(&name)).unwrap();
            names.push(name);
        }
        std::fs::write(src.join("doc/notes.txt"), "synthetic records\n").unwrap();
        names.push("doc/notes.txt".into());
        names.sort();
        assert!(names.len() >= 10, "fixtures/synth is missing files");
        write_sums(&src, &names, list_name);
        let dst = tmp.path().join("dst").join("mitdb");
        Tree {
            _tmp: tmp,
            src,
            dst,
            names,
        }
    }

    fn len(&self, name: &str) -> u64 {
        std::fs::metadata(self.src.join(name)).unwrap().len()
    }

    fn total_len(&self) -> u64 {
        self.names.iter().map(|n| self.len(n)).sum()
    }

    /// Every listed file in `dst` equals its source, and no `.part` is left.
    fn assert_complete(&self) {
        for n in &self.names {
            assert_eq!(
                std::fs::read(self.dst.join(n)).unwrap(),
                std::fs::read(self.src.join(n)).unwrap(),
                "{n}"
            );
            assert!(
                !self.dst.join(format!("{n}.part")).exists(),
                "{n}.part left"
            );
        }
        assert!(self.dst.join("SHA256SUMS").is_file());
        let r = verify(&self.dst).unwrap();
        assert_eq!(r.files, self.names.len());
        assert_eq!(r.bytes, self.total_len());
    }
}

fn stats(server: &TestServer, name: &str) -> FileStats {
    server.stats(name)
}

#[test]
fn fresh_download_verifies_and_reports_progress() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = Arc::clone(&seen);
    let o = opts().on_progress(move |p| s.lock().unwrap().push(p));
    let report = download(&server.url(), &t.dst, &o).unwrap();
    t.assert_complete();
    assert_eq!(report.files, t.names.len());
    assert_eq!((report.fetched, report.skipped), (t.names.len(), 0));
    assert_eq!(report.bytes_received, t.total_len());
    // PhysioNet's name is tried first; this server only has SHA256SUMS.
    assert_eq!(stats(&server, "SHA256SUMS.txt").requests, 1);
    assert_eq!(report.sums_url, format!("{}SHA256SUMS", server.url()));
    assert_eq!(
        std::fs::read(t.dst.join("SHA256SUMS")).unwrap(),
        std::fs::read(t.src.join("SHA256SUMS")).unwrap()
    );
    for n in &t.names {
        assert_eq!(
            stats(&server, n),
            FileStats {
                requests: 1,
                bytes_sent: t.len(n),
                range_starts: vec![None]
            },
            "{n}"
        );
    }
    let seen = seen.lock().unwrap();
    let last = *seen.last().unwrap();
    assert_eq!(
        last,
        Progress {
            bytes_done: t.total_len(),
            bytes_total: t.total_len(),
            files_done: t.names.len(),
            files_total: t.names.len(),
        }
    );
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
    assert!(seen.iter().all(|p| p.bytes_done <= p.bytes_total));
}

#[test]
fn corrupted_file_is_caught_deleted_and_fetched_again() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s100.dat", Fault::Corrupt, Some(1));
    let report = download(&server.url(), &t.dst, &opts()).unwrap();
    t.assert_complete();
    let len = t.len("s100.dat");
    // The bad copy was thrown away whole: the second request starts from zero.
    assert_eq!(
        stats(&server, "s100.dat"),
        FileStats {
            requests: 2,
            bytes_sent: 2 * len,
            range_starts: vec![None, None]
        }
    );
    assert_eq!(report.bytes_received, t.total_len() + len);
}

#[test]
fn dropped_connection_resumes_with_a_range_request() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s101.dat", Fault::DropAfter(10_000), Some(1));
    download(&server.url(), &t.dst, &opts()).unwrap();
    t.assert_complete();
    // Only the missing part was fetched again.
    assert_eq!(
        stats(&server, "s101.dat"),
        FileStats {
            requests: 2,
            bytes_sent: t.len("s101.dat"),
            range_starts: vec![None, Some(10_000)]
        }
    );
}

#[test]
fn server_ignoring_ranges_means_starting_over() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.set_ranges(false);
    server.fault("s101.dat", Fault::DropAfter(10_000), Some(1));
    download(&server.url(), &t.dst, &opts()).unwrap();
    t.assert_complete();
    let s = stats(&server, "s101.dat");
    assert_eq!(s.range_starts, [None, Some(10_000)]);
    assert_eq!(s.bytes_sent, 10_000 + t.len("s101.dat"));
}

#[test]
fn server_errors_are_retried() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s102.hea", Fault::Status(500), Some(1));
    server.fault("s102.hea", Fault::Status(503), Some(1));
    server.fault("SHA256SUMS", Fault::Status(502), Some(1));
    download(&server.url(), &t.dst, &opts()).unwrap();
    t.assert_complete();
    assert_eq!(stats(&server, "s102.hea").requests, 3);
    assert_eq!(stats(&server, "SHA256SUMS").requests, 2);
}

#[test]
fn a_file_never_served_fails_with_a_clear_error() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s103.dat", Fault::Status(500), None);
    let err = download(&server.url(), &t.dst, &opts()).unwrap_err();
    assert!(matches!(err, Error::GaveUp { attempts: 3, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("s103.dat: gave up after 3 attempt(s) from http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.ends_with("s103.dat: HTTP 500"), "{msg}");
    assert_eq!(stats(&server, "s103.dat").requests, 3);
    // Not complete, so no checksum list: the folder does not pass for data.
    assert!(!t.dst.join("SHA256SUMS").exists());
    assert!(wonhee_download::find_sums(&t.dst).is_none());
}

#[test]
fn a_file_always_corrupted_fails_after_the_attempts() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s100.atr", Fault::Corrupt, None);
    let msg = download(&server.url(), &t.dst, &opts())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("s100.atr: gave up after 3 attempt(s)"),
        "{msg}"
    );
    assert!(msg.contains("checksum mismatch (expected "), "{msg}");
    assert!(!t.dst.join("s100.atr").exists());
    assert!(!t.dst.join("s100.atr.part").exists());
}

#[test]
fn a_missing_file_fails_at_once() {
    let t = Tree::new();
    std::fs::remove_file(t.src.join("s102.atr")).unwrap();
    let server = TestServer::serve(&t.src).unwrap();
    let err = download(&server.url(), &t.dst, &opts()).unwrap_err();
    assert!(matches!(err, Error::Http { status: 404, .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("/s102.atr: server answered HTTP 404")
    );
    assert_eq!(stats(&server, "s102.atr").requests, 1);
}

#[test]
fn no_checksum_list_on_the_server() {
    let t = Tree::new();
    std::fs::remove_file(t.src.join("SHA256SUMS")).unwrap();
    let server = TestServer::serve(&t.src).unwrap();
    let msg = download(&server.url(), &t.dst, &opts())
        .unwrap_err()
        .to_string();
    assert!(
        msg.ends_with("no checksum list on the server (tried SHA256SUMS.txt, SHA256SUMS)"),
        "{msg}"
    );
    assert_eq!(server.total_requests(), 2);
}

#[test]
fn physionet_list_name_and_pinned_list_hash() {
    let t = Tree::with_list_name("SHA256SUMS.txt");
    let server = TestServer::serve(&t.src).unwrap();
    let list = std::fs::read(t.src.join("SHA256SUMS.txt")).unwrap();
    let wrong = DownloadOptions {
        sums_sha256: Some("00".repeat(32)),
        ..opts()
    };
    let msg = download(&server.url(), &t.dst, &wrong)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("SHA256SUMS.txt: checksum list has SHA-256 "),
        "{msg}"
    );
    assert_eq!(server.total_bytes_sent(), list.len() as u64);
    let right = DownloadOptions {
        sums_sha256: Some(hex(&list).to_uppercase()),
        ..opts()
    };
    download(&server.url(), &t.dst, &right).unwrap();
    // Saved under the local name.
    assert_eq!(std::fs::read(t.dst.join("SHA256SUMS")).unwrap(), list);
    t.assert_complete();
    assert_eq!(stats(&server, "SHA256SUMS").requests, 0);
}

#[test]
fn interrupted_download_resumes_and_fetches_only_the_rest() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    let one_try = DownloadOptions {
        attempts: 1,
        jobs: 1,
        ..opts()
    };
    server.fault("s102.dat", Fault::DropAfter(20_000), Some(1));
    let msg = download(&server.url(), &t.dst, &one_try)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("s102.dat: gave up after 1 attempt(s)"),
        "{msg}"
    );
    assert!(msg.contains("connection lost after 20000 bytes"), "{msg}");
    let part = t.dst.join("s102.dat.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 20_000);
    assert!(!t.dst.join("SHA256SUMS").exists());
    let complete: Vec<&String> = t.names.iter().filter(|n| t.dst.join(n).exists()).collect();
    assert!(!complete.is_empty() && complete.len() < t.names.len());
    let before = server.total_bytes_sent();

    let report = download(&server.url(), &t.dst, &one_try).unwrap();
    t.assert_complete();
    // Files finished in the first run were not requested again...
    for n in &complete {
        assert_eq!(stats(&server, n).requests, 1, "{n}");
    }
    assert_eq!(report.skipped, complete.len());
    // ...and the interrupted one continued where it stopped.
    let s = stats(&server, "s102.dat");
    assert_eq!(s.range_starts, [None, Some(20_000)]);
    assert_eq!(s.bytes_sent, t.len("s102.dat"));
    let rest: u64 = t
        .names
        .iter()
        .filter(|n| !complete.contains(n))
        .map(|n| t.len(n))
        .sum::<u64>()
        - 20_000;
    let list_len = t.len("SHA256SUMS");
    assert_eq!(server.total_bytes_sent() - before, rest + list_len);
    assert_eq!(report.bytes_received, rest);
}

#[test]
fn complete_folder_is_a_no_op() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    download(&server.url(), &t.dst, &opts()).unwrap();
    let (bytes, requests) = (server.total_bytes_sent(), server.total_requests());
    let report = download(&server.url(), &t.dst, &opts()).unwrap();
    assert_eq!((report.fetched, report.skipped), (0, t.names.len()));
    assert_eq!(report.bytes_received, 0);
    // Only the list was asked for (under both names).
    assert_eq!(server.total_requests(), requests + 2);
    assert_eq!(server.total_bytes_sent(), bytes + t.len("SHA256SUMS"));
    t.assert_complete();
}

#[test]
fn changed_file_is_caught_by_verify_and_replaced_by_download() {
    let t = Tree::new();
    let server = TestServer::serve(&t.src).unwrap();
    download(&server.url(), &t.dst, &opts()).unwrap();
    let f = t.dst.join("s101.dat");
    let mut data = std::fs::read(&f).unwrap();
    data[1234] ^= 1;
    std::fs::write(&f, &data).unwrap();

    let report = check(&t.dst).unwrap();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].name, "s101.dat");
    assert!(matches!(
        &report.problems[0].kind,
        ProblemKind::Mismatch { actual, .. } if *actual == hex(&data)
    ));
    let msg = verify(&t.dst).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "1 of {} files failed verification: s101.dat: checksum mismatch",
            t.names.len()
        )),
        "{msg}"
    );

    let again = download(&server.url(), &t.dst, &opts()).unwrap();
    assert_eq!(again.fetched, 1);
    assert_eq!(stats(&server, "s101.dat").requests, 2);
    t.assert_complete();
}

#[test]
fn stale_or_bad_part_files_are_recovered() {
    let t = Tree::new();
    std::fs::create_dir_all(&t.dst).unwrap();
    // Longer than the file: the server answers 416, the checksum rejects it, it is refetched.
    let len = t.len("s100.dat") as usize;
    std::fs::write(t.dst.join("s100.dat.part"), vec![1u8; len + 10]).unwrap();
    // Wrong leading bytes: resumed, rejected by the checksum, refetched whole.
    std::fs::write(t.dst.join("s101.atr.part"), b"garbage").unwrap();
    let server = TestServer::serve(&t.src).unwrap();
    download(&server.url(), &t.dst, &opts()).unwrap();
    t.assert_complete();
    assert_eq!(
        stats(&server, "s100.dat").range_starts,
        [Some(len as u64 + 10), None]
    );
    assert_eq!(stats(&server, "s101.atr").range_starts, [Some(7), None]);
}

#[test]
fn bad_base_url_is_rejected() {
    let t = Tree::new();
    let msg = download("file:///etc", &t.dst, &opts())
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "file:///etc: not an http:// or https:// URL");
}

// ---- With the real MIT-BIH folder ------------------------------------------------------------

fn mitdb() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let dir = wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"));
    // These tests read the list under this name.
    assert!(
        dir.join("SHA256SUMS").is_file(),
        "{}: no SHA256SUMS",
        dir.display()
    );
    dir
}

/// Copies the files of `from` (one level) into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Names in a list, read independently of the crate's parser.
fn listed(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l[64..].trim_start_matches([' ', '*']).to_string())
        .collect()
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn mitdb_verifies() {
    let dir = mitdb();
    let r = verify(&dir).unwrap();
    let names = listed(&dir);
    // 48 records x (.hea, .dat, .atr) + RECORDS + ANNOTATORS.
    assert_eq!(names.len(), 48 * 3 + 2);
    assert_eq!(r.files, names.len());
    let bytes: u64 = names
        .iter()
        .map(|n| std::fs::metadata(dir.join(n)).unwrap().len())
        .sum();
    assert_eq!(r.bytes, bytes);
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn mitdb_copy_with_a_changed_file_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("mitdb");
    copy_dir(&mitdb(), &copy);
    verify(&copy).unwrap();
    let f = copy.join("208.dat");
    let mut data = std::fs::read(&f).unwrap();
    let mid = data.len() / 2;
    data[mid] = data[mid].wrapping_add(1);
    std::fs::write(&f, &data).unwrap();
    std::fs::remove_file(copy.join("ANNOTATORS")).unwrap();
    let r = check(&copy).unwrap();
    let names: Vec<_> = r.problems.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["208.dat", "ANNOTATORS"]);
    assert_eq!(r.problems[1].kind, ProblemKind::Missing);
    let msg = verify(&copy).unwrap_err().to_string();
    assert!(
        msg.contains("2 of 146 files failed verification: 208.dat: checksum mismatch"),
        "{msg}"
    );
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn mitdb_full_download_over_loopback_with_faults() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("served");
    copy_dir(&mitdb(), &src);
    let server = TestServer::serve(&src).unwrap();
    server.fault("100.dat", Fault::Corrupt, Some(1));
    server.fault("101.dat", Fault::DropAfter(1_000_000), Some(1));
    server.fault("102.atr", Fault::Status(503), Some(1));
    let dst = tmp.path().join("data").join("mitdb");
    let report = download(&server.url(), &dst, &opts()).unwrap();
    let names = listed(&src);
    assert_eq!((report.files, report.fetched), (names.len(), names.len()));
    let r = verify(&dst).unwrap();
    assert_eq!(r.files, names.len());
    for n in &names {
        assert!(
            std::fs::read(dst.join(n)).unwrap() == std::fs::read(src.join(n)).unwrap(),
            "{n} differs"
        );
    }
    assert_eq!(stats(&server, "100.dat").requests, 2);
    assert_eq!(
        stats(&server, "101.dat").range_starts,
        [None, Some(1_000_000)]
    );
    assert_eq!(stats(&server, "102.atr").requests, 2);
    // Not in the list, so not fetched.
    assert_eq!(stats(&server, "README.md").requests, 0);
    assert!(!dst.join("README.md").exists());
}
