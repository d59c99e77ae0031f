//! Helpers shared by the `wonhee` binary's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

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
