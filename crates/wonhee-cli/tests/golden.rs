//! The same run gives the same bits: `configs/ci.toml` trained and evaluated on the synthetic
//! fixtures must reproduce the weights and `metrics.json` recorded in
//! `fixtures/golden/ci-run.sha256` (recorded before the workspace was reshaped, so a refactor
//! that changes a number fails here).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{fixtures, wonhee};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The instruction set that decides the bits: `gemm`'s kernels differ between AVX-512 and
/// AVX2 + FMA, and which ones run is what `wonhee_model::kernels::matmul_isa` reports for this
/// build on this CPU (a build without the `avx512` feature runs the AVX2 + FMA ones anywhere).
fn isa() -> &'static str {
    match wonhee_model::kernels::matmul_isa() {
        "avx512" => "x86-64-v4",
        "avx2+fma" => "x86-64-v3",
        _ => "other",
    }
}

/// `(file name, hash)` recorded for instruction set `isa`.
fn golden(isa: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(fixtures().join("golden/ci-run.sha256"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (set, hash, name) = (f.next()?, f.next()?, f.next()?);
            (set == isa).then(|| (name.to_owned(), hash.to_owned()))
        })
        .collect()
}

/// `wonhee` as it runs by default: candle's own pool of one thread (see `main.rs`).
#[test]
fn ci_config_gives_the_recorded_weights_and_metrics() {
    ci_run_matches_golden(None);
}

/// The same bits with candle's element-wise ops on two threads.
#[test]
fn the_bits_do_not_depend_on_candles_thread_count() {
    ci_run_matches_golden(Some("2"));
}

/// Trains and evaluates `configs/ci.toml`, with `CANDLE_NUM_THREADS` set to `candle_threads`
/// where given, and compares the hashes with the recorded ones.
fn ci_run_matches_golden(candle_threads: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let config = fixtures().join("../configs/ci.toml");
    let run = |args: &[&str]| {
        let mut cmd = wonhee();
        cmd.current_dir(tmp.path()).args(args);
        match candle_threads {
            Some(n) => cmd.env("CANDLE_NUM_THREADS", n),
            None => cmd.env_remove("CANDLE_NUM_THREADS"),
        };
        cmd.assert().success();
    };
    let synth = fixtures().join("synth");
    run(&[
        "prepare",
        "--data",
        synth.to_str().unwrap(),
        "--out",
        "prep",
    ]);
    run(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--data",
        "prep",
        "--out",
        "run",
    ]);
    run(&["eval", "--run", "run", "--data", "prep"]);

    let dir = tmp.path().join("run");
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let metrics = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    // The one timing field differs from run to run.
    let without_timing: String = metrics
        .lines()
        .filter(|l| !l.contains("\"eval_seconds\":"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without_timing.lines().count() + 1, metrics.lines().count());
    let got = [
        ("model.safetensors".to_owned(), hex(&weights)),
        ("metrics.json".to_owned(), hex(without_timing.as_bytes())),
    ];
    let want = golden(isa());
    assert!(
        !want.is_empty(),
        "no bits recorded for this CPU ({}): run the commands in fixtures/golden/ci-run.sha256 \
         at the commit it names and add them; these are this build's: {got:?}",
        isa()
    );
    assert_eq!(got.to_vec(), want, "on {}", isa());
}
