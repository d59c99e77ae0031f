//! The end-to-end run in CI: `cargo xtask pipeline --profile ci` (six records, a tiny model,
//! 200 steps, both splits) with this test's `wonhee` binary; every stage must produce its
//! files, and a second run must reuse them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../..")
}

fn pipeline(out: &Path) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let o = Command::new(cargo)
        .current_dir(root())
        .args([
            "run",
            "-q",
            "-p",
            "xtask",
            "--",
            "pipeline",
            "--profile",
            "ci",
        ])
        .arg("--wonhee")
        .arg(env!("CARGO_BIN_EXE_wonhee"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "pipeline failed\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb; runs every pipeline stage"]
fn ci_profile_runs_every_stage_then_reuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let log = pipeline(&out);
    for f in [
        "prepared-paper/summary.json",
        "prepared-inter-patient/summary.json",
        "run-paper/model.safetensors",
        "run-paper/metrics.json",
        "run-paper/metrics.jsonl",
        "run-inter-patient/model.safetensors",
        "run-inter-patient/metrics.json",
        "tsne/raw.csv",
        "tsne/raw.parquet",
        "tsne/embeddings.csv",
        "tsne/embeddings.parquet",
        "stages.json",
        "report.md",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing\n{log}");
    }
    let figures: Vec<_> = std::fs::read_dir(out.join("figures"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for want in ["png", "svg"] {
        assert!(
            figures.iter().any(|f| f.ends_with(want)),
            "no {want} figure: {figures:?}"
        );
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("inter-patient"), "{report}");
    // The embedding t-SNE holds d_model-dimensional [CLS] features of test windows: its
    // labels are AAMI classes.
    let emb = std::fs::read_to_string(out.join("tsne/embeddings.csv")).unwrap();
    assert!(
        emb.starts_with("x,y,label"),
        "{}",
        &emb[..40.min(emb.len())]
    );

    let weights = out.join("run-paper/model.safetensors");
    let before = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let again = pipeline(&out);
    for stage in [
        "prepare (paper)",
        "train (paper)",
        "eval (inter-patient)",
        "t-SNE",
    ] {
        assert!(
            again.contains(&format!("{stage}: cached")),
            "{stage} not reused:\n{again}"
        );
    }
    assert_eq!(
        std::fs::metadata(&weights).unwrap().modified().unwrap(),
        before
    );
}
