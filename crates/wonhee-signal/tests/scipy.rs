//! Agreement with scipy (numbers in tests/data/scipy_reference.json, made by
//! docs/reference-scripts/signal_scipy.py).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;
use wonhee_signal::{
    PolyphaseResampler, firwin_kaiser, kaiser, resample_fft, resample_poly, zscore,
};

fn reference() -> Value {
    serde_json::from_str(include_str!("data/scipy_reference.json")).unwrap()
}

fn synth(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let f = i as f64;
            (0.05 * f).sin() + 0.3 * (0.9 * f + 1.0).cos() + ((i * 7919) % 1009) as f64 / 1009.0
                - 0.5
        })
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Max |a - b| relative to b's range.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let range =
        b.iter().cloned().fold(f64::MIN, f64::max) - b.iter().cloned().fold(f64::MAX, f64::min);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / range
}

#[test]
fn window_and_filter_design_match_scipy() {
    let r = reference();
    let k = kaiser(9, 5.0);
    for (a, b) in k.iter().zip(floats(&r["kaiser_9_5"])) {
        assert!((a - b).abs() < 1e-15, "{a} {b}");
    }
    let h = firwin_kaiser(901, 1.0 / 45.0, 5.0);
    let e = floats(&r["firwin_901_45"]);
    assert!(
        h.iter().zip(&e).all(|(a, b)| (a - b).abs() < 1e-16),
        "firwin"
    );
}

#[test]
fn resample_poly_matches_scipy_on_synthetic_signals() {
    let r = reference();
    for case in r["poly"].as_array().unwrap() {
        let (n, up, down) = (
            case["n"].as_u64().unwrap() as usize,
            case["up"].as_u64().unwrap() as usize,
            case["down"].as_u64().unwrap() as usize,
        );
        let y = resample_poly(&synth(n), up, down).unwrap();
        let e = floats(&case["y"]);
        let err = rel_err(&y, &e);
        assert!(
            err < 1e-12,
            "n {n} up {up} down {down}: relative error {err:e}"
        );
    }
}

#[test]
fn resample_fft_matches_scipy_on_synthetic_signals() {
    let r = reference();
    for case in r["fft"].as_array().unwrap() {
        let (n, num) = (
            case["n"].as_u64().unwrap() as usize,
            case["num"].as_u64().unwrap() as usize,
        );
        let y = resample_fft(&synth(n), num);
        let err = rel_err(&y, &floats(&case["y"]));
        assert!(err < 1e-12, "n {n} num {num}: relative error {err:e}");
    }
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn resampling_matches_scipy_on_all_48_records() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let dir = wonhee_fs::mitdb_or_error(
        None,
        &wonhee_fs::workspace_root(std::path::Path::new(&manifest)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = reference();
    let poly = PolyphaseResampler::new(16, 45).unwrap();
    let recs = r["records"].as_array().unwrap();
    assert_eq!(recs.len(), 48);
    let mut worst = 0f64;
    for rec in recs {
        let name = rec["record"].as_str().unwrap();
        let lead = rec["lead"].as_u64().unwrap() as usize;
        let record = wonhee_wfdb::Record::open(dir.join(name)).unwrap();
        let mut x = record.read_selected(&[lead]).unwrap().physical_f64(0);
        zscore(&mut x).unwrap();
        let range =
            x.iter().cloned().fold(f64::MIN, f64::max) - x.iter().cloned().fold(f64::MAX, f64::min);
        let yp = poly.process(&x);
        let n_out = rec["n_out"].as_u64().unwrap() as usize;
        assert_eq!(yp.len(), n_out, "{name}");
        let yf = resample_fft(&x, n_out);
        for (kind, y) in [("poly", &yp), ("fft", &yf)] {
            for (pos, v) in rec[format!("{kind}_at")].as_object().unwrap() {
                let p: usize = pos.parse().unwrap();
                let err = (y[p] - v.as_f64().unwrap()).abs() / range;
                worst = worst.max(err);
                assert!(err < 1e-9, "{name} {kind} at {p}: {err:e}");
            }
            let sum: f64 = y.iter().sum();
            let sumsq: f64 = y.iter().map(|v| v * v).sum();
            let es = rec[format!("{kind}_sum")].as_f64().unwrap();
            let eq = rec[format!("{kind}_sumsq")].as_f64().unwrap();
            assert!(
                (sum - es).abs() < 1e-6 * n_out as f64 * 1e-3 + 1e-6,
                "{name} {kind} sum {sum} vs {es}"
            );
            assert!(
                (sumsq - eq).abs() / eq < 1e-10,
                "{name} {kind} sumsq {sumsq} vs {eq}"
            );
        }
    }
    eprintln!("worst relative difference to scipy: {worst:e}");
}
