//! Helpers shared by the fixture tests: where `fixtures/wfdb` is, its record list and the
//! values wfdb-python read from each record.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// `fixtures/wfdb/SUB` of the repository, found at run time (a shared target folder may hold a
/// test binary built from another checkout).
pub fn fixture_dir(sub: &str) -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../fixtures/wfdb")
    .join(sub)
}

/// The record names listed in `dir/RECORDS`.
pub fn record_names(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("RECORDS"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// One line per signal of `dir/NAME.WHAT.txt`, parsed; `None` when there is no such file.
pub fn expected_values<T: std::str::FromStr>(
    dir: &std::path::Path,
    name: &str,
    what: &str,
) -> Option<Vec<Vec<T>>>
where
    T::Err: std::fmt::Debug,
{
    let text = std::fs::read_to_string(dir.join(format!("{name}.{what}.txt"))).ok()?;
    Some(
        text.lines()
            .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
            .collect(),
    )
}
