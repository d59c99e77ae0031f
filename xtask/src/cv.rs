//! `cargo xtask cv --config FILE [--folds K] [--max-steps N]`: cross-validation over the DS1
//! records only (record-level folds), the one place where inter-patient choices are made.
//!
//! DS1 is prepared once as a `record-folds` dataset (`OUT/../ds1-folds-K`, or
//! `ds1-folds-K-lead2` with the second lead for a model that reads one; reused by later
//! calls); each fold is trained with `wonhee train --fold k` (the other folds train, the fold's
//! records are unseen patients) and evaluated with `wonhee eval` on the held-out fold;
//! `wonhee pool` sums the folds' confusion matrices and scores them as `wonhee eval` does, so
//! the pooled figures read like the DS2 table. DS2 records are never read.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::pipeline::{s as path_arg, wonhee};
use serde_json::{Value, json};

/// The de Chazal DS1 records (training side of the inter-patient split; paced records left out).
const DS1: [&str; 22] = [
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201",
    "203", "205", "207", "208", "209", "215", "220", "223", "230",
];

/// What `cargo xtask cv` was asked.
pub struct Options {
    pub root: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
    pub folds: usize,
    pub max_steps: Option<usize>,
    pub seed: Option<u64>,
    pub out: PathBuf,
}

/// Runs the cross-validation and writes `OUT/cv.json` and `OUT/cv.md`.
pub fn run(o: &Options) -> Result<()> {
    if o.folds < 2 {
        bail!("--folds must be at least 2");
    }
    let bin = crate::cargo::build_wonhee(&o.root, false)?;
    let parent = o.out.parent().unwrap_or(Path::new("."));
    let config = std::fs::read_to_string(&o.config)
        .with_context(|| format!("reading {}", o.config.display()))?;
    let second_lead = crate::pipeline::reads_second_lead(&config)?;
    let suffix = if second_lead { "-lead2" } else { "" };
    let prepared = parent.join(format!("ds1-folds-{}{suffix}", o.folds));
    if !prepared.join("summary.json").exists() {
        println!("prepare (DS1 records only, record folds) ...");
        let mut args = vec![
            "prepare".into(),
            "--data".into(),
            path_arg(&o.data),
            "--split".into(),
            "record-folds".into(),
            "--folds".into(),
            o.folds.to_string(),
            "--records".into(),
            DS1.join(","),
            "--out".into(),
            path_arg(&prepared),
            "--force".into(),
        ];
        if second_lead {
            args.push("--second-lead".into());
        }
        wonhee(&bin, &args)?;
    }
    std::fs::create_dir_all(&o.out)?;
    check_stamp(o)?;
    let t0 = std::time::Instant::now();
    let mut folds = Vec::with_capacity(o.folds);
    for k in 0..o.folds {
        folds.push(fold(o, &bin, &prepared, k)?);
    }
    let pooled_path = o.out.join("pooled.json");
    let pooled_md = o.out.join("pooled.md");
    let mut args = vec!["pool".to_string()];
    args.extend(folds.iter().map(|f| path_arg(&f.metrics)));
    args.extend([
        "--out".into(),
        path_arg(&pooled_path),
        "--markdown".into(),
        path_arg(&pooled_md),
    ]);
    wonhee(&bin, &args)?;
    let pooled: Value = serde_json::from_slice(&std::fs::read(&pooled_path)?)
        .with_context(|| format!("{}: not JSON", pooled_path.display()))?;
    let imp_mean = mean_imputation_mse(&folds);
    let md = format!(
        "DS1 record-fold cross-validation ({} folds{}), pooled over the held-out folds:\n\n{}\n\n{}\n",
        o.folds,
        o.max_steps
            .map(|n| format!(", {n} steps"))
            .unwrap_or_default(),
        table_row(o, &pooled, &imp_mean)?,
        std::fs::read_to_string(&pooled_md)?
    );
    let out = json!({
        "config": o.config,
        "folds": o.folds,
        "max_steps": o.max_steps,
        "seed": o.seed,
        "prepared": prepared,
        "per_fold": folds.iter().map(|f| &f.summary).collect::<Vec<_>>(),
        "imputation_mse_mean": imp_mean,
        "pooled": pooled,
        "seconds": t0.elapsed().as_secs_f64(),
    });
    wonhee_fs::write_atomic(
        &o.out.join("cv.json"),
        serde_json::to_string_pretty(&out)?.as_bytes(),
    )?;
    wonhee_fs::write_atomic(&o.out.join("cv.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}

/// Finished folds are reused only for the same question: the stamp `OUT/cv-options.json`
/// (config text and options) must match, or be written for a new folder.
fn check_stamp(o: &Options) -> Result<()> {
    let stamp = json!({
        "config": std::fs::read_to_string(&o.config)
            .with_context(|| format!("reading {}", o.config.display()))?,
        "folds": o.folds,
        "max_steps": o.max_steps,
        "seed": o.seed,
        "data": o.data,
    });
    let path = o.out.join("cv-options.json");
    if let Ok(old) = std::fs::read(&path) {
        let old: Value = serde_json::from_slice(&old).unwrap_or(Value::Null);
        if old != stamp {
            bail!(
                "{} holds folds of another configuration or options (see {}): choose another --out",
                o.out.display(),
                path.display()
            );
        }
    }
    wonhee_fs::write_atomic(&path, serde_json::to_string_pretty(&stamp)?.as_bytes())?;
    Ok(())
}

/// One held-out fold's evaluation.
struct Fold {
    /// Its `metrics.json`.
    metrics: PathBuf,
    /// Fold number, accuracy and windows, for `cv.json`.
    summary: Value,
    /// `(K, model MSE)` of each imputation entry.
    imputation: Vec<(u64, f64)>,
}

/// Trains and evaluates fold `k` (unless its metrics are there already) and reads them.
fn fold(o: &Options, bin: &Path, prepared: &Path, k: usize) -> Result<Fold> {
    let run = o.out.join(format!("fold-{k}"));
    let metrics = run.join("metrics.json");
    if !metrics.exists() {
        if run.exists() {
            std::fs::remove_dir_all(&run)?;
        }
        println!("train fold {k} ...");
        let mut args: Vec<String> = vec![
            "train".into(),
            "--config".into(),
            path_arg(&o.config),
            "--data".into(),
            path_arg(prepared),
            "--out".into(),
            path_arg(&run),
            "--fold".into(),
            k.to_string(),
        ];
        if let Some(n) = o.max_steps {
            args.extend(["--max-steps".into(), n.to_string()]);
        }
        if let Some(s) = o.seed {
            args.extend(["--seed".into(), s.to_string()]);
        }
        wonhee(bin, &args)?;
        println!("eval fold {k} ...");
        wonhee(
            bin,
            &[
                "eval".into(),
                "--run".into(),
                path_arg(&run),
                "--data".into(),
                path_arg(prepared),
                "--bootstrap".into(),
                "0".into(),
                "--max-windows".into(),
                "2000".into(),
            ],
        )?;
    }
    let m: Value = serde_json::from_slice(
        &std::fs::read(&metrics).with_context(|| format!("reading {}", metrics.display()))?,
    )
    .with_context(|| format!("{}: not JSON", metrics.display()))?;
    let c = &m["classification"];
    let imputation = m["imputation"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| {
                    let mse = x["model"]["mse"]["value"].as_f64().unwrap_or(f64::NAN);
                    (x["k"].as_u64().unwrap_or(0), mse)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Fold {
        summary: json!({
            "fold": k,
            "accuracy": c["aami"]["accuracy"]["value"],
            "windows": c["n"],
        }),
        metrics,
        imputation,
    })
}

/// Mean over the folds of the model's imputation MSE, per K (the first fold's K values).
fn mean_imputation_mse(folds: &[Fold]) -> Vec<(u64, f64)> {
    let Some(first) = folds.first() else {
        return Vec::new();
    };
    (0..first.imputation.len())
        .map(|j| {
            let sum: f64 = folds
                .iter()
                .map(|f| f.imputation.get(j).map_or(f64::NAN, |e| e.1))
                .sum();
            (first.imputation[j].0, sum / folds.len() as f64)
        })
        .collect()
}

/// The ablation table's header and this configuration's row, from the pooled report.
fn table_row(o: &Options, pooled: &Value, imp: &[(u64, f64)]) -> Result<String> {
    let a = &pooled["aami"];
    if !a.is_object() {
        bail!("the class names lack one of N, S, V, F");
    }
    let v = |e: &Value| e["value"].as_f64().unwrap_or(f64::NAN);
    let pc = |e: &Value| 100.0 * v(e);
    let cls = |i: usize, what: &str| pc(&a["classes"][i][what]);
    let name = o
        .config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let join = |parts: Vec<String>| parts.join(" / ");
    Ok(format!(
        "| config | accuracy | S Se / +P | V Se / +P | F Se / +P | macro-F1 | κ | jκ | imputation MSE K = {} |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|\n\
         | {name} | {:.2} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.3} | {:.3} | {:.3} | {} |",
        join(imp.iter().map(|e| e.0.to_string()).collect()),
        pc(&a["accuracy"]),
        cls(1, "sensitivity"),
        cls(1, "positive_predictivity"),
        cls(2, "sensitivity"),
        cls(2, "positive_predictivity"),
        cls(3, "sensitivity"),
        cls(3, "positive_predictivity"),
        v(&a["macro_f1"]),
        v(&a["kappa"]),
        v(&a["jkappa"]),
        join(imp.iter().map(|e| format!("{:.4}", e.1)).collect()),
    ))
}
