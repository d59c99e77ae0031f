//! `cargo xtask pipeline`: the whole study, end to end.
//!
//! Stages: locate data -> verify -> prepare -> train -> eval -> t-SNE -> figures + report.
//! Each stage runs the `wonhee` CLI (built in release mode first). A stage's result is stamped
//! in `OUT/.stages/NAME.json` with a key, the SHA-256 of everything it depends on (the data's
//! checksums, the profile's config file, the arguments, the keys of the stages before it and
//! the CLI's version); a re-run skips stages whose key and outputs are unchanged, and an
//! interrupted training resumes from its checkpoint.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Which splits to train and evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitSel {
    /// The paper's random 80:20 split of beats (intra-patient).
    Paper,
    /// de Chazal DS1 -> DS2 (no patient in both).
    InterPatient,
    /// Both.
    Both,
}

/// What a profile fixes besides its config file.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Name; the config is `configs/NAME.toml`.
    pub name: String,
    /// Splits when `--split` is not given.
    pub default_split: SplitSel,
    /// Records to prepare (empty: all).
    pub records: Vec<String>,
    /// t-SNE: windows per class.
    pub tsne_per_class: usize,
    /// t-SNE iterations.
    pub tsne_iterations: usize,
    /// Evaluation: at most this many test windows for imputation/forecasting.
    pub eval_max_windows: Option<usize>,
    /// Bootstrap resamples of the intervals.
    pub bootstrap: usize,
}

impl Profile {
    /// The named profile: `quick` (CPU, < 20 min), `paper`, `paper-moe` (GPU) or `ci` (a few
    /// records, a tiny model, a few hundred steps: checks that every stage makes its files).
    pub fn named(name: &str) -> Result<Self> {
        let p = |split, records: &[&str], per_class, iters, max, boot| Profile {
            name: name.to_owned(),
            default_split: split,
            records: records.iter().map(|s| (*s).to_owned()).collect(),
            tsne_per_class: per_class,
            tsne_iterations: iters,
            eval_max_windows: max,
            bootstrap: boot,
        };
        Ok(match name {
            "quick" => p(SplitSel::Paper, &[], 1000, 750, Some(5000), 1000),
            "paper" | "paper-moe" => p(SplitSel::Both, &[], 1000, 750, None, 1000),
            // DS1: 101 119 208; DS2: 100 200 213.
            "ci" => p(
                SplitSel::Both,
                &["100", "101", "119", "200", "208", "213"],
                60,
                300,
                Some(300),
                50,
            ),
            _ => bail!("unknown profile `{name}` (quick, paper, paper-moe, ci)"),
        })
    }
}

/// Options of `cargo xtask pipeline`.
pub struct Options {
    pub root: PathBuf,
    pub profile: Profile,
    pub data: Option<PathBuf>,
    pub out: PathBuf,
    pub device: String,
    pub split: Option<SplitSel>,
    /// Use this `wonhee` binary instead of building the release one.
    pub wonhee: Option<PathBuf>,
}

/// One finished stage, for the report's stage table.
struct Done {
    name: String,
    seconds: f64,
    cached: bool,
}

/// Runs stages, skipping those whose stamp matches.
struct Stages {
    dir: PathBuf,
    done: Vec<Done>,
    total: usize,
    n: usize,
}

impl Stages {
    fn stamp(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.json", name.replace(' ', "-")))
    }

    fn read_key(path: &Path) -> Option<String> {
        let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        v["key"].as_str().map(str::to_owned)
    }

    /// Runs `f` unless stage `name` already finished with `key` and `outputs` exist.
    fn run(
        &mut self,
        name: &str,
        key: &str,
        outputs: &[&Path],
        f: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        self.n += 1;
        let label = format!("[{}/{}] {name}", self.n, self.total);
        let stamp = self.stamp(name);
        if Self::read_key(&stamp).as_deref() == Some(key) && outputs.iter().all(|p| p.exists()) {
            println!("{label}: cached");
            self.done.push(Done {
                name: name.to_owned(),
                seconds: 0.0,
                cached: true,
            });
            return Ok(());
        }
        println!("{label} ...");
        let t = Instant::now();
        f().with_context(|| format!("stage `{name}` failed"))?;
        let seconds = t.elapsed().as_secs_f64();
        wonhee_fs::write_atomic(
            &stamp,
            serde_json::to_string_pretty(&json!({"key": key, "seconds": seconds}))?.as_bytes(),
        )?;
        println!("{label}: done in {seconds:.1} s");
        self.done.push(Done {
            name: name.to_owned(),
            seconds,
            cached: false,
        });
        Ok(())
    }
}

fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

/// Runs `wonhee ARGS...`, failing with the command line when it fails.
fn wonhee(bin: &Path, args: &[String]) -> Result<()> {
    tracing_line(bin, args);
    let status = Command::new(bin)
        .args(args)
        .status()
        .with_context(|| format!("starting {}", bin.display()))?;
    if !status.success() {
        bail!("`wonhee {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn tracing_line(bin: &Path, args: &[String]) {
    println!(
        "    $ {} {}",
        bin.file_name()
            .map_or("wonhee".into(), |n| n.to_string_lossy()),
        args.join(" ")
    );
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs the whole pipeline; returns the report's path.
pub fn run(opt: &Options) -> Result<PathBuf> {
    let t_all = Instant::now();
    let prof = &opt.profile;
    let splits: Vec<(&str, &str)> = match opt.split.unwrap_or(prof.default_split) {
        SplitSel::Paper => vec![("paper", "paper")],
        SplitSel::InterPatient => vec![("inter-patient", "inter-patient")],
        SplitSel::Both => vec![("paper", "paper"), ("inter-patient", "inter-patient")],
    };
    let config = opt.root.join(format!("configs/{}.toml", prof.name));
    let config_text = std::fs::read_to_string(&config)
        .with_context(|| format!("{}: cannot read the profile's config", config.display()))?;
    std::fs::create_dir_all(&opt.out)
        .with_context(|| format!("{}: cannot create", opt.out.display()))?;
    let out = opt.out.canonicalize()?;
    let stage_dir = out.join(".stages");
    std::fs::create_dir_all(&stage_dir)
        .with_context(|| format!("{}: cannot create", stage_dir.display()))?;
    let mut st = Stages {
        dir: stage_dir,
        done: Vec::new(),
        total: 2 + 3 * splits.len() + 2,
        n: 0,
    };

    // 0. The CLI every stage runs (not counted as a stage; its time is in the table).
    let t = Instant::now();
    let bin = match &opt.wonhee {
        Some(b) => b.clone(),
        None => crate::cargo::build_wonhee(&opt.root, opt.device.starts_with("cuda"))?,
    };
    st.done.push(Done {
        name: "build wonhee".into(),
        seconds: t.elapsed().as_secs_f64(),
        cached: false,
    });

    // 1. Locate (download when nowhere).
    st.n += 1;
    let t = Instant::now();
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .with_context(|| format!("running {} --version", bin.display()))?;
    // `--data`, else $WONHEE_MITDB, else data/mitdb, else ../shared/data/mitdb (a folder found
    // must hold RECORDS); nowhere: download.
    let data = match wonhee_fs::locate_mitdb(opt.data.as_deref(), &opt.root) {
        Some(_) => {
            wonhee_fs::mitdb_or_error(opt.data.as_deref(), &opt.root).map_err(anyhow::Error::msg)?
        }
        None => {
            let d = opt.root.join(wonhee_fs::DEFAULT_DIR);
            println!(
                "MIT-BIH not found locally: downloading it from PhysioNet into {}",
                d.display()
            );
            wonhee(&bin, &["download".into(), "--out".into(), s(&d)])?;
            d
        }
    };
    let data = data.canonicalize()?;
    println!("[1/{}] data: {}", st.total, data.display());
    st.done.push(Done {
        name: "locate data".into(),
        seconds: t.elapsed().as_secs_f64(),
        cached: false,
    });

    // 2. Verify (always: it is what tells a changed file).
    st.n += 1;
    let t = Instant::now();
    println!("[2/{}] verify", st.total);
    wonhee(&bin, &["verify".into(), s(&data)])?;
    st.done.push(Done {
        name: "verify".into(),
        seconds: t.elapsed().as_secs_f64(),
        cached: false,
    });
    let sums = std::fs::read_to_string(data.join("SHA256SUMS"))?;
    let records = prof.records.join(",");

    // 3-5. Per split: prepare, train, eval.
    let mut runs = Vec::new();
    let mut prep_paper = None;
    for (split, split_arg) in &splits {
        let prep = out.join(format!("prepared-{split}"));
        let run_dir = out.join(format!("run-{split}"));
        let k_prep = key(&["prepare", &version, &sums, split_arg, &records]);
        st.run(
            &format!("prepare ({split})"),
            &k_prep,
            &[&prep.join("summary.json")],
            || {
                let mut a = vec![
                    "prepare".into(),
                    "--data".into(),
                    s(&data),
                    "--out".into(),
                    s(&prep),
                    "--split".into(),
                    (*split_arg).into(),
                    "--force".into(),
                ];
                if !records.is_empty() {
                    a.extend(["--records".into(), records.clone()]);
                }
                wonhee(&bin, &a)
            },
        )?;
        let k_train = key(&["train", &k_prep, &config_text, &opt.device]);
        let started = st.dir.join(format!("train-{split}.started"));
        st.run(
            &format!("train ({split})"),
            &k_train,
            &[&run_dir.join(wonhee_train_model_file())],
            || {
                let resume = Stages::read_key(&started).as_deref() == Some(k_train.as_str())
                    && run_dir.join("checkpoint").is_dir();
                if !resume && run_dir.exists() {
                    std::fs::remove_dir_all(&run_dir)
                        .with_context(|| format!("{}: cannot remove", run_dir.display()))?;
                }
                wonhee_fs::write_atomic(&started, json!({"key": k_train}).to_string().as_bytes())?;
                let mut a = vec![
                    "train".into(),
                    "--config".into(),
                    s(&config),
                    "--data".into(),
                    s(&prep),
                    "--out".into(),
                    s(&run_dir),
                    "--device".into(),
                    opt.device.clone(),
                ];
                if resume {
                    println!("    resuming from {}", run_dir.join("checkpoint").display());
                    a.push("--resume".into());
                }
                wonhee(&bin, &a)
            },
        )?;
        let max = prof.eval_max_windows.map(|m| m.to_string());
        let k_eval = key(&[
            "eval",
            &k_train,
            &prof.bootstrap.to_string(),
            max.as_deref().unwrap_or("all"),
        ]);
        st.run(
            &format!("eval ({split})"),
            &k_eval,
            &[&run_dir.join("metrics.json")],
            || {
                let mut a = vec![
                    "eval".into(),
                    "--run".into(),
                    s(&run_dir),
                    "--data".into(),
                    s(&prep),
                    "--device".into(),
                    opt.device.clone(),
                    "--bootstrap".into(),
                    prof.bootstrap.to_string(),
                ];
                if let Some(m) = &max {
                    a.extend(["--max-windows".into(), m.clone()]);
                }
                wonhee(&bin, &a)
            },
        )?;
        if *split == "paper" || prep_paper.is_none() {
            prep_paper = Some((prep.clone(), run_dir.clone(), k_train.clone()));
        }
        runs.push(run_dir);
    }

    // 6. t-SNE of raw windows and of the [CLS] embeddings (first split's run).
    let (prep, run_dir, k_train) = prep_paper.context("no split")?;
    let tsne_dir = out.join("tsne");
    let raw = tsne_dir.join("raw.csv");
    let emb = tsne_dir.join("embeddings.csv");
    let per_class = prof.tsne_per_class.to_string();
    let iters = prof.tsne_iterations.to_string();
    let k_tsne = key(&["tsne", &k_train, &per_class, &iters, &version]);
    st.run(
        "t-SNE",
        &k_tsne,
        &[
            &raw,
            &emb,
            &raw.with_extension("parquet"),
            &emb.with_extension("parquet"),
        ],
        || {
            std::fs::create_dir_all(&tsne_dir)?;
            let common = |out: &Path| -> Vec<String> {
                vec![
                    "tsne".into(),
                    "--data".into(),
                    s(&prep),
                    "--per-class".into(),
                    per_class.clone(),
                    "--iterations".into(),
                    iters.clone(),
                    "--seed".into(),
                    "1".into(),
                    "--out".into(),
                    s(out),
                    "--out".into(),
                    s(&out.with_extension("parquet")),
                ]
            };
            wonhee(&bin, &common(&raw))?;
            let mut a = common(&emb);
            a.extend([
                "--run".into(),
                s(&run_dir),
                "--device".into(),
                opt.device.clone(),
            ]);
            wonhee(&bin, &a)
        },
    )?;

    // 7. Figures and report. Always redone: its stage table carries this run's timings.
    st.n += 1;
    let label = format!("[{}/{}] figures + report", st.n, st.total);
    println!("{label} ...");
    let t = Instant::now();
    let mut stages: Vec<Value> = st
        .done
        .iter()
        .map(|d| json!({"name": d.name, "seconds": d.seconds, "cached": d.cached}))
        .collect();
    stages.push(
        json!({"name": "total so far", "seconds": t_all.elapsed().as_secs_f64(), "cached": false}),
    );
    let stages_path = out.join("stages.json");
    wonhee_fs::write_atomic(
        &stages_path,
        serde_json::to_string_pretty(&json!({
            "stages": stages,
            "profile": prof.name,
            "device": opt.device,
        }))?
        .as_bytes(),
    )?;
    let mut a = vec![
        "report".into(),
        "--out".into(),
        s(&out),
        "--tsne-raw".into(),
        s(&raw),
        "--tsne-embed".into(),
        s(&emb),
        "--stages".into(),
        s(&stages_path),
        "--title".into(),
        format!("WonHEE-rs report ({} profile)", prof.name),
    ];
    for r in &runs {
        a.extend(["--run".into(), s(r)]);
    }
    wonhee(&bin, &a)?;
    println!("{label}: done in {:.1} s", t.elapsed().as_secs_f64());
    let report = out.join("report.md");
    if !report.is_file() {
        bail!("{}: the report stage wrote no report", report.display());
    }
    println!(
        "pipeline finished in {:.1} min: {}",
        t_all.elapsed().as_secs_f64() / 60.0,
        report.display()
    );
    Ok(report)
}

/// The run folder's final weights file: wonhee-train's `MODEL_FILE` (xtask does not link the
/// model crates; the CI pipeline test fails if the two drift apart).
fn wonhee_train_model_file() -> &'static str {
    "model.safetensors"
}
