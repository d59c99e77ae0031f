//! `wonhee train | eval | predict | impute | forecast | tsne --run | bench train` end to end on
//! the synthetic fixtures with a tiny config, and their errors on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{csv_column, fixtures, prepare_synth, stderr_of, wonhee};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TINY: &str = r#"
[model]
patch = 16
d_model = 32
n_heads = 2
n_layers = 1
head_layers = 1
ffn_mult = 2
missing_input = "interpolate"
impute_base = "linear"
rhythm_inputs = 4
[train]
batch_size = 16
max_steps = 20
lr = 3e-3
val_first_steps = 10
seed = 3
"#;

/// A prepared fixture dataset and a run trained on it by the CLI, shared by the tests.
fn trained() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static DIRS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let (data, run) = (tmp.path().join("prep"), tmp.path().join("run"));
        let config = tmp.path().join("tiny.toml");
        std::fs::write(&config, TINY).unwrap();
        prepare_synth(&data).assert().success();
        wonhee()
            .arg("train")
            .arg("--config")
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&run)
            .assert()
            .success();
        (tmp, data, run)
    })
}

#[test]
fn train_writes_a_complete_run_and_eval_writes_metrics() {
    let (_, data, run) = trained();
    for f in [
        "config.toml",
        "run.json",
        "model.safetensors",
        "metrics.jsonl",
    ] {
        assert!(run.join(f).is_file(), "{f}");
    }
    wonhee()
        .arg("eval")
        .arg("--run")
        .arg(run)
        .arg("--data")
        .arg(data)
        .args(["--bootstrap", "20", "--max-windows", "40"])
        .arg("--predictions")
        .arg(run.join("predictions.csv"))
        .assert()
        .success();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let acc = m["classification"]["accuracy"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    // One row per classified window, the same accuracy.
    let preds = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let rows: Vec<Vec<&str>> = preds
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        rows.len() as u64,
        m["classification"]["n"].as_u64().unwrap()
    );
    let correct = rows.iter().filter(|r| r[3] == r[4]).count();
    assert!((correct as f64 / rows.len() as f64 - acc).abs() < 1e-9);
    assert!(run.join("metrics.md").is_file());
    assert!(run.join("examples.json").is_file());
    // Every file of the run has ordinary permissions, not a temporary file's owner-only ones.
    #[cfg(unix)]
    for f in [
        "config.toml",
        "run.json",
        "model.safetensors",
        "metrics.json",
        "metrics.md",
        "examples.json",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(run.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "{f}: mode {mode:o}");
    }

    // A missing run is a one-line error naming it.
    let out = wonhee()
        .arg("eval")
        .arg("--run")
        .arg(run.with_file_name("nope"))
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("nope"), "{}", stderr_of(&out));
}

#[test]
fn predict_classifies_every_annotated_beat_of_a_raw_record_with_a_trained_run() {
    let (tmp, _, run) = trained();
    let out = tmp.path().join("beats.csv");
    wonhee()
        .arg("predict")
        .arg("--run")
        .arg(run)
        .arg(fixtures().join("synth/s100"))
        .args(["--beats", "atr"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("sample,time_s,pred_class,p_N,p_S,p_V,p_F,p_Q"),
        "{header}"
    );
    let p: Vec<f64> = csv_column(&out, "p_N")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(!p.is_empty() && p.iter().all(|p| (0.0..=1.0).contains(p)));
    let ann = wonhee_wfdb::Record::open(fixtures().join("synth/s100"))
        .unwrap()
        .annotations("atr")
        .unwrap();
    let beats = ann
        .annotations
        .iter()
        .filter(|a| {
            wonhee_dataset::ClassScheme::Aami5
                .label(a.symbol())
                .is_some()
        })
        .count();
    assert_eq!(p.len(), beats);
}

fn write_values(path: &Path, values: &[Option<f32>]) {
    let mut s = String::from("value\n");
    for v in values {
        if let Some(v) = v {
            s.push_str(&format!("{v}\n"));
        } else {
            s.push('\n');
        }
    }
    std::fs::write(path, s).unwrap();
}

fn window() -> Vec<f32> {
    (0..640)
        .map(|t| (t as f32 * 0.07).sin() + 0.3 * (t as f32 * 0.011).cos())
        .collect()
}

#[test]
fn impute_fills_exactly_the_empty_cells() {
    let (tmp, _, run) = trained();
    let w = window();
    let values: Vec<Option<f32>> = w
        .iter()
        .enumerate()
        .map(|(t, &v)| (t % 3 != 0).then_some(v))
        .collect();
    let input = tmp.path().join("window.csv");
    write_values(&input, &values);
    let out = tmp.path().join("filled.csv");
    wonhee()
        .arg("impute")
        .arg("--run")
        .arg(run)
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let filled = csv_column(&out, "value");
    let imputed = csv_column(&out, "imputed");
    assert_eq!(filled.len(), 640);
    for t in 0..640 {
        let v: f32 = filled[t].parse().unwrap();
        assert!(v.is_finite());
        assert_eq!(imputed[t] == "true", t % 3 == 0, "row {t}");
        if t % 3 != 0 {
            assert!((v - w[t]).abs() < 1e-5, "observed value changed at {t}");
        }
    }
}

#[test]
fn forecast_predicts_the_horizon() {
    let (tmp, _, run) = trained();
    let w = window();
    let input = tmp.path().join("history.csv");
    write_values(
        &input,
        &w[..440].iter().map(|&v| Some(v)).collect::<Vec<_>>(),
    );
    let out = tmp.path().join("pred.csv");
    wonhee()
        .arg("forecast")
        .arg("--run")
        .arg(run)
        .arg("--input")
        .arg(&input)
        .args(["--horizon", "200"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let steps = csv_column(&out, "step");
    assert_eq!(steps.len(), 200);
    assert_eq!(steps[0], "1");
    assert!(
        csv_column(&out, "value")
            .iter()
            .all(|v| v.parse::<f32>().unwrap().is_finite())
    );
}

#[test]
fn impute_and_forecast_errors_are_one_line_and_leave_nothing() {
    let (tmp, _, run) = trained();
    let w = window();
    /// Name, input cells, command and its extra arguments, expected word in the error.
    type Case<'a> = (&'a str, Vec<Option<f32>>, &'a [&'a str], &'a str);
    let cases: Vec<Case> = vec![
        // Wrong length (with a gap, so there is something to impute).
        (
            "short",
            w[..100]
                .iter()
                .enumerate()
                .map(|(t, &v)| (t != 50).then_some(v))
                .collect(),
            &["impute"],
            "640",
        ),
        // Nothing missing is fine for impute, but every point missing is not.
        ("allmissing", vec![None; 640], &["impute"], "missing"),
        // A history shorter than window - K. (Its own file name: the tests share one folder,
        // and `forecast_predicts_the_horizon` writes `history.csv` at the same time.)
        (
            "short-history",
            w[..100].iter().map(|&v| Some(v)).collect(),
            &["forecast", "--horizon", "200"],
            "history",
        ),
    ];
    for (name, values, cmd, needle) in cases {
        let input = tmp.path().join(format!("{name}.csv"));
        write_values(&input, &values);
        let out = tmp.path().join(format!("{name}-out.csv"));
        let o = wonhee()
            .args(&cmd[..1])
            .arg("--run")
            .arg(run)
            .arg("--input")
            .arg(&input)
            .args(&cmd[1..])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = stderr_of(&o);
        assert!(!o.status.success(), "{name}: succeeded");
        assert!(err.contains(&format!("{name}.csv")), "{name}: {err}");
        assert!(err.to_lowercase().contains(needle), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(!out.exists(), "{name}: output left behind");
    }
    // NaN in a cell.
    let input = tmp.path().join("nan.csv");
    std::fs::write(&input, format!("value\n{}NaN\n", "1.0\n".repeat(639))).unwrap();
    let out = tmp.path().join("nan-out.csv");
    let o = wonhee()
        .arg("impute")
        .arg("--run")
        .arg(run)
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr_of(&o);
    assert!(err.contains("nan.csv:641"), "{err}");
    assert!(!out.exists());
}

#[test]
fn tsne_of_run_embeddings_and_bench_train() {
    let (tmp, data, run) = trained();
    let out = tmp.path().join("emb.csv");
    wonhee()
        .arg("tsne")
        .arg("--data")
        .arg(data)
        .arg("--run")
        .arg(run)
        .args([
            "--per-class",
            "20",
            "--perplexity",
            "5",
            "--iterations",
            "300",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--out")
        .arg(out.with_extension("parquet"))
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("x,y,label,record,sample")
    );
    assert!(out.with_extension("parquet").is_file());

    let config = tmp.path().join("tiny.toml");
    let o = wonhee()
        .arg("bench")
        .arg("train")
        .arg("--config")
        .arg(&config)
        .args(["--steps", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["samples_per_s"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn adapt_scores_each_held_out_record_after_its_first_minutes() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run, out) = (
        tmp.path().join("prep"),
        tmp.path().join("run"),
        tmp.path().join("adapted"),
    );
    let config = tmp.path().join("tiny.toml");
    std::fs::write(&config, TINY).unwrap();
    prepare_synth(&data)
        .args(["--split", "record-folds", "--folds", "2"])
        .assert()
        .success();
    wonhee()
        .args(["train", "--fold", "0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    let adapt = |out: &Path, minutes: &str| {
        let mut c = wonhee();
        c.arg("adapt")
            .arg("--run")
            .arg(&run)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(["--minutes", minutes, "--steps", "3", "--batch", "8"])
            .args(["--bootstrap", "10"]);
        c
    };
    adapt(&out, "0.25").assert().success();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["meta"]["protocol"], "patient-specific");
    assert_eq!(m["meta"]["adapted"], true);
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics-unadapted.json")).unwrap())
            .unwrap();
    assert_eq!(before["meta"]["adapted"], false);
    let n = m["classification"]["n"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(before["classification"]["n"].as_u64().unwrap(), n);
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("adapt.json")).unwrap()).unwrap();
    let scored: u64 = a["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scored"].as_u64().unwrap())
        .sum();
    assert_eq!(scored, n);
    assert_eq!(a["options"]["steps"], 3);
    let md = std::fs::read_to_string(out.join("metrics.md")).unwrap();
    assert!(md.contains("not inter-patient"), "{md}");

    // Bad settings: one line naming the problem, non-zero exit, nothing written.
    let bad = tmp.path().join("bad");
    let o = adapt(&bad, "30").output().unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("no beats after"),
        "{}",
        stderr_of(&o)
    );
    assert!(!bad.exists());
    let (_, paper_data, paper_run) = trained();
    let o = wonhee()
        .arg("adapt")
        .arg("--run")
        .arg(paper_run)
        .arg("--data")
        .arg(paper_data)
        .arg("--out")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("record-level split"),
        "{}",
        stderr_of(&o)
    );
    assert!(!bad.exists());
    // Never into the run folder, whose metrics.json is the run's own evaluation.
    let before = std::fs::read(run.join("config.toml")).unwrap();
    let o = adapt(&run, "0.25").output().unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("run folder"), "{}", stderr_of(&o));
    assert!(!run.join("adapt.json").exists());
    assert_eq!(std::fs::read(run.join("config.toml")).unwrap(), before);
}

/// A run whose model reads a second lead (`second_lead = true`: its waveform) trains on a
/// dataset prepared with `--second-lead`, evaluates, and predicts from a WFDB record or a CSV
/// with both leads alike; with one lead it warns and still answers.
#[test]
fn second_lead_run_reads_both_leads_of_any_input() {
    two_lead_run("second_lead = true");
}

/// The same with `lead2_context = true` (the beat against its median beat in the second lead).
#[test]
fn lead2_context_run_reads_both_leads_of_any_input() {
    two_lead_run("lead2_context = true");
}

/// Trains the tiny config with `option` (a `[model]` line that makes it read a second lead)
/// and checks training, evaluation and prediction from one and two leads.
fn two_lead_run(option: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("prep2"), tmp.path().join("run2"));
    let config = tmp.path().join("tiny2.toml");
    let text = TINY.replace(
        "rhythm_inputs = 4\n",
        &format!("rhythm_inputs = 4\n{option}\n"),
    );
    std::fs::write(&config, text).unwrap();
    // Training on a dataset without the second lead is refused, naming the option.
    let (_, plain, _) = trained();
    let o = wonhee()
        .args(["train", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(plain)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("--second-lead"), "{}", stderr_of(&o));
    assert!(!run.exists());
    prepare_synth(&data).arg("--second-lead").assert().success();
    assert!(data.join("signals2.safetensors").is_file());
    wonhee()
        .args(["train", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    wonhee()
        .args(["eval", "--run"])
        .arg(&run)
        .arg("--data")
        .arg(&data)
        .args(["--bootstrap", "0", "--max-windows", "50"])
        .assert()
        .success();
    // The record's two leads as a CSV: the same values, so the same answers.
    let record = fixtures().join("synth/s100");
    let rec = wonhee_wfdb::Record::open(&record).unwrap();
    let sig = rec.read_selected(&[0, 1]).unwrap();
    let (mlii, v5) = (sig.physical_f32(0), sig.physical_f32(1));
    let mut both = String::from("MLII,V5\n");
    let mut one = String::from("MLII\n");
    for (a, b) in mlii.iter().zip(&v5) {
        both.push_str(&format!("{a},{b}\n"));
        one.push_str(&format!("{a}\n"));
    }
    let (csv2, csv1) = (tmp.path().join("both.csv"), tmp.path().join("one.csv"));
    std::fs::write(&csv2, both).unwrap();
    std::fs::write(&csv1, one).unwrap();
    let predict = |input: &Path, out: &Path| {
        wonhee()
            .arg("predict")
            .arg(input)
            .arg("--run")
            .arg(&run)
            .args(["--fs", "360", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let outs: Vec<PathBuf> = ["wfdb", "both", "one"]
        .iter()
        .map(|n| tmp.path().join(format!("{n}-beats.csv")))
        .collect();
    let o = predict(&record, &outs[0]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(!stderr_of(&o).contains("the model reads a second lead"));
    let o = predict(&csv2, &outs[1]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = predict(&csv1, &outs[2]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("the model reads a second lead"),
        "{}",
        stderr_of(&o)
    );
    let probs = |out: &Path| -> Vec<String> {
        let mut v = csv_column(out, "sample");
        for c in ["p_N", "p_S", "p_V", "p_F", "p_Q"] {
            v.extend(csv_column(out, c));
        }
        v
    };
    assert!(!csv_column(&outs[0], "sample").is_empty());
    assert_eq!(probs(&outs[0]), probs(&outs[1]));
    assert_eq!(
        csv_column(&outs[0], "sample"),
        csv_column(&outs[2], "sample")
    );
    assert_ne!(
        probs(&outs[0]),
        probs(&outs[2]),
        "the second lead was not read"
    );
    // Small batches (several chunks, each with its own slice of the second lead's features)
    // give the same answers (to float rounding: the matrix products' blocking depends on the
    // batch), and --second-lead names the lead.
    let small = tmp.path().join("small.csv");
    let o = wonhee()
        .arg("predict")
        .arg(&csv2)
        .arg("--run")
        .arg(&run)
        .args([
            "--fs",
            "360",
            "--batch",
            "7",
            "--second-lead",
            "V5",
            "--out",
        ])
        .arg(&small)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(csv_column(&outs[0], "sample"), csv_column(&small, "sample"));
    let num = |out: &Path| -> Vec<f64> {
        let p = probs(out);
        p.iter().map(|v| v.parse().unwrap()).collect()
    };
    for (a, b) in num(&outs[0]).iter().zip(num(&small)) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let o = wonhee()
        .arg("predict")
        .arg(&csv2)
        .arg("--run")
        .arg(&run)
        .args(["--fs", "360", "--second-lead", "MLII", "--out"])
        .arg(tmp.path().join("self.csv"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("is the lead itself"),
        "{}",
        stderr_of(&o)
    );
    assert!(!tmp.path().join("self.csv").exists());
}
