//! Reading the inputs: run folders, `summary.json`, t-SNE CSVs and the pipeline's stage table.
//!
//! The files other commands write are read through their writers' own types: `config.toml`,
//! `run.json`, `metrics.jsonl`, `examples.json` and `summary.json` through `wonhee-schema`,
//! `metrics.json` through `wonhee_eval::Metrics`. This module adds the checks the report needs
//! (consistent class counts, a square confusion matrix) and the two files only the report reads
//! (t-SNE CSVs, the stage table).
//!
//! Nothing here recomputes a metric: every number the report shows is read from these files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wonhee_eval::Metrics;
use wonhee_schema::{FfnKind, RunConfig, RunInfo, Summary};

use crate::error::{ReportError, Result};

/// The schema types of `metrics.jsonl` and `examples.json`, under the names this crate has
/// always used.
pub use wonhee_schema::{
    EXAMPLES_FILE, Example, Examples, SUMMARY_FILE, TrainPoint, TrainingLog, ValPoint,
};

/// A prepared dataset's `summary.json`, as found from a run.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    /// Where it was read.
    pub path: PathBuf,
    /// Its contents.
    pub summary: Summary,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// A run folder, read.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The folder.
    pub dir: PathBuf,
    /// Human label: split and feed-forward kind, e.g. `paper · FFN`.
    pub label: String,
    /// File-name form of the label, e.g. `paper-ffn`.
    pub slug: String,
    /// `config.toml`.
    pub config: RunConfig,
    /// `run.json`.
    pub info: RunInfo,
    /// `metrics.jsonl`.
    pub log: TrainingLog,
    /// `metrics.json`, if `wonhee eval` has run.
    pub metrics: Option<Metrics>,
    /// `examples.json`, if present.
    pub examples: Option<Examples>,
    /// The dataset's `summary.json`, if found at `run.json`'s `dataset.dir`.
    pub summary: Option<DatasetSummary>,
}

impl RunData {
    /// Split name from `run.json` (`paper`, `inter-patient`, `record-folds`).
    pub fn split(&self) -> &'static str {
        self.info.dataset.prepare.split.name()
    }

    /// `FFN` (SwiGLU) or `MoE` (Soft-MoE), from `config.toml`.
    pub fn ffn(&self) -> &'static str {
        ffn_name(self.config.model.ffn)
    }

    /// Whether the summary's checksum is the one recorded in `run.json` (false: the dataset
    /// folder was re-prepared after training).
    pub fn summary_matches(&self) -> bool {
        self.summary
            .as_ref()
            .is_some_and(|s| s.sha256 == self.info.dataset.summary_sha256)
    }
}

/// `FFN` or `MoE`.
pub fn ffn_name(kind: FfnKind) -> &'static str {
    match kind {
        FfnKind::Swiglu => "FFN",
        FfnKind::SoftMoe => "MoE",
    }
}

/// t-SNE coordinates from a CSV with columns `x`, `y` and optionally `label` (others ignored).
#[derive(Clone, Debug, PartialEq)]
pub struct Tsne {
    /// The file.
    pub path: PathBuf,
    /// First coordinate.
    pub x: Vec<f64>,
    /// Second coordinate.
    pub y: Vec<f64>,
    /// Label of each point, when the file has a `label` column.
    pub label: Option<Vec<String>>,
}

/// One pipeline stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stage name.
    pub name: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether a finished earlier result was reused.
    #[serde(default)]
    pub cached: bool,
}

/// The pipeline's stage table (`--stages`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Profile name.
    #[serde(default)]
    pub profile: Option<String>,
    /// Device.
    #[serde(default)]
    pub device: Option<String>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| ReportError::io(path, e))
}

/// SHA-256 of bytes, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads `metrics.jsonl` ([`TrainingLog::read`]). Blank lines are skipped and unknown `kind`s
/// ignored; anything else that is not a train or val object is an error naming the file and
/// line.
pub fn read_training_log(path: &Path) -> Result<TrainingLog> {
    Ok(TrainingLog::read(path)?)
}

/// Reads `examples.json` ([`Examples::read`]: every series must have `window_len` points).
pub fn read_examples(path: &Path) -> Result<Examples> {
    Ok(Examples::read(path)?)
}

/// Reads a dataset's `summary.json` ([`Summary::read`], which checks its format version),
/// checks that every split's per-class counts match the class list, and checksums the file.
pub fn read_summary(path: &Path) -> Result<DatasetSummary> {
    let summary = Summary::read(path)?;
    if summary
        .splits
        .values()
        .any(|s| s.per_class.len() != summary.classes.len())
    {
        return Err(ReportError::invalid(
            path,
            "a split's per_class counts do not match the class list",
        ));
    }
    Ok(DatasetSummary {
        path: path.to_path_buf(),
        summary,
        sha256: sha256_hex(&read(path)?),
    })
}

/// Reads `metrics.json`, checking that the confusion matrix and each per-record confusion are
/// square over the class names.
pub fn read_metrics(path: &Path) -> Result<Metrics> {
    let bytes = read(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ReportError::invalid(path, format!("not UTF-8: {e}")))?;
    let m = Metrics::from_json(text).map_err(|e| ReportError::invalid(path, e.to_string()))?;
    if m.schema_version != wonhee_eval::SCHEMA_VERSION {
        return Err(ReportError::invalid(
            path,
            format!(
                "metrics schema {} (this build reads {})",
                m.schema_version,
                wonhee_eval::SCHEMA_VERSION
            ),
        ));
    }
    if let Some(c) = &m.classification {
        let n = c.class_names.len();
        if c.confusion.len() != n || c.confusion.iter().any(|r| r.len() != n) {
            return Err(ReportError::invalid(
                path,
                format!("classification.confusion is not {n} x {n}"),
            ));
        }
        if let Some(r) = c
            .per_record
            .iter()
            .find(|r| r.confusion.len() != n || r.confusion.iter().any(|row| row.len() != n))
        {
            return Err(ReportError::invalid(
                path,
                format!(
                    "classification.per_record: the confusion of record {} is not {n} x {n}",
                    r.record
                ),
            ));
        }
    }
    Ok(m)
}

/// Reads a t-SNE CSV (`x`, `y`, optional `label`). Errors name the file and line.
pub fn read_tsne_csv(path: &Path) -> Result<Tsne> {
    let bytes = read(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let headers = rdr
        .headers()
        .map_err(|e| ReportError::at_line(path, 1, format!("header: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(xi), Some(yi)) = (col("x"), col("y")) else {
        return Err(ReportError::at_line(path, 1, "needs columns `x` and `y`"));
    };
    let li = col("label");
    let (mut x, mut y, mut label) = (Vec::new(), Vec::new(), Vec::new());
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            ReportError::at_line(path, line, e.to_string())
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let num = |i: usize, name: &str| -> Result<f64> {
            let s = rec.get(i).unwrap_or("").trim();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(ReportError::at_line(
                    path,
                    line,
                    format!("`{name}` is not a finite number: {s:?}"),
                )),
            }
        };
        x.push(num(xi, "x")?);
        y.push(num(yi, "y")?);
        if let Some(li) = li {
            label.push(rec.get(li).unwrap_or("").trim().to_string());
        }
    }
    if x.is_empty() {
        return Err(ReportError::invalid(path, "no points"));
    }
    Ok(Tsne {
        path: path.to_path_buf(),
        x,
        y,
        label: li.map(|_| label),
    })
}

/// Reads the pipeline's stage table.
pub fn read_stages(path: &Path) -> Result<Stages> {
    let s: Stages = serde_json::from_slice(&read(path)?)
        .map_err(|e| ReportError::invalid(path, format!("not a stage table: {e}")))?;
    if let Some(st) = s.stages.iter().find(|st| !st.seconds.is_finite()) {
        return Err(ReportError::invalid(
            path,
            format!("stage {}: seconds is not finite", st.name),
        ));
    }
    Ok(s)
}

/// Where `run.json`'s `dataset.dir` points: as given (absolute, or relative to the working
/// folder), else relative to the run folder's parent.
fn find_summary(run_dir: &Path, dataset_dir: &str) -> Option<PathBuf> {
    let given = Path::new(dataset_dir).join(SUMMARY_FILE);
    if given.is_file() {
        return Some(given);
    }
    if Path::new(dataset_dir).is_relative() {
        let beside = run_dir.parent()?.join(dataset_dir).join(SUMMARY_FILE);
        if beside.is_file() {
            return Some(beside);
        }
    }
    None
}

/// Loads a run folder: `config.toml`, `run.json` and `metrics.jsonl` (required); `metrics.json`,
/// `examples.json` and the dataset's `summary.json` when present (a warning is logged if not).
pub fn load_run(dir: impl AsRef<Path>) -> Result<RunData> {
    let dir = dir.as_ref().to_path_buf();
    if !dir.is_dir() {
        return Err(ReportError::invalid(&dir, "not a run folder"));
    }
    // The schema's errors name the file (and the line of metrics.jsonl).
    let config = RunConfig::from_toml_file(&dir.join(wonhee_schema::CONFIG_FILE))?;
    let info = RunInfo::read(&dir)?;
    let log = TrainingLog::read(&dir.join(wonhee_schema::METRICS_LOG))?;
    let optional = |name: &str| {
        let p = dir.join(name);
        if p.is_file() {
            Some(p)
        } else {
            tracing::warn!("{}: not found (run `wonhee eval` first)", p.display());
            None
        }
    };
    let metrics = optional(wonhee_schema::METRICS_FILE)
        .map(|p| read_metrics(&p))
        .transpose()?;
    let examples = optional(EXAMPLES_FILE)
        .map(|p| Examples::read(&p))
        .transpose()?;
    let summary = match find_summary(&dir, &info.dataset.dir) {
        Some(p) => Some(read_summary(&p)?),
        None => {
            tracing::warn!(
                "{}: dataset summary not found at {}/{SUMMARY_FILE}; the data section is left out",
                dir.display(),
                info.dataset.dir
            );
            None
        }
    };
    if let Some(s) = &summary
        && s.sha256 != info.dataset.summary_sha256
    {
        tracing::warn!(
            "{}: checksum differs from run.json's (dataset re-prepared after training?)",
            s.path.display()
        );
    }
    let mut split = info.dataset.prepare.split.name().to_string();
    if let Some(f) = info.dataset.fold {
        split = format!("{split} fold {f}");
    }
    let ffn = ffn_name(config.model.ffn);
    Ok(RunData {
        label: format!("{split} · {ffn}"),
        slug: slugify(&format!("{split}-{ffn}")),
        dir,
        config,
        info,
        log,
        metrics,
        examples,
        summary,
    })
}

/// Lowercase ASCII letters, digits and `-`.
pub(crate) fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Everything a report is made from.
#[derive(Clone, Debug)]
pub struct ReportInputs {
    /// Title of the report.
    pub title: String,
    /// Runs, in the order given; labels and slugs are unique.
    pub runs: Vec<RunData>,
    /// t-SNE of raw windows.
    pub tsne_raw: Option<Tsne>,
    /// t-SNE of the model's embeddings.
    pub tsne_embed: Option<Tsne>,
    /// The pipeline's stage table.
    pub stages: Option<Stages>,
}

impl ReportInputs {
    /// Inputs from loaded runs (at least one). Repeated labels get a suffix (`#2`, ...).
    pub fn new(title: impl Into<String>, mut runs: Vec<RunData>) -> Result<Self> {
        if runs.is_empty() {
            return Err(ReportError::Inputs(
                "a report needs at least one run".into(),
            ));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for r in &mut runs {
            let n = seen.entry(r.slug.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                r.label = format!("{} #{n}", r.label);
                r.slug = format!("{}-{n}", r.slug);
            }
        }
        Ok(Self {
            title: title.into(),
            runs,
            tsne_raw: None,
            tsne_embed: None,
            stages: None,
        })
    }

    /// Loads every run folder (see [`load_run`]).
    pub fn load(title: impl Into<String>, run_dirs: &[PathBuf]) -> Result<Self> {
        let runs = run_dirs.iter().map(load_run).collect::<Result<Vec<_>>>()?;
        Self::new(title, runs)
    }

    /// Distinct dataset summaries (by checksum), each with the labels of the runs using it.
    pub fn datasets(&self) -> Vec<(&DatasetSummary, Vec<&str>)> {
        let mut out: Vec<(&DatasetSummary, Vec<&str>)> = Vec::new();
        for r in &self.runs {
            if let Some(s) = &r.summary {
                match out.iter_mut().find(|(d, _)| d.sha256 == s.sha256) {
                    Some((_, labels)) => labels.push(&r.label),
                    None => out.push((s, vec![&r.label])),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn training_log_reads_dedups_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "metrics.jsonl",
            concat!(
                r#"{"kind":"train","step":2,"epoch":0.2,"lr":0.001,"loss":3.0,"loss_cls":1.0,"loss_imp":1.0,"loss_fc":1.0,"grad_norm":1.0,"pcgrad_projections":0,"samples_per_s":10.0,"elapsed_s":1.0}"#,
                "\n\n",
                r#"{"kind":"train","step":1,"epoch":0.1,"lr":0.001,"loss":4.0,"loss_cls":2.0,"loss_imp":1.0,"loss_fc":null,"grad_norm":1.0,"pcgrad_projections":0,"samples_per_s":10.0,"elapsed_s":0.5}"#,
                "\n",
                r#"{"kind":"val","step":2,"epoch":0.2,"accuracy":0.5,"macro_f1":0.4,"cls_loss":1.0,"imp_mse":0.9,"fc_mse":0.8}"#,
                "\n",
                r#"{"kind":"train","step":2,"epoch":0.2,"lr":0.001,"loss":2.5,"loss_cls":0.5,"loss_imp":1.0,"loss_fc":1.0,"grad_norm":1.0,"pcgrad_projections":0,"samples_per_s":10.0,"elapsed_s":1.0}"#,
                "\n",
                r#"{"kind":"note","text":"ignored"}"#,
                "\n",
            ),
        );
        let log = read_training_log(&p).unwrap();
        assert_eq!(log.train.iter().map(|t| t.step).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            log.train[1].loss_cls,
            Some(0.5),
            "last entry of a step wins"
        );
        assert_eq!(log.train[0].loss_fc, None);
        assert_eq!(log.val.len(), 1);
        assert_eq!(log.val[0].accuracy, Some(0.5));
    }

    #[test]
    fn bad_metrics_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = r#"{"kind":"val","step":1,"accuracy":0.5}"#;
        let p = write(
            dir.path(),
            "metrics.jsonl",
            &format!("{good}\n{good}\n{{\"kind\":\"train\",\"step\":\n"),
        );
        let msg = read_training_log(&p).unwrap_err().to_string();
        assert!(msg.contains("metrics.jsonl:3:"), "{msg}");
        let p = write(
            dir.path(),
            "m2.jsonl",
            &format!("{good}\n{{\"kind\":\"train\",\"step\":\"x\"}}\n"),
        );
        let msg = read_training_log(&p).unwrap_err().to_string();
        assert!(
            msg.contains("m2.jsonl:2:") && msg.contains("train entry"),
            "{msg}"
        );
        let p = write(dir.path(), "m3.jsonl", "{\"step\":1}\n");
        let msg = read_training_log(&p).unwrap_err().to_string();
        assert!(msg.contains("m3.jsonl:1:") && msg.contains("kind"), "{msg}");
    }

    #[test]
    fn tsne_csv_reads_and_rejects_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t.csv",
            "x,y,label,extra\n1.5,-2,N,7\n0,3e1,V,8\n",
        );
        let t = read_tsne_csv(&p).unwrap();
        assert_eq!(t.x, [1.5, 0.0]);
        assert_eq!(t.y, [-2.0, 30.0]);
        assert_eq!(t.label.unwrap(), ["N", "V"]);
        let p = write(dir.path(), "nolabel.csv", "y,x\n1,2\n");
        let t = read_tsne_csv(&p).unwrap();
        assert_eq!((t.x[0], t.y[0], t.label), (2.0, 1.0, None));
        let p = write(dir.path(), "bad.csv", "x,y,label\n1,2,N\n1,nan,N\n");
        let msg = read_tsne_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.csv:3:") && msg.contains("`y`"), "{msg}");
        let p = write(dir.path(), "cols.csv", "a,b\n1,2\n");
        let msg = read_tsne_csv(&p).unwrap_err().to_string();
        assert!(msg.contains("cols.csv:1:"), "{msg}");
    }

    #[test]
    fn examples_with_wrong_length_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "examples.json",
            r#"{"window_len":3,"rate_hz":128.0,"imputation":[{"k":1,"record":"100","sample":5,"class":"N","truth":[0,1,2],"hidden":[false,true,false],"pred":[0,1],"baseline_name":"linear","baseline":[0,1,2]}],"forecasting":[]}"#,
        );
        let msg = read_examples(&p).unwrap_err().to_string();
        assert!(
            msg.contains("examples.json") && msg.contains("imputation[0].pred"),
            "{msg}"
        );
    }

    #[test]
    fn stages_reject_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "stages.json",
            r#"{"stages":[{"name":"prepare"}]}"#,
        );
        let msg = read_stages(&p).unwrap_err().to_string();
        assert!(
            msg.contains("stages.json") && msg.contains("seconds"),
            "{msg}"
        );
        let p = write(
            dir.path(),
            "ok.json",
            r#"{"stages":[{"name":"prepare","seconds":1.5,"cached":true}],"profile":"quick"}"#,
        );
        let s = read_stages(&p).unwrap();
        assert_eq!(s.stages[0].seconds, 1.5);
        assert!(s.stages[0].cached);
        assert_eq!(s.device, None);
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("inter-patient · MoE"), "inter-patient-moe");
        assert_eq!(
            slugify("record-folds fold 2-FFN"),
            "record-folds-fold-2-ffn"
        );
    }
}
