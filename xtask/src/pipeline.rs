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

/// Lower-case hex of `b`.
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

/// Every profile name [`Profile::named`] knows; each has its `configs/NAME.toml`.
pub const PROFILES: [&str; 5] = ["quick", "inter-patient", "paper", "paper-moe", "ci"];

/// The profile `cargo xtask pipeline` runs without `--profile`: `inter-patient` for
/// `--split inter-patient`, else `quick`.
pub fn default_profile(split: Option<SplitSel>) -> &'static str {
    match split {
        Some(SplitSel::InterPatient) => "inter-patient",
        _ => "quick",
    }
}

impl Profile {
    /// The named profile: `quick` (CPU, < 20 min), `inter-patient` (CPU, DS1 -> DS2),
    /// `paper`, `paper-moe` (GPU) or `ci` (a few
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
            // The unseen-patient profile: DS1 trains, DS2 is evaluated once (issue 19).
            "inter-patient" => p(SplitSel::InterPatient, &[], 1000, 750, Some(5000), 1000),
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
            _ => bail!("unknown profile `{name}` ({})", PROFILES.join(", ")),
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
    /// No stage run yet, `total` to come; creates `dir`, the stamp folder.
    fn new(dir: PathBuf, total: usize) -> Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(Self {
            dir,
            done: Vec::new(),
            total,
            n: 0,
        })
    }

    /// Adds a stage that is never cached, timed from `t`, to the table.
    fn record(&mut self, name: &str, t: Instant) {
        self.done.push(Done {
            name: name.into(),
            seconds: t.elapsed().as_secs_f64(),
            cached: false,
        });
    }

    /// Stage `name`'s stamp: `DIR/NAME.json`, spaces as dashes.
    fn stamp(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.json", name.replace(' ', "-")))
    }

    /// The `key` of a stamp, if it can be read.
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

/// A stage key: SHA-256 of the parts, each preceded by its length (u64, little-endian).
fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

/// Runs `wonhee ARGS...`, failing with the command line when it fails.
pub(crate) fn wonhee(bin: &Path, args: &[String]) -> Result<()> {
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

/// Prints the command line `wonhee` runs.
fn tracing_line(bin: &Path, args: &[String]) {
    println!(
        "    $ {} {}",
        bin.file_name()
            .map_or("wonhee".into(), |n| n.to_string_lossy()),
        args.join(" ")
    );
}

/// A path as an argument.
pub(crate) fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The splits `sel` stands for, in run order; each name is also its `--split` argument.
fn split_names(sel: SplitSel) -> &'static [&'static str] {
    match sel {
        SplitSel::Paper => &["paper"],
        SplitSel::InterPatient => &["inter-patient"],
        SplitSel::Both => &["paper", "inter-patient"],
    }
}

/// Creates the output folder and returns its canonical path.
fn create_out(out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    Ok(out.canonicalize()?)
}

/// Stage 0: the CLI every stage runs, built in release mode unless `--wonhee` names one. Not
/// counted as a stage; its time is in the table.
fn build_cli(opt: &Options, st: &mut Stages) -> Result<PathBuf> {
    let t = Instant::now();
    let bin = match &opt.wonhee {
        Some(b) => b.clone(),
        None => crate::cargo::build_wonhee(&opt.root, opt.device.starts_with("cuda"))?,
    };
    st.record("build wonhee", t);
    Ok(bin)
}

/// `wonhee --version`, part of the prepare and t-SNE keys.
fn cli_version(bin: &Path) -> Result<String> {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .with_context(|| format!("running {} --version", bin.display()))
}

/// The MIT-BIH folder: `--data`, else $WONHEE_MITDB, else data/mitdb, else
/// ../shared/data/mitdb (a folder found must hold RECORDS); found nowhere, it is downloaded
/// into data/mitdb.
fn locate_data(opt: &Options, bin: &Path) -> Result<PathBuf> {
    if wonhee_fs::locate_mitdb(opt.data.as_deref(), &opt.root).is_some() {
        return wonhee_fs::mitdb_or_error(opt.data.as_deref(), &opt.root)
            .map_err(anyhow::Error::msg);
    }
    let d = opt.root.join(wonhee_fs::DEFAULT_DIR);
    println!(
        "MIT-BIH not found locally: downloading it from PhysioNet into {}",
        d.display()
    );
    wonhee(bin, &["download".into(), "--out".into(), s(&d)])?;
    Ok(d)
}

/// Stage 1: the CLI's version and the (canonical) MIT-BIH folder. Never cached.
fn locate_stage(opt: &Options, bin: &Path, st: &mut Stages) -> Result<(String, PathBuf)> {
    st.n += 1;
    let t = Instant::now();
    let version = cli_version(bin)?;
    let data = locate_data(opt, bin)?.canonicalize()?;
    println!("[1/{}] data: {}", st.total, data.display());
    st.record("locate data", t);
    Ok((version, data))
}

/// Whether the run configuration `text` (TOML) has a model that reads a second lead
/// (`[model] second_lead = true` or `lead2_context = true`): its dataset must then be prepared
/// with `--second-lead`.
pub fn reads_second_lead(text: &str) -> Result<bool> {
    let v: toml::Table = toml::from_str(text).context("parsing the run configuration")?;
    let on = |key: &str| {
        v.get("model")
            .and_then(|m| m.get(key))
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    };
    Ok(on("second_lead") || on("lead2_context"))
}

/// Stage 2: `wonhee verify`. Always run: it is what tells a changed file.
fn verify_stage(bin: &Path, data: &Path, st: &mut Stages) -> Result<()> {
    st.n += 1;
    let t = Instant::now();
    println!("[2/{}] verify", st.total);
    wonhee(bin, &["verify".into(), s(data)])?;
    st.record("verify", t);
    Ok(())
}

/// Runs the whole pipeline; returns the report's path.
pub fn run(opt: &Options) -> Result<PathBuf> {
    let t_all = Instant::now();
    let splits = split_names(opt.split.unwrap_or(opt.profile.default_split));
    let config = opt.root.join(format!("configs/{}.toml", opt.profile.name));
    let config_text = std::fs::read_to_string(&config)
        .with_context(|| format!("{}: cannot read the profile's config", config.display()))?;
    let out = create_out(&opt.out)?;
    let mut st = Stages::new(out.join(".stages"), 2 + 3 * splits.len() + 2)?;
    let bin = build_cli(opt, &mut st)?;
    let (version, data) = locate_stage(opt, &bin, &mut st)?;
    verify_stage(&bin, &data, &mut st)?;
    let sums = std::fs::read_to_string(data.join("SHA256SUMS"))?;
    let p = Pipeline {
        opt,
        bin,
        out,
        config,
        config_text,
        version,
        data,
        sums,
        records: opt.profile.records.join(","),
    };
    // Stages 3-5 per split; the t-SNE uses the paper split's run, else the first one.
    let mut runs = Vec::new();
    let mut tsne_from = None;
    for &split in splits {
        let r = p.split_stages(&mut st, split)?;
        runs.push(r.run_dir.clone());
        if split == "paper" || tsne_from.is_none() {
            tsne_from = Some(r);
        }
    }
    p.tsne_stage(&mut st, &tsne_from.context("no split")?)?;
    let report = p.report_stage(&mut st, t_all, &runs)?;
    println!(
        "pipeline finished in {:.1} min: {}",
        t_all.elapsed().as_secs_f64() / 60.0,
        report.display()
    );
    Ok(report)
}

/// What the stages after verification share.
struct Pipeline<'a> {
    opt: &'a Options,
    /// The `wonhee` binary every stage runs.
    bin: PathBuf,
    /// The output folder (canonical).
    out: PathBuf,
    /// `configs/PROFILE.toml`, passed to `wonhee train`.
    config: PathBuf,
    /// Its text, part of the training key.
    config_text: String,
    /// `wonhee --version`.
    version: String,
    /// The MIT-BIH folder (canonical).
    data: PathBuf,
    /// Its SHA256SUMS file's text.
    sums: String,
    /// The profile's records, comma-separated (empty: all).
    records: String,
}

/// One split's prepared data and run, as the t-SNE stage needs them.
struct SplitRun {
    prep: PathBuf,
    run_dir: PathBuf,
    k_train: String,
}

/// The stage keys: each chains the key of the stage it reads from.
impl Pipeline<'_> {
    fn prepare_key(&self, split: &str) -> String {
        let mut parts = vec!["prepare", &self.version, &self.sums, split, &self.records];
        if reads_second_lead(&self.config_text).unwrap_or(false) {
            parts.push("second-lead");
        }
        key(&parts)
    }

    fn train_key(&self, k_prep: &str) -> String {
        key(&["train", k_prep, &self.config_text, &self.opt.device])
    }

    fn eval_key(&self, k_train: &str) -> String {
        let max = self.eval_max_windows();
        key(&[
            "eval",
            k_train,
            &self.opt.profile.bootstrap.to_string(),
            max.as_deref().unwrap_or("all"),
        ])
    }

    fn tsne_key(&self, k_train: &str) -> String {
        let prof = &self.opt.profile;
        key(&[
            "tsne",
            k_train,
            &prof.tsne_per_class.to_string(),
            &prof.tsne_iterations.to_string(),
            &self.version,
        ])
    }

    /// The profile's `--max-windows` for eval, if any.
    fn eval_max_windows(&self) -> Option<String> {
        self.opt.profile.eval_max_windows.map(|m| m.to_string())
    }
}

/// Stages 3-5: prepare, train and eval of one split.
impl Pipeline<'_> {
    /// Runs (or skips) the three stages of `split`.
    fn split_stages(&self, st: &mut Stages, split: &str) -> Result<SplitRun> {
        let prep = self.out.join(format!("prepared-{split}"));
        let run_dir = self.out.join(format!("run-{split}"));
        let k_prep = self.prepare_key(split);
        st.run(
            &format!("prepare ({split})"),
            &k_prep,
            &[&prep.join("summary.json")],
            || self.prepare(split, &prep),
        )?;
        let k_train = self.train_key(&k_prep);
        let started = st.dir.join(format!("train-{split}.started"));
        st.run(
            &format!("train ({split})"),
            &k_train,
            &[&run_dir.join(wonhee_train_model_file())],
            || self.train(&prep, &run_dir, &started, &k_train),
        )?;
        let k_eval = self.eval_key(&k_train);
        st.run(
            &format!("eval ({split})"),
            &k_eval,
            &[&run_dir.join("metrics.json")],
            || self.eval(&prep, &run_dir),
        )?;
        Ok(SplitRun {
            prep,
            run_dir,
            k_train,
        })
    }

    /// `wonhee prepare` of `split` into `prep`.
    fn prepare(&self, split: &str, prep: &Path) -> Result<()> {
        let mut a = vec![
            "prepare".into(),
            "--data".into(),
            s(&self.data),
            "--out".into(),
            s(prep),
            "--split".into(),
            split.into(),
            "--force".into(),
        ];
        if !self.records.is_empty() {
            a.extend(["--records".into(), self.records.clone()]);
        }
        if reads_second_lead(&self.config_text)? {
            a.push("--second-lead".into());
        }
        wonhee(&self.bin, &a)
    }

    /// `wonhee train` into `run_dir`, resuming from its checkpoint when the interrupted run
    /// was started with this key.
    fn train(&self, prep: &Path, run_dir: &Path, started: &Path, k_train: &str) -> Result<()> {
        let resume = start_training(started, k_train, run_dir)?;
        let mut a = vec![
            "train".into(),
            "--config".into(),
            s(&self.config),
            "--data".into(),
            s(prep),
            "--out".into(),
            s(run_dir),
            "--device".into(),
            self.opt.device.clone(),
        ];
        if resume {
            println!("    resuming from {}", run_dir.join("checkpoint").display());
            a.push("--resume".into());
        }
        wonhee(&self.bin, &a)
    }

    /// `wonhee eval` of `run_dir` on `prep`'s test set.
    fn eval(&self, prep: &Path, run_dir: &Path) -> Result<()> {
        let mut a = vec![
            "eval".into(),
            "--run".into(),
            s(run_dir),
            "--data".into(),
            s(prep),
            "--device".into(),
            self.opt.device.clone(),
            "--bootstrap".into(),
            self.opt.profile.bootstrap.to_string(),
        ];
        if let Some(m) = self.eval_max_windows() {
            a.extend(["--max-windows".into(), m]);
        }
        wonhee(&self.bin, &a)
    }
}

/// Whether training resumes: the `started` stamp holds `k_train` and `run_dir` has a
/// checkpoint. Otherwise an old `run_dir` is removed. Then stamps `started` with `k_train`.
fn start_training(started: &Path, k_train: &str, run_dir: &Path) -> Result<bool> {
    let resume = Stages::read_key(started).as_deref() == Some(k_train)
        && run_dir.join("checkpoint").is_dir();
    if !resume && run_dir.exists() {
        std::fs::remove_dir_all(run_dir)
            .with_context(|| format!("{}: cannot remove", run_dir.display()))?;
    }
    wonhee_fs::write_atomic(started, json!({"key": k_train}).to_string().as_bytes())?;
    Ok(resume)
}

/// Stage 6: t-SNE of raw windows and of the [CLS] embeddings.
impl Pipeline<'_> {
    fn tsne_dir(&self) -> PathBuf {
        self.out.join("tsne")
    }

    fn tsne_raw(&self) -> PathBuf {
        self.tsne_dir().join("raw.csv")
    }

    fn tsne_emb(&self) -> PathBuf {
        self.tsne_dir().join("embeddings.csv")
    }

    /// Runs (or skips) the t-SNE stage on `from`'s prepared data and run.
    fn tsne_stage(&self, st: &mut Stages, from: &SplitRun) -> Result<()> {
        let (raw, emb) = (self.tsne_raw(), self.tsne_emb());
        st.run(
            "t-SNE",
            &self.tsne_key(&from.k_train),
            &[
                &raw,
                &emb,
                &raw.with_extension("parquet"),
                &emb.with_extension("parquet"),
            ],
            || self.tsne(from, &raw, &emb),
        )
    }

    /// Both `wonhee tsne` runs: raw windows into `raw`, embeddings into `emb`.
    fn tsne(&self, from: &SplitRun, raw: &Path, emb: &Path) -> Result<()> {
        std::fs::create_dir_all(self.tsne_dir())?;
        wonhee(&self.bin, &self.tsne_args(&from.prep, raw))?;
        let mut a = self.tsne_args(&from.prep, emb);
        a.extend([
            "--run".into(),
            s(&from.run_dir),
            "--device".into(),
            self.opt.device.clone(),
        ]);
        wonhee(&self.bin, &a)
    }

    /// The arguments both t-SNE runs share, writing `out` and its `.parquet` twin.
    fn tsne_args(&self, prep: &Path, out: &Path) -> Vec<String> {
        let prof = &self.opt.profile;
        vec![
            "tsne".into(),
            "--data".into(),
            s(prep),
            "--per-class".into(),
            prof.tsne_per_class.to_string(),
            "--iterations".into(),
            prof.tsne_iterations.to_string(),
            "--seed".into(),
            "1".into(),
            "--out".into(),
            s(out),
            "--out".into(),
            s(&out.with_extension("parquet")),
        ]
    }
}

/// Stage 7: figures and report.
impl Pipeline<'_> {
    /// Writes the stage table and runs `wonhee report`; returns the report's path. Always
    /// redone: its stage table carries this run's timings.
    fn report_stage(&self, st: &mut Stages, t_all: Instant, runs: &[PathBuf]) -> Result<PathBuf> {
        st.n += 1;
        let label = format!("[{}/{}] figures + report", st.n, st.total);
        println!("{label} ...");
        let t = Instant::now();
        let stages_path = self.write_stage_table(st, t_all)?;
        wonhee(&self.bin, &self.report_args(&stages_path, runs))?;
        println!("{label}: done in {:.1} s", t.elapsed().as_secs_f64());
        let report = self.out.join("report.md");
        if !report.is_file() {
            bail!("{}: the report stage wrote no report", report.display());
        }
        Ok(report)
    }

    /// Writes `OUT/stages.json`: every stage so far and the total time; returns its path.
    fn write_stage_table(&self, st: &Stages, t_all: Instant) -> Result<PathBuf> {
        let mut stages: Vec<Value> = st
            .done
            .iter()
            .map(|d| json!({"name": d.name, "seconds": d.seconds, "cached": d.cached}))
            .collect();
        stages.push(
            json!({"name": "total so far", "seconds": t_all.elapsed().as_secs_f64(), "cached": false}),
        );
        let path = self.out.join("stages.json");
        wonhee_fs::write_atomic(
            &path,
            serde_json::to_string_pretty(&json!({
                "stages": stages,
                "profile": self.opt.profile.name,
                "device": self.opt.device,
            }))?
            .as_bytes(),
        )?;
        Ok(path)
    }

    /// `wonhee report`'s arguments: the t-SNE files, the stage table and every split's run.
    fn report_args(&self, stages_path: &Path, runs: &[PathBuf]) -> Vec<String> {
        let mut a = vec![
            "report".into(),
            "--out".into(),
            s(&self.out),
            "--tsne-raw".into(),
            s(&self.tsne_raw()),
            "--tsne-embed".into(),
            s(&self.tsne_emb()),
            "--stages".into(),
            s(stages_path),
            "--title".into(),
            format!("WonHEE-rs report ({} profile)", self.opt.profile.name),
        ];
        for r in runs {
            a.extend(["--run".into(), s(r)]);
        }
        a
    }
}

/// The run folder's final weights file: wonhee-train's `MODEL_FILE` (xtask does not link the
/// model crates; the CI pipeline test fails if the two drift apart).
fn wonhee_train_model_file() -> &'static str {
    "model.safetensors"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(profile: &str) -> Result<Options> {
        Ok(Options {
            root: PathBuf::from("."),
            profile: Profile::named(profile)?,
            data: None,
            out: PathBuf::from("out"),
            device: "cpu".into(),
            split: None,
            wonhee: None,
        })
    }

    /// The keys of existing stamps (values from an independent SHA-256 of the same parts):
    /// a change here makes every pipeline re-run from scratch.
    #[test]
    fn stage_keys_are_composed_as_before() -> Result<()> {
        assert_eq!(
            key(&["a", "bc"]),
            "9a8acca1b6c6c0befd3fbc756aed625da998c998f7252e738c4ef061906b9b21"
        );
        let (opt, paper) = (options("ci")?, options("paper")?);
        let p = Pipeline {
            opt: &opt,
            bin: PathBuf::from("wonhee"),
            out: PathBuf::from("out"),
            config: PathBuf::from("configs/ci.toml"),
            config_text: "C".into(),
            version: "wonhee 0.1.0".into(),
            data: PathBuf::from("mitdb"),
            sums: "S".into(),
            records: opt.profile.records.join(","),
        };
        let k_prep = p.prepare_key("inter-patient");
        assert_eq!(
            k_prep,
            "0da4c5e968d18500a7f20fd5d9f84d0272a09f5d73a6f18f48d3ff66acfb0d24"
        );
        let k_train = p.train_key(&k_prep);
        assert_eq!(
            k_train,
            "af78345bcb80d38aa2d29f897f6d11d384ab79ce9c43566461ecd4e5017d7195"
        );
        assert_eq!(
            p.eval_key(&k_train),
            "d2c8fde3affb4e7f26c31b8791de4487717fdc642efe39e023585a20587fb5c1"
        );
        assert_eq!(
            p.tsne_key(&k_train),
            "d30805cdaa1fcaa58b382f11b8fee48487f9649162a350850394bf5727e8de06"
        );
        let p = Pipeline { opt: &paper, ..p };
        assert_eq!(
            p.eval_key(&k_train),
            "3d9fa73d45a7a1e7999fb8210dd2ee8498d0840868296e9f3affec660edf4ce4"
        );
        Ok(())
    }

    #[test]
    fn every_profile_has_its_config_and_inter_patient_is_the_default_for_its_split() -> Result<()> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        for name in PROFILES {
            let p = Profile::named(name)?;
            let cfg = root.join(format!("configs/{}.toml", p.name));
            assert!(cfg.is_file(), "{}", cfg.display());
        }
        assert!(Profile::named("fast").is_err());
        assert_eq!(
            default_profile(Some(SplitSel::InterPatient)),
            "inter-patient"
        );
        assert_eq!(default_profile(Some(SplitSel::Both)), "quick");
        assert_eq!(default_profile(None), "quick");
        assert_eq!(
            Profile::named("inter-patient")?.default_split,
            SplitSel::InterPatient
        );
        Ok(())
    }

    #[test]
    fn a_stage_is_skipped_only_when_its_key_and_outputs_match() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let output = tmp.path().join("made");
        let mut st = Stages::new(tmp.path().join(".stages"), 3)?;
        let mut calls = 0;
        let mut make = || -> Result<()> {
            calls += 1;
            Ok(std::fs::write(&output, "x")?)
        };
        st.run("a stage", "k1", &[&output], &mut make)?;
        st.run("a stage", "k1", &[&output], &mut make)?;
        st.run("a stage", "k2", &[&output], &mut make)?;
        assert_eq!(calls, 2);
        assert!(tmp.path().join(".stages/a-stage.json").is_file());
        let cached: Vec<bool> = st.done.iter().map(|d| d.cached).collect();
        assert_eq!(cached, [false, true, false]);
        Ok(())
    }
}
