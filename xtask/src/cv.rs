//! `cargo xtask cv --config FILE [--folds K] [--max-steps N]`: cross-validation over the DS1
//! records only (record-level folds), the one place where inter-patient choices are made.
//!
//! DS1 is prepared once as a `record-folds` dataset (`OUT/../ds1-folds-K`, reused by later
//! calls); each fold is trained with `wonhee train --fold k` (the other folds train, the fold's
//! records are unseen patients) and evaluated with `wonhee eval` on the held-out fold;
//! `wonhee pool` sums the folds' confusion matrices and scores them as `wonhee eval` does, so
//! the pooled figures read like the DS2 table. DS2 records are never read.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
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
    let wonhee = crate::cargo::build_wonhee(&o.root, false)?;
    let parent = o.out.parent().unwrap_or(Path::new("."));
    let prepared = parent.join(format!("ds1-folds-{}", o.folds));
    let call = |args: Vec<std::ffi::OsString>, what: &str| -> Result<()> {
        println!("{what} ...");
        let status = Command::new(&wonhee)
            .current_dir(&o.root)
            .args(&args)
            .status()
            .with_context(|| format!("running wonhee {what}"))?;
        if !status.success() {
            bail!("wonhee {what} failed");
        }
        Ok(())
    };
    if !prepared.join("summary.json").exists() {
        call(
            vec![
                "prepare".into(),
                "--data".into(),
                o.data.clone().into(),
                "--split".into(),
                "record-folds".into(),
                "--folds".into(),
                o.folds.to_string().into(),
                "--records".into(),
                DS1.join(",").into(),
                "--out".into(),
                prepared.clone().into(),
                "--force".into(),
            ],
            "prepare (DS1 records only, record folds)",
        )?;
    }
    std::fs::create_dir_all(&o.out)?;
    // Finished folds are reused only for the same question: same config text and options.
    let stamp = json!({
        "config": std::fs::read_to_string(&o.config)
            .with_context(|| format!("reading {}", o.config.display()))?,
        "folds": o.folds,
        "max_steps": o.max_steps,
        "seed": o.seed,
        "data": o.data,
    });
    let stamp_path = o.out.join("cv-options.json");
    if let Ok(old) = std::fs::read(&stamp_path) {
        let old: Value = serde_json::from_slice(&old).unwrap_or(Value::Null);
        if old != stamp {
            bail!(
                "{} holds folds of another configuration or options (see {}): choose another --out",
                o.out.display(),
                stamp_path.display()
            );
        }
    }
    wonhee_fs::write_atomic(
        &stamp_path,
        serde_json::to_string_pretty(&stamp)?.as_bytes(),
    )?;
    let mut per_fold = Vec::new();
    let mut imp = Vec::new();
    let mut ks: Vec<u64> = Vec::new();
    let mut fold_metrics: Vec<std::ffi::OsString> = Vec::new();
    let t0 = std::time::Instant::now();
    for k in 0..o.folds {
        let run = o.out.join(format!("fold-{k}"));
        if !run.join("metrics.json").exists() {
            if run.exists() {
                std::fs::remove_dir_all(&run)?;
            }
            let mut args: Vec<std::ffi::OsString> = vec![
                "train".into(),
                "--config".into(),
                o.config.clone().into(),
                "--data".into(),
                prepared.clone().into(),
                "--out".into(),
                run.clone().into(),
                "--fold".into(),
                k.to_string().into(),
            ];
            if let Some(n) = o.max_steps {
                args.extend(["--max-steps".into(), n.to_string().into()]);
            }
            if let Some(s) = o.seed {
                args.extend(["--seed".into(), s.to_string().into()]);
            }
            call(args, &format!("train fold {k}"))?;
            call(
                vec![
                    "eval".into(),
                    "--run".into(),
                    run.clone().into(),
                    "--data".into(),
                    prepared.clone().into(),
                    "--bootstrap".into(),
                    "0".into(),
                    "--max-windows".into(),
                    "2000".into(),
                ],
                &format!("eval fold {k}"),
            )?;
        }
        let path = run.join("metrics.json");
        let m: Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", path.display()))?;
        let c = &m["classification"];
        per_fold.push(json!({
            "fold": k,
            "accuracy": c["aami"]["accuracy"]["value"],
            "windows": c["n"],
        }));
        if let Some(r) = m["imputation"].as_array() {
            ks = r.iter().filter_map(|x| x["k"].as_u64()).collect();
            imp.push(
                r.iter()
                    .map(|x| x["model"]["mse"]["value"].as_f64().unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            );
        }
        fold_metrics.push(path.into());
    }
    let pooled_path = o.out.join("pooled.json");
    let pooled_md = o.out.join("pooled.md");
    let mut args: Vec<std::ffi::OsString> = vec!["pool".into()];
    args.extend(fold_metrics);
    args.extend([
        "--out".into(),
        pooled_path.clone().into(),
        "--markdown".into(),
        pooled_md.clone().into(),
    ]);
    call(args, "pool the folds")?;
    let rep: Value = serde_json::from_slice(&std::fs::read(&pooled_path)?)
        .with_context(|| format!("{}: not JSON", pooled_path.display()))?;
    let a = &rep["aami"];
    if !a.is_object() {
        bail!("the class names lack one of N, S, V, F");
    }
    let v = |e: &Value| e["value"].as_f64().unwrap_or(f64::NAN);
    let pc = |e: &Value| 100.0 * v(e);
    let cls = |i: usize| &a["classes"][i];
    // Mean imputation MSE over the folds, per K.
    let imp_mean: Vec<f64> = if imp.is_empty() {
        Vec::new()
    } else {
        (0..imp[0].len())
            .map(|j| {
                imp.iter()
                    .map(|r| r.get(j).copied().unwrap_or(f64::NAN))
                    .sum::<f64>()
                    / imp.len() as f64
            })
            .collect()
    };
    let config_name = o
        .config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let row = format!(
        "| {config_name} | {:.2} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.3} | {:.3} | {:.3} | {} |",
        pc(&a["accuracy"]),
        pc(&cls(1)["sensitivity"]),
        pc(&cls(1)["positive_predictivity"]),
        pc(&cls(2)["sensitivity"]),
        pc(&cls(2)["positive_predictivity"]),
        pc(&cls(3)["sensitivity"]),
        pc(&cls(3)["positive_predictivity"]),
        v(&a["macro_f1"]),
        v(&a["kappa"]),
        v(&a["jkappa"]),
        imp_mean
            .iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(" / "),
    );
    let header = format!(
        "| config | accuracy | S Se / +P | V Se / +P | F Se / +P | macro-F1 | κ | jκ | imputation MSE K = {} |\n|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ks.iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let md = format!(
        "DS1 record-fold cross-validation ({} folds{}), pooled over the held-out folds:\n\n{header}\n{row}\n\n{}\n",
        o.folds,
        o.max_steps
            .map(|n| format!(", {n} steps"))
            .unwrap_or_default(),
        std::fs::read_to_string(&pooled_md)?
    );
    let out = json!({
        "config": o.config,
        "folds": o.folds,
        "max_steps": o.max_steps,
        "seed": o.seed,
        "prepared": prepared,
        "per_fold": per_fold,
        "imputation_mse_mean": imp_mean,
        "pooled": rep,
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
