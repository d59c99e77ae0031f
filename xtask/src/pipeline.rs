//! `cargo xtask pipeline`: the whole study, end to end.
//!
//! Stages: locate data -> verify -> prepare -> train -> eval -> t-SNE -> figures -> report.
//! The stages after `verify` arrive with the dataset, model, trainer and report crates.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Finds MIT-BIH: `--data`, else `$WONHEE_MITDB`, else `data/mitdb`, else `../shared/data/mitdb`.
pub fn locate_data(root: &Path, explicit: Option<PathBuf>) -> Result<PathBuf> {
    let candidates: Vec<(String, PathBuf)> = match explicit {
        Some(p) => vec![("--data".into(), p)],
        None => {
            let mut v = Vec::new();
            if let Some(p) = std::env::var_os("WONHEE_MITDB") {
                v.push(("WONHEE_MITDB".into(), PathBuf::from(p)));
            }
            v.push(("default".into(), root.join("data/mitdb")));
            v.push(("default".into(), root.join("../shared/data/mitdb")));
            v
        }
    };
    for (how, dir) in &candidates {
        if dir.join("RECORDS").is_file() {
            return Ok(dir.clone());
        }
        if how != "default" {
            bail!(
                "{}: no MIT-BIH here (no RECORDS file), given by {how}",
                dir.display()
            );
        }
    }
    bail!(
        "MIT-BIH not found: pass --data DIR, set WONHEE_MITDB, or place it at data/mitdb or ../shared/data/mitdb"
    )
}

/// Checks every file listed in `dir/SHA256SUMS`; returns how many were verified.
pub fn verify(dir: &Path) -> Result<usize> {
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path)
        .with_context(|| format!("{}: cannot read checksums", sums_path.display()))?;
    let mut n = 0;
    for (i, line) in sums.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hash, name) = line
            .split_once(char::is_whitespace)
            .map(|(h, n)| (h, n.trim_start().trim_start_matches('*')))
            .with_context(|| format!("{}:{}: malformed line", sums_path.display(), i + 1))?;
        let file = dir.join(name);
        let bytes =
            std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !got.eq_ignore_ascii_case(hash) {
            bail!(
                "{}: checksum mismatch (expected {hash}, got {got})",
                file.display()
            );
        }
        n += 1;
    }
    Ok(n)
}
