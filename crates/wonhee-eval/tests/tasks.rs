//! Imputation/forecasting evaluation and the metrics report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wonhee_eval::{
    Bootstrap, EvalProtocol, ForecastEval, ImputationEval, Metrics, Unit, classification_report,
    linear_fill, masked_errors,
};

const L: usize = 640;

/// A synthetic "ECG": a periodic spike train plus noise, period `rr`.
fn window(rr: usize, seed: u64) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..L)
        .map(|i| {
            let ph = (i % rr) as f32 / rr as f32;
            let spike = (-((ph - 0.3) * 40.0).powi(2)).exp() * 3.0;
            spike + 0.3 * (ph * std::f32::consts::TAU).sin() + 0.05 * (r.random::<f32>() - 0.5)
        })
        .collect()
}

#[test]
fn imputation_report_compares_model_and_baselines_on_the_same_masks() {
    let proto = EvalProtocol::new(3);
    let mut ev = ImputationEval::new(200);
    let mut linear_direct = 0.0;
    for w in 0..40u64 {
        let x = window(90 + w as usize, w);
        let mask = proto.imputation_mask(L, 200, w).unwrap();
        // "Model": the truth plus a small error on hidden points.
        let pred: Vec<f32> = x.iter().map(|v| v + 0.1).collect();
        ev.push(&x, &mask, &pred, Some(0.5), None).unwrap();
        let lin = linear_fill(&x, &mask).unwrap();
        linear_direct += masked_errors(&lin, &x, &mask).unwrap().sse;
    }
    assert_eq!(ev.len(), 40);
    let r = ev.finish(&Bootstrap::new(200, 1)).unwrap();
    assert_eq!((r.k, r.n_windows, r.model.n_points), (200, 40, 8000));
    assert!((r.model.mse.value.unwrap() - 0.01).abs() < 1e-6);
    assert!((r.model.mae.value.unwrap() - 0.1).abs() < 1e-6);
    assert!((r.model.mse_mv.value.unwrap() - 0.01 * 0.25).abs() < 1e-7);
    assert!((r.model.mae_mv.value.unwrap() - 0.05).abs() < 1e-7);
    let lin = r.linear.mse.value.unwrap();
    assert!((lin - linear_direct / 8000.0).abs() < 1e-9);
    // Linear interpolation beats zero and mean fill on a smooth-ish signal.
    assert!(lin < r.zero.mse.value.unwrap() && lin < r.mean.mse.value.unwrap());
    assert_eq!(r.best_baseline.as_deref(), Some("linear"));
    let imp = r.improvement_mse.value.unwrap();
    assert!((imp - (1.0 - 0.01 / lin)).abs() < 1e-6);
    let (lo, hi) = (r.improvement_mse.lo.unwrap(), r.improvement_mse.hi.unwrap());
    assert!(lo <= imp && imp <= hi);
    assert_eq!(r.bootstrap.unit, Unit::Window);
}

#[test]
fn forecast_report_with_exact_previous_beat() {
    let proto = EvalProtocol::new(0);
    let mut ev = ForecastEval::new(200);
    for w in 0..30u64 {
        let rr = 100 + w as usize;
        // Noise-free periodic signal: the previous-beat forecast is exact.
        let x: Vec<f32> = (0..L)
            .map(|i| ((i % rr) as f32 / rr as f32 * std::f32::consts::TAU).sin())
            .collect();
        let mask = proto.forecast_mask(L, 200).unwrap();
        let pred: Vec<f32> = x.iter().map(|v| v + 0.2).collect();
        ev.push(&x, &mask, &pred, rr, None, Some(w as u32 % 3))
            .unwrap();
    }
    // One window whose RR is longer than its history: falls back to the last value.
    let x = window(100, 99);
    let mask = proto.forecast_mask(L, 200).unwrap();
    ev.push(&x, &mask, &x, 500, None, Some(0)).unwrap();
    let r = ev.finish(&Bootstrap::new(100, 2)).unwrap();
    assert_eq!(r.previous_beat_fallbacks, 1);
    assert_eq!(r.bootstrap.unit, Unit::Group);
    assert_eq!(r.bootstrap.n_units, 3);
    assert_eq!(r.n_windows, 31);
    assert_eq!(r.best_baseline.as_deref(), Some("previous_beat"));
    // The model's error: 0.2 on 30 windows, 0 on the last one.
    let mae = r.model.mae.value.unwrap();
    assert!((mae - 0.2 * 30.0 / 31.0).abs() < 1e-6);
    let last_mae = r.last_value.mae.value.unwrap();
    assert!((r.mase.value.unwrap() - mae / last_mae).abs() < 1e-12);
    assert!(r.mase_insample.value.unwrap() > 0.0);
    assert_eq!(r.model.mse_mv.value, None, "no mV scale given");
    // Previous beat is exact on all but the fallback window, so the model is worse.
    assert!(r.improvement_mse.value.unwrap() < 0.0);
}

#[test]
fn bad_windows_are_errors_that_name_the_place() {
    let mut ev = ImputationEval::new(200);
    let x = window(100, 0);
    let mask = EvalProtocol::new(0).imputation_mask(L, 370, 0).unwrap();
    let e = ev.push(&x, &mask, &x, None, None).unwrap_err().to_string();
    assert!(
        e.contains("imputation K=200, window #0") && e.contains("370 hidden"),
        "{e}"
    );
    let mask = EvalProtocol::new(0).imputation_mask(L, 200, 0).unwrap();
    let mut bad = x.clone();
    let i = mask.iter().position(|&h| h).unwrap();
    bad[i] = f32::NAN;
    let e = ev
        .push(&x, &mask, &bad, None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("index {i}")), "{e}");
    assert!(ev.push(&x, &mask, &x[..10], None, None).is_err());
    assert!(ev.is_empty());

    let mut fc = ForecastEval::new(200);
    let e = fc
        .push(&x, &mask, &x, 100, None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("trailing"), "{e}");
}

fn full_metrics() -> Metrics {
    let names: Vec<String> = ["N", "S", "V", "F", "Q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let t: Vec<u8> = (0..500).map(|_| r.random_range(0..5)).collect();
    let p: Vec<u8> = t
        .iter()
        .map(|&y| {
            if r.random::<f64>() < 0.8 {
                y
            } else {
                r.random_range(0..5)
            }
        })
        .collect();
    let boot = Bootstrap::new(100, 1);
    let mut m = Metrics::new();
    m.classification = Some(classification_report(&t, &p, &names, None, &boot).unwrap());
    let proto = EvalProtocol::new(1);
    for &k in &proto.ks {
        let mut imp = ImputationEval::new(k);
        let mut fc = ForecastEval::new(k);
        for w in 0..10u64 {
            let x = window(120, w);
            let pred: Vec<f32> = x.iter().map(|v| v * 0.9).collect();
            imp.push(
                &x,
                &proto.imputation_mask(L, k, w).unwrap(),
                &pred,
                Some(0.4),
                None,
            )
            .unwrap();
            fc.push(
                &x,
                &proto.forecast_mask(L, k).unwrap(),
                &pred,
                120,
                Some(0.4),
                None,
            )
            .unwrap();
        }
        m.imputation.push(imp.finish(&boot).unwrap());
        m.forecasting.push(fc.finish(&boot).unwrap());
    }
    m.meta.insert("split".into(), "paper".into());
    m.meta.insert("steps".into(), 1234.into());
    m
}

#[test]
fn metrics_json_round_trip_and_stable_keys() {
    let m = full_metrics();
    let json = m.to_json_pretty().unwrap();
    assert_eq!(Metrics::from_json(&json).unwrap(), m);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Key paths documented in docs/metrics-schema.md.
    assert_eq!(v["schema_version"], 1);
    let acc = m.classification.as_ref().unwrap().accuracy;
    assert_eq!(v["classification"]["accuracy"]["value"], acc.value.unwrap());
    assert!(v["classification"]["accuracy"]["lo"].is_f64());
    assert!(v["classification"]["accuracy"]["hi"].is_f64());
    assert!(v["classification"]["per_class"][2]["positive_predictivity"]["value"].is_f64());
    assert!(v["classification"]["per_class"][2]["fn"].is_u64());
    assert_eq!(
        v["classification"]["confusion"].as_array().unwrap().len(),
        5
    );
    assert_eq!(v["classification"]["aami"]["classes"][2]["name"], "V");
    assert_eq!(v["classification"]["bootstrap"]["unit"], "window");
    assert_eq!(v["imputation"][1]["k"], 370);
    assert!(v["imputation"][0]["linear"]["mse_mv"]["value"].is_f64());
    assert!(v["forecasting"][2]["mase"]["value"].is_f64());
    assert!(v["forecasting"][0]["previous_beat_fallbacks"].is_u64());
    assert_eq!(v["meta"]["split"], "paper");
    assert!(!json.contains("NaN"));

    // Atomic write and read back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.json");
    m.write_json(&path).unwrap();
    assert_eq!(Metrics::read_json(&path).unwrap(), m);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    let e = Metrics::read_json(&dir.path().join("missing.json")).unwrap_err();
    assert!(e.to_string().contains("missing.json"), "{e}");
    std::fs::write(&path, "{\"schema_version\": \"x\"}").unwrap();
    let e = Metrics::read_json(&path).unwrap_err();
    assert!(e.to_string().contains("metrics.json"), "{e}");
}

#[test]
fn markdown_contains_the_key_numbers() {
    let m = full_metrics();
    let md = m.to_markdown();
    let c = m.classification.as_ref().unwrap();
    let acc = format!("{:.2}%", 100.0 * c.accuracy.value.unwrap());
    assert!(md.contains(&format!("| Accuracy | {acc} (")), "{md}");
    assert!(md.contains("| Macro-F1 |"));
    assert!(md.contains("AAMI EC57 gross statistics"));
    assert!(md.contains("| true \\ predicted | N | S | V | F | Q |"));
    let row0: Vec<String> = c.confusion[0].iter().map(|v| v.to_string()).collect();
    assert!(
        md.contains(&format!("| **N** | {} |", row0.join(" | "))),
        "{md}"
    );
    assert!(md.contains("## Imputation") && md.contains("## Forecasting"));
    for r in &m.imputation {
        let line = format!("| {} | linear | ", r.k);
        assert!(md.contains(&line), "{line}");
    }
    let f = &m.forecasting[0];
    let mase = format!("{:.4}", f.mase.value.unwrap());
    assert!(md.contains(&mase), "{mase} not in\n{md}");
    assert!(md.contains("| split | paper |"));
}

#[test]
fn errors_cluster_bootstrap_differs_from_window_bootstrap() {
    // Groups with very different error levels: a cluster bootstrap is wider.
    let proto = EvalProtocol::new(8);
    let mut a = ImputationEval::new(200);
    let mut b = ImputationEval::new(200);
    for w in 0..60u64 {
        let x = window(100, w);
        let g = (w / 10) as u32;
        let err = 0.05 * (1 + g * g) as f32;
        let pred: Vec<f32> = x.iter().map(|v| v + err).collect();
        let mask = proto.imputation_mask(L, 200, w).unwrap();
        a.push(&x, &mask, &pred, None, None).unwrap();
        b.push(&x, &mask, &pred, None, Some(g)).unwrap();
    }
    let boot = Bootstrap::new(400, 3);
    let (ra, rb) = (a.finish(&boot).unwrap(), b.finish(&boot).unwrap());
    // Same point estimate (up to summation order).
    assert!((ra.model.mse.value.unwrap() - rb.model.mse.value.unwrap()).abs() < 1e-12);
    let width = |e: &wonhee_eval::Estimate| e.hi.unwrap() - e.lo.unwrap();
    assert!(width(&rb.model.mse) > 1.5 * width(&ra.model.mse));
}
