//! Evaluation and inference on a tiny run trained on the synthetic fixtures: metrics shape,
//! agreement between `evaluate` and single-window imputation with the values truly removed,
//! beat prediction on a raw record, and input errors.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::Device;
use wonhee_dataset::{Dataset, PrepareConfig, Side, prepare, read_record_list, write_dataset};
use wonhee_eval::{Bootstrap, EvalProtocol};
use wonhee_train::{
    EvalOptions, Run, RunConfig, TrainOptions, Units, evaluate, fill_window, predict_record,
    predict_windows, train,
};

fn fixtures() -> PathBuf {
    PathBuf::from(format!(
        "{}/../../fixtures/synth",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ))
}

/// A prepared fixture dataset and a run trained on it, shared by the tests of this file.
fn trained() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("wonhee-eval-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (data, run) = (base.join("data"), base.join("run"));
        let src = fixtures();
        let p = prepare(
            &src,
            &read_record_list(&src).unwrap(),
            &PrepareConfig::default(),
            &|| (),
        )
        .unwrap();
        write_dataset(&p, &data, false, true).unwrap();
        let cfg = RunConfig::from_toml_str(
            r#"
            [model]
            patch = 16
            d_model = 32
            n_heads = 2
            n_layers = 1
            head_layers = 1
            ffn_mult = 2
            rhythm_inputs = 11
            [train]
            batch_size = 16
            max_steps = 30
            lr = 3e-3
            seed = 3
            "#,
            "tiny",
        )
        .unwrap();
        let opts = TrainOptions {
            device: Device::Cpu,
            resume: false,
            stop_after: None,
            on_step: &|_| (),
            on_val: &|_| (),
        };
        train(&run, &data, &cfg, &opts).unwrap();
        (data, run)
    })
}

fn opts(max: Option<usize>) -> EvalOptions<'static> {
    EvalOptions {
        batch: 32,
        protocol: EvalProtocol::new(11),
        bootstrap: Bootstrap::new(50, 1),
        max_regression_windows: max,
        examples: 2,
        progress: &|_, _, _| {},
    }
}

#[test]
fn evaluate_reports_every_task_on_the_test_side() {
    let (data, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let (m, ex) = evaluate(&run, &ds, &opts(None)).unwrap();
    let n_test = ds.indices(Side::Test).len() as u64;
    let c = m.classification.as_ref().unwrap();
    assert_eq!(c.n, n_test);
    let acc = c.accuracy.value.unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let ks: Vec<usize> = m.imputation.iter().map(|r| r.k).collect();
    assert_eq!(ks, vec![200, 370, 540]);
    assert_eq!(m.forecasting.len(), 3);
    for r in &m.imputation {
        assert_eq!(r.n_windows, n_test);
        assert!(r.model.mse.value.unwrap() > 0.0);
        assert!(
            r.linear.mse_mv.value.is_some(),
            "mV errors need the record scales"
        );
    }
    assert_eq!(ex.imputation.len(), 2);
    assert_eq!(ex.forecasting.len(), 2);
    let e = &ex.imputation[0];
    assert_eq!(e.hidden.iter().filter(|&&h| h).count(), 370);
    // Observed points of the example are the truth; the model's output differs from it on
    // hidden points.
    assert_eq!(e.truth.len(), 640);
    assert_eq!(m.meta["split"], "paper");
}

/// `evaluate` hides points inside a batch; `fill_window` gets them as truly missing values.
/// Both must give the same errors (nothing leaks through the batch path).
/// `predict_windows` (`wonhee eval --predictions`) covers the windows `evaluate` classifies, in
/// its order, with probabilities that sum to one and whose argmax gives `evaluate`'s confusion.
#[test]
fn window_predictions_agree_with_the_evaluation() {
    let (data, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let (m, _) = evaluate(&run, &ds, &opts(Some(4))).unwrap();
    let c = m.classification.as_ref().unwrap();
    // Another batch size: the rows must not depend on it.
    let p = predict_windows(&run, &ds, 7, &|_, _| ()).unwrap();
    assert_eq!(p.windows, ds.indices(Side::Test));
    let k = p.class_names.len();
    assert_eq!(p.probabilities.len(), p.windows.len() * k);
    for row in p.probabilities.chunks(k) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-4, "{row:?}");
        assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    let mut confusion = vec![vec![0u64; k]; k];
    for (t, q) in p.y_true.iter().zip(p.predicted()) {
        confusion[usize::from(*t)][usize::from(q)] += 1;
    }
    assert_eq!(confusion, c.confusion);
    let csv = p.to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "window,record,centre,true_class,pred_class,p_N,p_S,p_V,p_F,p_Q"
    );
    assert_eq!(lines.count(), p.windows.len());
}

#[test]
fn evaluate_agrees_with_single_window_imputation_without_the_values() {
    let (data, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let m_windows = 12;
    let (m, _) = evaluate(&run, &ds, &opts(Some(m_windows))).unwrap();
    let idx = ds.indices(Side::Test);
    let chosen: Vec<usize> = (0..m_windows)
        .map(|j| idx[j * idx.len() / m_windows])
        .collect();
    let proto = EvalProtocol::new(11);
    let scaler = run.info.dataset.scaler;
    for (r, fc) in m.imputation.iter().zip(&m.forecasting) {
        let k = r.k;
        let (mut se_i, mut se_f) = (0f64, 0f64);
        for &i in &chosen {
            let mut w = vec![0f32; 640];
            ds.fill_batch(&[i], &scaler, &mut w).unwrap();
            let mask = proto.imputation_mask(640, k, i as u64).unwrap();
            let values: Vec<Option<f32>> = w
                .iter()
                .zip(&mask)
                .map(|(&v, &h)| (!h).then_some(v))
                .collect();
            let out = fill_window(
                &run.model,
                &values,
                640,
                &scaler,
                Units::Standardized,
                false,
            )
            .unwrap();
            se_i += mask
                .iter()
                .zip(out.iter().zip(&w))
                .filter(|(h, _)| **h)
                .map(|(_, (p, t))| f64::from(p - t).powi(2))
                .sum::<f64>();
            let values: Vec<Option<f32>> = w
                .iter()
                .enumerate()
                .map(|(t, &v)| (t < 640 - k).then_some(v))
                .collect();
            let out =
                fill_window(&run.model, &values, 640, &scaler, Units::Standardized, true).unwrap();
            se_f += (640 - k..640)
                .map(|t| f64::from(out[t] - w[t]).powi(2))
                .sum::<f64>();
        }
        let n = (m_windows * k) as f64;
        let (ei, ef) = (r.model.mse.value.unwrap(), fc.model.mse.value.unwrap());
        assert!(
            ((se_i / n) - ei).abs() <= 1e-4 * ei,
            "K={k}: {} vs {ei}",
            se_i / n
        );
        assert!(
            ((se_f / n) - ef).abs() <= 1e-4 * ef,
            "K={k}: {} vs {ef}",
            se_f / n
        );
    }
}

#[test]
fn predict_classifies_every_annotated_beat_of_a_raw_record() {
    let (_, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let rec = fixtures().join("s100");
    let beats = predict_record(&run, &rec, 64).unwrap();
    let ann = wonhee_wfdb::Record::open(&rec)
        .unwrap()
        .annotations("atr")
        .unwrap();
    let n_beats = ann
        .annotations
        .iter()
        .filter(|a| {
            wonhee_dataset::ClassScheme::Aami5
                .label(a.symbol())
                .is_some()
        })
        .count();
    assert_eq!(beats.len(), n_beats);
    assert!(beats.iter().any(|b| b.padded) || n_beats > 0);
    for b in &beats {
        let s: f32 = b.probs.iter().sum();
        assert!((s - 1.0).abs() < 1e-4);
        assert!(run.info.dataset.classes.contains(&b.pred_class));
    }
    let err = predict_record(&run, Path::new("/nonexistent/rec"), 8).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rec"), "{err}");
}

/// A beat of a raw record gets the same probabilities from `predict_record` as its window
/// and rhythm features from the prepared dataset give the model: one preprocessing path.
#[test]
fn predict_agrees_with_the_prepared_dataset() {
    let (data, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    assert_eq!(
        run.model.config().rhythm_inputs,
        wonhee_dataset::BEAT_FEATURES,
        "the run reads every beat feature: rhythm, shape and timing context"
    );
    let ds = Dataset::open(data).unwrap();
    let beats = predict_record(&run, &fixtures().join("s101"), 64).unwrap();
    let r = ds.records().iter().position(|n| n == "s101").unwrap();
    let idx: Vec<usize> = (0..ds.len())
        .filter(|&i| usize::from(ds.window_records()[i]) == r)
        .collect();
    assert!(idx.len() > 10);
    let scaler = run.info.dataset.scaler;
    let mut x = vec![0f32; idx.len() * 640];
    ds.fill_batch(&idx, &scaler, &mut x).unwrap();
    let xt = candle_core::Tensor::from_vec(x, (idx.len(), 640), &Device::Cpu).unwrap();
    let rt = wonhee_train::rhythm_batch(run.model.config(), &ds, &idx, &Device::Cpu)
        .unwrap()
        .unwrap();
    let logits = run
        .model
        .forward_classify_with(&xt, Some(&rt), false)
        .unwrap();
    let probs: Vec<Vec<f32>> = candle_nn::ops::softmax(&logits, 1)
        .unwrap()
        .to_vec2()
        .unwrap();
    for (k, &i) in idx.iter().enumerate() {
        let b = beats
            .iter()
            .find(|b| b.sample == ds.samples()[i])
            .unwrap_or_else(|| panic!("beat at {} not predicted", ds.samples()[i]));
        assert!(!b.padded);
        for (p, q) in b.probs.iter().zip(&probs[k]) {
            assert!((p - q).abs() < 1e-5, "beat at {}: {p} vs {q}", b.sample);
        }
    }
}

#[test]
fn fill_window_rejects_bad_windows() {
    let (_, run_dir) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let s = run.info.dataset.scaler;
    let short = vec![Some(0.5f32); 100];
    let e = fill_window(&run.model, &short, 640, &s, Units::Raw, false).unwrap_err();
    assert!(e.contains("100 values"), "{e}");
    let mut all_missing = vec![None; 640];
    all_missing[3] = Some(1.0);
    let e = fill_window(&run.model, &all_missing, 640, &s, Units::Raw, false).unwrap_err();
    assert!(e.contains("at least 2"), "{e}");
    let mut nan = vec![Some(0.1f32); 640];
    nan[7] = Some(f32::NAN);
    nan[8] = None;
    let e = fill_window(&run.model, &nan, 640, &s, Units::Raw, false).unwrap_err();
    assert!(e.contains("value 7"), "{e}");
    // Raw units: a window in mV with an offset gives outputs near the observed range, and the
    // observed points come back unchanged.
    let mut w: Vec<Option<f32>> = (0..640)
        .map(|t| Some(5.0 + (t as f32 * 0.3).sin()))
        .collect();
    for v in w.iter_mut().skip(100).take(200) {
        *v = None;
    }
    let out = fill_window(&run.model, &w, 640, &s, Units::Raw, false).unwrap();
    assert_eq!(out[0], w[0].unwrap());
    assert!(out[150].is_finite() && (out[150] - 5.0).abs() < 5.0);
}
