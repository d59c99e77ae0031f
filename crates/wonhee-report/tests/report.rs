//! End to end: fake run folders (written with the real types), a dataset summary, a t-SNE CSV
//! and a stage table -> every report file, with the numbers of the inputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use wonhee_eval::{Bootstrap, ForecastEval, ImputationEval, Metrics, classification_report};
use wonhee_report::{ReportInputs, load_run, read_stages, read_tsne_csv, write_report};
use wonhee_schema::{
    ClassCounts, DatasetInfo, FORMAT_VERSION, FfnKind, OverlapStats, PrepareConfig, RecordSummary,
    RunConfig, RunInfo, SideSummary, Summary,
};
use wonhee_signal::Scaler;

const L: usize = 64;

fn classes() -> Vec<String> {
    ["N", "S", "V", "F", "Q"].map(String::from).to_vec()
}

fn summary() -> Summary {
    let side = |windows: usize, per_class: Vec<usize>, records: &[&str]| SideSummary {
        windows,
        per_class,
        records: records.iter().map(|r| r.to_string()).collect(),
    };
    let mut splits = BTreeMap::new();
    splits.insert(
        "train".to_string(),
        side(1117, vec![1000, 60, 50, 7, 0], &["100", "102"]),
    );
    splits.insert(
        "test".to_string(),
        side(281, vec![251, 15, 13, 2, 0], &["100", "102"]),
    );
    let record = |name: &str, found: bool| RecordSummary {
        record: name.into(),
        lead: if found { "MLII".into() } else { "V5".into() },
        lead_index: 0,
        lead_found: found,
        fs: 360.0,
        n_samples: 650_000,
        n_resampled: 231_112,
        zscore: Scaler {
            mean: -0.3,
            std: 0.5,
        },
        nan_filled: 0,
        second_lead: None,
        beats: vec![700, 40, 33, 5, 0],
        windows: vec![699, 38, 32, 5, 0],
        dropped: vec![1, 2, 1, 0, 0],
        side: Some("train".into()),
    };
    Summary {
        format_version: FORMAT_VERSION,
        config: PrepareConfig::default(),
        classes: classes(),
        n_windows: 1398,
        splits,
        dropped: ClassCounts::new(&classes(), &[2, 3, 1, 0, 0]),
        excluded_records: vec![],
        lead_fallbacks: vec!["102".into()],
        records: vec![record("100", true), record("102", false)],
        scaler: Some(Scaler {
            mean: 0.01,
            std: 0.98,
        }),
        fold_scalers: vec![],
        overlap: OverlapStats {
            eval_windows: 281,
            overlapping_a_training_window: 277,
            fraction_overlapping: 277.0 / 281.0,
            sharing_at_least_half: 201,
            mean_shared_fraction: 0.6342,
        },
        inputs: vec![],
    }
}

fn window(i: usize) -> Vec<f32> {
    (0..L)
        .map(|t| ((t as f32 * 0.3) + i as f32).sin() + 0.1 * (i % 3) as f32)
        .collect()
}

fn metrics(shift: usize) -> Metrics {
    let names = classes();
    let y_true: Vec<u8> = (0..200).map(|i| [0, 0, 0, 1, 2, 0, 3, 0][i % 8]).collect();
    let y_pred: Vec<u8> = y_true
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if (i + shift).is_multiple_of(7) {
                (t + 1) % 5
            } else {
                t
            }
        })
        .collect();
    let boot = Bootstrap::new(40, 7);
    let mut m = Metrics::new();
    m.classification = Some(classification_report(&y_true, &y_pred, &names, None, &boot).unwrap());
    for k in [16, 32, 48] {
        let mut imp = ImputationEval::new(k);
        let mut fc = ForecastEval::new(k);
        for i in 0..20 {
            let w = window(i);
            let mask: Vec<bool> = (0..L).map(|t| (t * 7 + i) % L < k).collect();
            let pred: Vec<f32> = w.iter().map(|v| v * 0.9 + 0.01 * shift as f32).collect();
            imp.push(&w, &mask, &pred, None, None).unwrap();
            let trailing: Vec<bool> = (0..L).map(|t| t >= L - k).collect();
            fc.push(&w, &trailing, &pred, 10, None, None).unwrap();
        }
        m.imputation.push(imp.finish(&boot).unwrap());
        m.forecasting.push(fc.finish(&boot).unwrap());
    }
    m.meta.insert("split".into(), "paper".into());
    m
}

fn examples() -> String {
    let ex = |k: usize, base: &str, trailing: bool| {
        let truth = window(3);
        let hidden: Vec<bool> = (0..L)
            .map(|t| {
                if trailing {
                    t >= L - k
                } else {
                    (t * 5) % L < k
                }
            })
            .collect();
        let pred: Vec<f32> = truth.iter().map(|v| v * 0.8).collect();
        serde_json::json!({"k": k, "record": "100", "sample": 1234, "class": "N",
            "truth": truth, "hidden": hidden, "pred": pred, "baseline_name": base,
            "baseline": vec![0.0f32; L]})
    };
    serde_json::json!({"window_len": L, "rate_hz": 128.0,
        "imputation": [ex(16, "linear", false), ex(32, "linear", false)],
        "forecasting": [ex(32, "previous_beat", true)]})
    .to_string()
}

fn make_run(root: &Path, name: &str, data_dir: &Path, ffn: FfnKind, seconds: f64) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = RunConfig::default();
    cfg.model.ffn = ffn;
    cfg.model.seq_len = L;
    cfg.train.mask_min = 16;
    cfg.train.mask_max = 48;
    std::fs::write(dir.join("config.toml"), cfg.to_toml_string().unwrap()).unwrap();
    let summary_bytes = std::fs::read(data_dir.join("summary.json")).unwrap();
    let info = RunInfo {
        format_version: 1,
        dataset: DatasetInfo {
            dir: data_dir.display().to_string(),
            summary_sha256: wonhee_sha256(&summary_bytes),
            prepare: PrepareConfig::default(),
            classes: classes(),
            scaler: Scaler {
                mean: 0.01,
                std: 0.98,
            },
            fold: None,
            n_train: 1006,
            n_val: 111,
        },
        parameters: if ffn == FfnKind::Swiglu {
            1_234_567
        } else {
            2_345_678
        },
        device: "cpu".into(),
        total_steps: 30,
        steps_done: 30,
        train_seconds: seconds,
        samples_per_s: 321.987,
        finished: true,
    };
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_vec_pretty(&info).unwrap(),
    )
    .unwrap();
    let mut log = String::new();
    for step in 1..=30_u32 {
        let d = 1.0 / step as f64;
        writeln!(
            log,
            r#"{{"kind":"train","step":{step},"epoch":{},"lr":0.0003,"loss":{},"loss_cls":{},"loss_imp":{},"loss_fc":{},"grad_norm":1.5,"pcgrad_projections":0,"samples_per_s":300.0,"elapsed_s":{}}}"#,
            step as f64 / 10.0,
            3.0 * d,
            1.6 * d,
            0.9 * d,
            1.1 * d,
            step as f64 * 0.5
        )
        .unwrap();
        if step.is_multiple_of(10) {
            writeln!(
                log,
                r#"{{"kind":"val","step":{step},"epoch":{},"accuracy":{},"macro_f1":0.5,"cls_loss":0.7,"imp_mse":0.3,"fc_mse":0.4}}"#,
                step as f64 / 10.0,
                0.6 + step as f64 / 100.0
            )
            .unwrap();
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), log).unwrap();
    let shift = if ffn == FfnKind::Swiglu { 0 } else { 3 };
    metrics(shift)
        .write_json(&dir.join("metrics.json"))
        .unwrap();
    std::fs::write(dir.join("examples.json"), examples()).unwrap();
    dir
}

fn wonhee_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn report_has_every_file_and_the_inputs_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("prepared");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("summary.json"),
        serde_json::to_vec_pretty(&summary()).unwrap(),
    )
    .unwrap();
    let ffn = make_run(tmp.path(), "run-ffn", &data, FfnKind::Swiglu, 123.456);
    let moe = make_run(tmp.path(), "run-moe", &data, FfnKind::SoftMoe, 654.321);
    let mut csv = String::from("x,y,label,record\n");
    for i in 0..60 {
        let c = ["N", "S", "V"][i % 3];
        writeln!(
            csv,
            "{},{},{c},100",
            (i % 3) as f64 * 5.0 + (i as f64).sin(),
            (i as f64).cos()
        )
        .unwrap();
    }
    let tsne_path = tmp.path().join("tsne.csv");
    std::fs::write(&tsne_path, csv).unwrap();
    let stages_path = tmp.path().join("stages.json");
    std::fs::write(
        &stages_path,
        r#"{"stages":[{"name":"prepare","seconds":1.25,"cached":false},{"name":"train","seconds":77.75,"cached":true}],"profile":"quick","device":"cpu"}"#,
    )
    .unwrap();

    let runs = vec![load_run(&ffn).unwrap(), load_run(&moe).unwrap()];
    assert_eq!(runs[0].label, "paper · FFN");
    assert_eq!(runs[1].label, "paper · MoE");
    assert!(runs[0].summary_matches());
    let mut inputs = ReportInputs::new("Test report", runs).unwrap();
    inputs.tsne_raw = Some(read_tsne_csv(&tsne_path).unwrap());
    inputs.tsne_embed = Some(read_tsne_csv(&tsne_path).unwrap());
    inputs.stages = Some(read_stages(&stages_path).unwrap());
    let out = tmp.path().join("out");
    let written = write_report(&inputs, &out).unwrap();

    let mut expected = vec![
        "class-distribution-1".to_string(),
        "tsne-raw".into(),
        "tsne-embed".into(),
        "val-accuracy".into(),
    ];
    for slug in ["paper-ffn", "paper-moe"] {
        for f in [
            "losses",
            "confusion",
            "mse-vs-k",
            "imputation-example",
            "forecasting-example",
        ] {
            expected.push(format!("{f}-{slug}"));
        }
    }
    for name in &expected {
        for ext in ["svg", "png"] {
            let p = out.join("figures").join(format!("{name}.{ext}"));
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!bytes.is_empty(), "{}", p.display());
            if ext == "png" {
                assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", p.display());
            } else {
                assert!(String::from_utf8(bytes).unwrap().contains("<svg"));
            }
        }
    }
    assert_eq!(written.figures.len(), 2 * expected.len());

    let md = std::fs::read_to_string(&written.markdown).unwrap();
    let html = std::fs::read_to_string(&written.html).unwrap();
    for name in &expected {
        assert!(
            md.contains(&format!("(figures/{name}.svg)")),
            "link to {name}"
        );
    }
    // Numbers of the inputs, as the report formats them.
    let s = summary();
    let m_ffn = metrics(0);
    let m_moe = metrics(3);
    let acc = |m: &Metrics| {
        let a = &m.classification.as_ref().unwrap().accuracy;
        format!(
            "{:.2}% ({:.2}–{:.2})",
            100.0 * a.value.unwrap(),
            100.0 * a.lo.unwrap(),
            100.0 * a.hi.unwrap()
        )
    };
    let o = &s.overlap;
    let must = [
        "94.80%".to_string(),
        acc(&m_ffn),
        acc(&m_moe),
        "| 123.5 | 322.0 |".into(),
        "| 654.3 | 322.0 |".into(),
        "1234567".into(),
        "2345678".into(),
        format!(
            "Of the {} evaluation windows, {}",
            o.eval_windows, o.overlapping_a_training_window
        ),
        format!("({:.2}%)", 100.0 * o.fraction_overlapping),
        format!("{} share at least half", o.sharing_at_least_half),
        "| train | 2 | 1117 | 1000 | 60 | 50 | 7 | 0 |".into(),
        "| test | 2 | 281 | 251 | 15 | 13 | 2 | 0 |".into(),
        "| dropped beats (window does not fit) | | 6 | 2 | 3 | 1 | 0 | 0 |".into(),
        "signal 0 used instead): 102.".into(),
        "| prepare | 1.2 | no |".into(),
        "| train | 77.8 | yes |".into(),
        "| total | 79.0 | |".into(),
        "Profile: `quick`.".into(),
        "| 30 / 30 | yes |".into(),
        // Last validation accuracy: 0.6 + 30/100.
        "| 90.00% | 0.5000 |".into(),
        "1006 / 111".into(),
    ];
    for x in &must {
        assert!(md.contains(x.as_str()), "report.md lacks {x:?}\n{md}");
    }
    // wonhee-eval's own tables are included verbatim, for every run.
    for m in [&m_ffn, &m_moe] {
        for line in m.to_markdown().lines().filter(|l| l.starts_with("| ")) {
            assert!(md.contains(line), "metrics table line missing: {line}");
        }
    }
    // The HTML is self-contained: figures inline, no links to figure files.
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<div class=\"fig\">").count(), expected.len());
    assert!(!html.contains("src=\"figures/"));
    assert!(html.contains("<table>") && html.contains(&acc(&m_ffn)));
}

#[test]
fn bad_inputs_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("prepared");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("summary.json"),
        serde_json::to_vec(&summary()).unwrap(),
    )
    .unwrap();
    let run = make_run(tmp.path(), "run", &data, FfnKind::Swiglu, 1.0);
    let log = run.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"kind\":\"val\",\"step\":31,\"accuracy\":\"high\"}\n");
    std::fs::write(&log, &text).unwrap();
    let n = text.lines().count();
    let msg = load_run(&run).unwrap_err().to_string();
    assert!(msg.contains(&format!("metrics.jsonl:{n}:")), "{msg}");

    std::fs::write(&log, "").unwrap();
    std::fs::write(
        run.join("metrics.json"),
        "{\"schema_version\":1,\"classification\":7}",
    )
    .unwrap();
    let msg = load_run(&run).unwrap_err().to_string();
    assert!(msg.contains("metrics.json"), "{msg}");

    std::fs::remove_file(run.join("metrics.json")).unwrap();
    std::fs::write(data.join("summary.json"), "{}").unwrap();
    let msg = load_run(&run).unwrap_err().to_string();
    assert!(msg.contains("summary.json"), "{msg}");

    assert!(ReportInputs::new("t", vec![]).is_err());
}

/// Classification metrics with a per-record confusion: record 232 has 2 N and 4 S beats
/// misclassified, record 100 none, record 222 2 V and 1 F (Q beats predicted as N don't count).
fn per_record_metrics() -> Metrics {
    type Cells = &'static [(u8, u8, usize)];
    let records: [(&str, Cells); 3] = [
        (
            "232",
            &[(0, 0, 10), (1, 0, 4), (0, 1, 1), (0, 4, 1), (4, 0, 3)],
        ),
        ("100", &[(0, 0, 5), (1, 1, 2), (2, 2, 2)]),
        ("222", &[(0, 0, 3), (2, 3, 2), (3, 2, 1), (3, 3, 1)]),
    ];
    let (mut t, mut p, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for (gi, (_, cells)) in records.iter().enumerate() {
        for &(a, b, n) in *cells {
            t.extend(std::iter::repeat_n(a, n));
            p.extend(std::iter::repeat_n(b, n));
            g.extend(std::iter::repeat_n(gi as u32, n));
        }
    }
    let names: Vec<String> = records.iter().map(|r| r.0.to_string()).collect();
    let c = classification_report(&t, &p, &classes(), Some(&g), &Bootstrap::new(30, 3))
        .unwrap()
        .with_groups(&t, &p, &g, &names)
        .unwrap();
    let mut m = Metrics::new();
    m.classification = Some(c);
    m
}

/// The Markdown of one run's evaluation subsection (`### label` up to the next heading of that
/// level or above).
fn section<'a>(md: &'a str, label: &str) -> &'a str {
    let head = format!("\n### {label}\n");
    let start = md
        .find(&head)
        .unwrap_or_else(|| panic!("no section {label}"))
        + head.len();
    let rest = &md[start..];
    let end = ["\n### ", "\n## "]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn per_record_errors_figure_and_table_only_for_runs_with_records() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("prepared");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("summary.json"),
        serde_json::to_vec(&summary()).unwrap(),
    )
    .unwrap();
    let with = make_run(tmp.path(), "run-ffn", &data, FfnKind::Swiglu, 1.0);
    let without = make_run(tmp.path(), "run-moe", &data, FfnKind::SoftMoe, 1.0);
    let m = per_record_metrics();
    m.write_json(&with.join("metrics.json")).unwrap();
    let runs = vec![load_run(&with).unwrap(), load_run(&without).unwrap()];
    let inputs = ReportInputs::new("Per-record report", runs).unwrap();
    let out = tmp.path().join("out");
    let written = write_report(&inputs, &out).unwrap();

    let fig = out.join("figures").join("record-errors-paper-ffn.svg");
    let svg = std::fs::read_to_string(&fig).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<rect"), "{svg}");
    if wonhee_report::load_font().is_some() {
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(inner, _)| inner.trim())
            .collect();
        // Record names, bar totals and the legend's class totals.
        for t in [
            "232", "100", "222", "6", "0", "3", "N (2)", "S (4)", "V (2)", "F (1)",
        ] {
            assert!(texts.contains(&t), "{t} missing: {texts:?}");
        }
    }
    let png = std::fs::read(out.join("figures").join("record-errors-paper-ffn.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(written.figures.contains(&fig));
    assert!(
        !out.join("figures")
            .join("record-errors-paper-moe.svg")
            .exists()
    );

    let md = std::fs::read_to_string(&written.markdown).unwrap();
    let ffn = section(&md, "paper · FFN");
    let c = m.classification.as_ref().unwrap();
    let table = c.per_record_markdown();
    assert!(table.lines().count() == 5, "{table}");
    for line in table.lines() {
        assert!(ffn.contains(line), "per-record line missing: {line}\n{ffn}");
    }
    // Record 100: 9 N/S/V/F beats, all right.
    assert!(ffn.contains("| 100 | 9 | 100.00% |"), "{ffn}");
    let a = c.aami.as_ref().unwrap();
    let kappa = format!("Cohen's κ {:.3}", a.kappa.value.unwrap());
    let f1 = format!("macro-F1 (N, S, V, F) {:.3}", a.macro_f1.value.unwrap());
    let jk = format!("jκ {:.3}", a.jkappa.value.unwrap());
    for x in [&kappa, &f1, &jk] {
        assert!(ffn.contains(x.as_str()), "{x} missing\n{ffn}");
    }
    assert!(
        ffn.contains("(figures/record-errors-paper-ffn.svg)"),
        "{ffn}"
    );
    assert!(
        ffn.contains(
            "9 such beats in 3 records; the 2 with the most (232: 6, 222: 3) carry 100.00% of them."
        ),
        "{ffn}"
    );
    assert!(
        ffn.contains("beats whose true class is N, S, V, F"),
        "{ffn}"
    );

    let moe = section(&md, "paper · MoE");
    assert!(moe.contains("Cohen's κ"), "the AAMI line stays: {moe}");
    assert!(!moe.contains("| Record |"), "{moe}");
    assert!(!moe.contains("Per record"), "{moe}");
    assert!(!md.contains("record-errors-paper-moe"));
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.contains("Misclassified beats per test record, paper · FFN"));
}

#[test]
fn per_record_confusion_of_the_wrong_size_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("prepared");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("summary.json"),
        serde_json::to_vec(&summary()).unwrap(),
    )
    .unwrap();
    let run = make_run(tmp.path(), "run", &data, FfnKind::Swiglu, 1.0);
    let mut m = per_record_metrics();
    m.classification.as_mut().unwrap().per_record[1]
        .confusion
        .pop();
    m.write_json(&run.join("metrics.json")).unwrap();
    let msg = load_run(&run).unwrap_err().to_string();
    assert!(
        msg.contains("metrics.json") && msg.contains("record 100 is not 5 x 5"),
        "{msg}"
    );
}
