//! `metrics.jsonl`: one JSON object per line, a training step (`"kind":"train"`) or a
//! validation (`"kind":"val"`), appended by the trainer and read by the report.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SchemaError};

/// One training step. Fields are optional so that files from older builds (and `null`, which
/// a non-finite number becomes in JSON) still read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainPoint {
    /// 1-based step.
    pub step: usize,
    /// Fractional epoch.
    #[serde(default)]
    pub epoch: Option<f64>,
    /// Learning rate.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Weighted total loss.
    #[serde(default)]
    pub loss: Option<f64>,
    /// Classification loss (cross-entropy, or the focal loss when `train.focal_gamma` > 0).
    #[serde(default)]
    pub loss_cls: Option<f64>,
    /// Imputation MSE on hidden points.
    #[serde(default)]
    pub loss_imp: Option<f64>,
    /// Forecasting MSE on hidden points.
    #[serde(default)]
    pub loss_fc: Option<f64>,
    /// Gradient norm before clipping.
    #[serde(default)]
    pub grad_norm: Option<f64>,
    /// PCGrad projections made in this step.
    #[serde(default)]
    pub pcgrad_projections: Option<usize>,
    /// Samples per second of the session so far.
    #[serde(default)]
    pub samples_per_s: Option<f64>,
    /// Seconds of training so far (over resumed sessions).
    #[serde(default)]
    pub elapsed_s: Option<f64>,
}

/// One validation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValPoint {
    /// Step after which it was computed.
    pub step: usize,
    /// Fractional epoch.
    #[serde(default)]
    pub epoch: Option<f64>,
    /// Classification accuracy (fraction).
    #[serde(default)]
    pub accuracy: Option<f64>,
    /// Macro-averaged F1.
    #[serde(default)]
    pub macro_f1: Option<f64>,
    /// Mean cross-entropy.
    #[serde(default)]
    pub cls_loss: Option<f64>,
    /// Imputation MSE on hidden points.
    #[serde(default)]
    pub imp_mse: Option<f64>,
    /// Forecasting MSE on hidden points.
    #[serde(default)]
    pub fc_mse: Option<f64>,
}

/// One line of `metrics.jsonl`, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LogLine {
    /// A training step.
    Train(TrainPoint),
    /// A validation.
    Val(ValPoint),
}

impl LogLine {
    /// The step the line belongs to.
    pub fn step(&self) -> usize {
        match self {
            Self::Train(p) => p.step,
            Self::Val(p) => p.step,
        }
    }

    /// Appends the line to `path` (created if absent).
    pub fn append(&self, path: &Path) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SchemaError::io(path, e))?;
        let mut line =
            serde_json::to_vec(self).map_err(|e| SchemaError::file(path, e.to_string()))?;
        line.push(b'\n');
        f.write_all(&line).map_err(|e| SchemaError::io(path, e))
    }
}

/// The contents of `metrics.jsonl`, sorted by step. A step logged twice (a resumed run repeats
/// the steps after its last checkpoint) keeps its last entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingLog {
    /// Training steps.
    pub train: Vec<TrainPoint>,
    /// Validations.
    pub val: Vec<ValPoint>,
}

/// The lines of `text` that are log lines, with their 1-based line numbers. Blank lines and
/// unknown `kind`s are skipped; anything else that is not a train or val object is an error
/// naming the file (`path`) and line.
fn parse_lines(path: &Path, text: &str) -> Result<Vec<(usize, LogLine)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| SchemaError::at_line(path, n, format!("not JSON: {e}")))?;
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .ok_or_else(|| SchemaError::at_line(path, n, "no string `kind`"))?;
        if !matches!(kind, "train" | "val") {
            continue;
        }
        let entry: LogLine = serde_json::from_value(value.clone())
            .map_err(|e| SchemaError::at_line(path, n, format!("{kind} entry: {e}")))?;
        out.push((n, entry));
    }
    Ok(out)
}

impl TrainingLog {
    /// Reads `metrics.jsonl`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| SchemaError::io(path, e))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| SchemaError::file(path, format!("not UTF-8: {e}")))?;
        let mut train = BTreeMap::new();
        let mut val = BTreeMap::new();
        for (_, line) in parse_lines(path, text)? {
            match line {
                LogLine::Train(p) => {
                    train.insert(p.step, p);
                }
                LogLine::Val(p) => {
                    val.insert(p.step, p);
                }
            }
        }
        Ok(Self {
            train: train.into_values().collect(),
            val: val.into_values().collect(),
        })
    }
}

/// Keeps only the lines of steps `<= step` (after a resume, which repeats the later steps).
/// An absent file is left absent.
pub fn truncate_log(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                .is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    Ok(wonhee_fs::write_atomic(path, kept.as_bytes())?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_repeated_steps_keep_the_last() {
        let d = tempfile_dir();
        let p = d.join("metrics.jsonl");
        let t = |step, loss| {
            LogLine::Train(TrainPoint {
                step,
                loss_cls: Some(loss),
                ..TrainPoint::default()
            })
        };
        for l in [
            t(1, 0.5),
            t(2, 0.4),
            LogLine::Val(ValPoint {
                step: 2,
                accuracy: Some(0.9),
                ..ValPoint::default()
            }),
            t(3, 0.3),
            t(2, 0.25),
        ] {
            l.append(&p).unwrap();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("{\"kind\":\"train\",\"step\":1,"),
            "{text}"
        );
        let log = TrainingLog::read(&p).unwrap();
        assert_eq!(log.train.len(), 3);
        assert_eq!(log.train[1].loss_cls, Some(0.25));
        assert_eq!(log.val[0].accuracy, Some(0.9));
        truncate_log(&p, 1).unwrap();
        let log = TrainingLog::read(&p).unwrap();
        assert_eq!((log.train.len(), log.val.len()), (1, 0));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_lines_name_the_file_and_line_and_unknown_kinds_are_skipped() {
        let d = tempfile_dir();
        let p = d.join("metrics.jsonl");
        std::fs::write(
            &p,
            "{\"kind\":\"note\",\"step\":1}\n\n{\"kind\":\"val\",\"step\":\"x\"}\n",
        )
        .unwrap();
        let e = TrainingLog::read(&p).unwrap_err().to_string();
        assert!(e.contains("metrics.jsonl:3: val entry"), "{e}");
        std::fs::write(&p, "{\"step\":1}\n").unwrap();
        let e = TrainingLog::read(&p).unwrap_err().to_string();
        assert!(e.contains(":1: no string `kind`"), "{e}");
        std::fs::write(&p, "{\"kind\":\"train\",\"step\":4,\"loss_cls\":null}\n").unwrap();
        assert_eq!(TrainingLog::read(&p).unwrap().train[0].loss_cls, None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wonhee-schema-log-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
