//! Helpers shared by the `wonhee` binary's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository's `fixtures/` folder (found at run time: a shared target folder may hold a
/// test binary built from another checkout).
pub fn fixtures() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../fixtures")
}

/// The `wonhee` binary under test, with `RUST_LOG` cleared so stderr holds only errors.
pub fn wonhee() -> Command {
    let mut c = Command::cargo_bin("wonhee").unwrap();
    c.env_remove("RUST_LOG");
    c
}

/// A process's stderr as text.
pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `wonhee prepare` of the synthetic fixture records into `out` (add options, then run it).
pub fn prepare_synth(out: &Path) -> Command {
    let mut c = wonhee();
    c.arg("prepare")
        .arg("--data")
        .arg(fixtures().join("synth"))
        .arg("--out")
        .arg(out);
    c
}

/// Header and rows of a CSV file.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// One column of a CSV file, by name.
pub fn csv_column(path: &Path, name: &str) -> Vec<String> {
    let (header, rows) = read_csv(path);
    let at = header.iter().position(|h| h == name).unwrap();
    rows.into_iter().map(|mut r| r.swap_remove(at)).collect()
}
