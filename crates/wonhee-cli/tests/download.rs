//! `wonhee download` and `wonhee verify` against the local test server of `wonhee-download`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wonhee_download::testing::{Fault, TestServer};

fn wonhee() -> Command {
    let mut c = Command::cargo_bin("wonhee").unwrap();
    c.env_remove("RUST_LOG").env_remove("WONHEE_MITDB");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of `fixtures/synth` with its `SHA256SUMS`, and where to download it to.
struct Tree {
    tmp: tempfile::TempDir,
    src: PathBuf,
    dst: PathBuf,
    names: Vec<String>,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("served");
    std::fs::create_dir_all(&src).unwrap();
    let fixtures = PathBuf::from(format!(
        "{}/../../fixtures/synth",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ));
    let mut names = Vec::new();
    for e in std::fs::read_dir(fixtures).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), src.join(e.file_name())).unwrap();
        names.push(e.file_name().into_string().unwrap());
    }
    names.sort();
    let list: String = names
        .iter()
        .map(|n| {
            let (h, _) = wonhee_download::sha256_file(&src.join(n)).unwrap();
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}  {n}\n")
        })
        .collect();
    std::fs::write(src.join("SHA256SUMS"), list).unwrap();
    let dst = tmp.path().join("data").join("mitdb");
    Tree {
        tmp,
        src,
        dst,
        names,
    }
}

impl Tree {
    fn download(&self, server: &TestServer, extra: &[&str]) -> std::process::Output {
        wonhee()
            .args([
                "download",
                "--url",
                &server.url(),
                "--backoff",
                "0.001",
                "--out",
            ])
            .arg(&self.dst)
            .args(extra)
            .output()
            .unwrap()
    }

    fn assert_same(&self) {
        for n in &self.names {
            assert_eq!(
                std::fs::read(self.dst.join(n)).unwrap(),
                std::fs::read(self.src.join(n)).unwrap(),
                "{n}"
            );
        }
    }
}

fn one_error_line(out: &std::process::Output) -> String {
    assert!(!out.status.success());
    // Log lines (warnings, retries) and clap's usage hint may surround it; the error itself is
    // exactly one line starting with `error: `.
    let err = text(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].trim_end().to_string()
}

#[test]
fn download_with_faults_then_verify() {
    let t = tree();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s100.dat", Fault::Corrupt, Some(1));
    server.fault("s101.dat", Fault::DropAfter(30_000), Some(1));
    server.fault("s102.atr", Fault::Status(500), Some(1));
    let out = t.download(&server, &["--retries", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n = t.names.len();
    assert!(
        text(&out.stdout).ends_with(&format!(
            ": {n} files verified ({n} fetched, 0 already present; {} bytes received)\n",
            server.total_bytes_sent() - std::fs::metadata(t.src.join("SHA256SUMS")).unwrap().len()
        )),
        "{}",
        text(&out.stdout)
    );
    t.assert_same();
    assert_eq!(server.stats("s100.dat").requests, 2);
    assert_eq!(server.stats("s101.dat").range_starts, [None, Some(30_000)]);
    assert_eq!(server.stats("s102.atr").requests, 2);

    let out = wonhee().arg("verify").arg(&t.dst).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size: u64 = t
        .names
        .iter()
        .map(|n| std::fs::metadata(t.src.join(n)).unwrap().len())
        .sum();
    assert_eq!(
        text(&out.stdout),
        format!("{}: {n} files verified ({size} bytes)\n", t.dst.display())
    );

    // Again: nothing to fetch.
    let before = server.total_bytes_sent();
    let out = t.download(&server, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("(0 fetched, {n} already present; 0 bytes")));
    assert_eq!(
        server.total_bytes_sent() - before,
        std::fs::metadata(t.src.join("SHA256SUMS")).unwrap().len()
    );
}

#[test]
fn download_gives_up_with_a_one_line_error() {
    let t = tree();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s103.dat", Fault::Status(500), None);
    let out = t.download(&server, &["--retries", "1"]);
    let err = one_error_line(&out);
    assert!(
        err.starts_with("error: s103.dat: gave up after 2 attempt(s) from http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.ends_with("s103.dat: HTTP 500"), "{err}");
    assert_eq!(server.stats("s103.dat").requests, 2);
    assert!(!t.dst.join("SHA256SUMS").exists());
}

#[test]
fn interrupted_download_resumes_where_it_stopped() {
    let t = tree();
    let server = TestServer::serve(&t.src).unwrap();
    server.fault("s102.dat", Fault::DropAfter(20_000), Some(1));
    let out = t.download(&server, &["--retries", "0", "--jobs", "1"]);
    let err = one_error_line(&out);
    assert!(err.contains("connection lost after 20000 bytes"), "{err}");
    assert_eq!(
        std::fs::metadata(t.dst.join("s102.dat.part"))
            .unwrap()
            .len(),
        20_000
    );
    let done: Vec<&String> = t.names.iter().filter(|n| t.dst.join(n).exists()).collect();
    assert!(!done.is_empty());

    let out = t.download(&server, &["--retries", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("{} already present", done.len())),
        "{}",
        text(&out.stdout)
    );
    t.assert_same();
    for n in done {
        assert_eq!(server.stats(n).requests, 1, "{n}");
    }
    let s = server.stats("s102.dat");
    assert_eq!(s.range_starts, [None, Some(20_000)]);
    assert_eq!(
        s.bytes_sent,
        std::fs::metadata(t.src.join("s102.dat")).unwrap().len()
    );
}

#[test]
fn verify_lists_changed_and_missing_files() {
    let t = tree();
    let server = TestServer::serve(&t.src).unwrap();
    assert!(t.download(&server, &[]).status.success());
    let f = t.dst.join("s100.dat");
    let mut data = std::fs::read(&f).unwrap();
    data[100] ^= 0x10;
    std::fs::write(&f, data).unwrap();
    std::fs::remove_file(t.dst.join("s101.hea")).unwrap();

    let out = wonhee().arg("verify").arg(&t.dst).output().unwrap();
    let err = one_error_line(&out);
    let d = t.dst.display();
    assert_eq!(
        err,
        format!(
            "error: {d}: 2 of {} files failed verification",
            t.names.len()
        )
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{d}: s100.dat: checksum mismatch (expected ")),
        "{stdout}"
    );
    assert_eq!(lines[1], format!("{d}: s101.hea: missing"));
}

#[test]
fn verify_needs_a_checksum_list() {
    let dir = PathBuf::from(format!(
        "{}/../../fixtures/synth",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ));
    let out = wonhee().arg("verify").arg(&dir).output().unwrap();
    let err = one_error_line(&out);
    assert!(
        err.ends_with("no SHA256SUMS (or SHA256SUMS.txt) in this folder"),
        "{err}"
    );
}

#[test]
fn verify_without_a_folder_locates_the_data() {
    let t = tree();
    let server = TestServer::serve(&t.src).unwrap();
    assert!(t.download(&server, &[]).status.success());
    // From $WONHEE_MITDB.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = wonhee()
        .arg("verify")
        .env("WONHEE_MITDB", &t.dst)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("(from $WONHEE_MITDB)"));
    // From data/mitdb under the current directory.
    let out = wonhee()
        .arg("verify")
        .current_dir(t.tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("(from data/mitdb)"));
    assert!(text(&out.stdout).starts_with(&format!(
        "{}: {} files verified",
        Path::new(t.tmp.path()).join("data/mitdb").display(),
        t.names.len()
    )));
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let t = tree();
    let out = wonhee()
        .args(["download", "--url", "ftp://example.org/x/", "--out"])
        .arg(&t.dst)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert_eq!(
        err,
        "error: ftp://example.org/x/: not an http:// or https:// URL"
    );
    let out = wonhee()
        .args(["download", "--backoff=-1", "--out"])
        .arg(&t.dst)
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(
        err.starts_with("error: --backoff -1: not a number of seconds"),
        "{err}"
    );
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn verify_mitdb() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let dir = wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        dir.join("SHA256SUMS").is_file(),
        "{}: no SHA256SUMS",
        dir.display()
    );
    let out = wonhee().arg("verify").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 48 records x 3 files + RECORDS + ANNOTATORS.
    assert!(
        text(&out.stdout).starts_with(&format!("{}: 146 files verified (", dir.display())),
        "{}",
        text(&out.stdout)
    );
}
