//! Evaluation of a trained run on its dataset's held-out side (`wonhee eval`), and inference on
//! single windows (`wonhee impute`, `wonhee forecast`).
//!
//! Classification runs on every held-out window. Imputation and forecasting run at each K of
//! the [`EvalProtocol`] (200, 370, 540) on the same windows and masks as the baselines of
//! `wonhee-eval`; the imputation mask of a window depends only on (seed, K, window index), so a
//! window can be re-imputed outside this function with exactly the same hidden points.

use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};
use wonhee_dataset::{Dataset, RHYTHM_FEATURES, Side};
use wonhee_eval::{
    Bootstrap, EvalProtocol, ForecastEval, ImputationEval, Metrics, classification_report,
    linear_fill, previous_beat,
};
use wonhee_model::WonHee;
use wonhee_signal::Scaler;

use crate::error::{Result, TrainError};
use crate::run::Run;
use crate::train::{check_rhythm, rhythm_batch};

/// Settings of [`evaluate`].
pub struct EvalOptions<'a> {
    /// Windows per forward pass.
    pub batch: usize,
    /// Masks (seed and K values) of imputation and forecasting.
    pub protocol: EvalProtocol,
    /// Bootstrap intervals.
    pub bootstrap: Bootstrap,
    /// Evaluate imputation/forecasting on at most this many held-out windows (an evenly spaced
    /// subset); classification always uses all of them. `None` = all.
    pub max_regression_windows: Option<usize>,
    /// Examples per task written to `examples.json` (for the report's figures).
    pub examples: usize,
    /// Called with (windows done, windows total) per task pass.
    pub progress: &'a (dyn Fn(&str, usize, usize) + Sync),
}

impl Default for EvalOptions<'_> {
    fn default() -> Self {
        Self {
            batch: 256,
            protocol: EvalProtocol::new(2024),
            bootstrap: Bootstrap::new(1000, 0),
            max_regression_windows: None,
            examples: 3,
            progress: &|_, _, _| {},
        }
    }
}

/// One example window for the report (standardized units; `hidden[i]` = hidden from the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Number of hidden points.
    pub k: usize,
    /// Record name.
    pub record: String,
    /// Beat sample at the record's rate.
    pub sample: i64,
    /// True class name.
    pub class: String,
    /// The true window.
    pub truth: Vec<f32>,
    /// Hidden points.
    pub hidden: Vec<bool>,
    /// The model's output.
    pub pred: Vec<f32>,
    /// Name of the baseline in `baseline`.
    pub baseline_name: String,
    /// The baseline's output.
    pub baseline: Vec<f32>,
}

/// `examples.json`: a few test windows with the model's and a baseline's outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Examples {
    /// Points per window.
    pub window_len: usize,
    /// Sampling rate of the windows (Hz).
    pub rate_hz: f64,
    /// Imputation examples.
    #[serde(default)]
    pub imputation: Vec<Example>,
    /// Forecasting examples.
    #[serde(default)]
    pub forecasting: Vec<Example>,
}

/// The held-out side of `ds` for this run: the test side, or the run's held-out fold.
pub fn eval_side(run: &Run) -> Side {
    match run.info.dataset.fold {
        Some(k) => Side::Fold(k),
        None => Side::Test,
    }
}

/// Checks that `ds` is the dataset the run was trained on (same preparation settings).
pub fn check_dataset(run: &Run, ds: &Dataset) -> Result<()> {
    let s = ds.summary();
    if s.config != run.info.dataset.prepare {
        return Err(TrainError::run(
            ds.dir(),
            format!(
                "prepared with other settings than the run's dataset ({}); evaluate on the \
                 dataset the run was trained on",
                run.info.dataset.dir
            ),
        ));
    }
    if s.classes != run.info.dataset.classes {
        return Err(TrainError::run(
            ds.dir(),
            "class names differ from the run's".to_string(),
        ));
    }
    check_rhythm(run.model.config(), ds)
}

fn hidden_tensor(masks: &[Vec<bool>], l: usize, dev: &Device) -> Result<Tensor> {
    let v: Vec<f32> = masks
        .iter()
        .flat_map(|m| m.iter().map(|&h| f32::from(u8::from(h))))
        .collect();
    Ok(Tensor::from_vec(v, (masks.len(), l), dev)?)
}

/// Zeroes the hidden points of `windows` (the model zeroes them as well; doing it here too
/// makes it obvious that no hidden value reaches the model).
fn observed_only(windows: &[f32], masks: &[Vec<bool>], l: usize) -> Vec<f32> {
    let mut x = windows.to_vec();
    for (row, m) in x.chunks_mut(l).zip(masks) {
        for (v, &h) in row.iter_mut().zip(m) {
            if h {
                *v = 0.0;
            }
        }
    }
    x
}

/// The RR interval (samples at the window rate) before each window's beat: the distance to the
/// previous window's centre in the same record, or 0 when there is none.
fn rr_intervals(ds: &Dataset) -> Vec<usize> {
    let (rec, c) = (ds.window_records(), ds.centres());
    (0..ds.len())
        .map(|i| {
            if i > 0 && rec[i - 1] == rec[i] && c[i] > c[i - 1] {
                (c[i] - c[i - 1]) as usize
            } else {
                0
            }
        })
        .collect()
}

/// Evaluates `run` on the held-out side of `ds`: classification, imputation and forecasting
/// next to their baselines. Returns `metrics.json`'s contents and report examples.
pub fn evaluate(run: &Run, ds: &Dataset, opts: &EvalOptions) -> Result<(Metrics, Examples)> {
    check_dataset(run, ds)?;
    let model = &run.model;
    let dev = model.device().clone();
    let side = eval_side(run);
    let idx = ds.indices(side);
    if idx.is_empty() {
        return Err(TrainError::run(
            ds.dir(),
            format!("no windows on the {} side", side.name()),
        ));
    }
    let scaler = run.info.dataset.scaler;
    let l = ds.window_len();
    let names = ds.class_names().to_vec();
    let batch = opts.batch.max(1);
    // Whole records are the bootstrap unit when the split is by record, where beats of one
    // record are strongly correlated; single windows for the paper's per-beat split.
    let by_record = !matches!(
        ds.summary().config.split,
        wonhee_dataset::SplitKind::Paper { .. }
    );
    let groups: Vec<u32> = idx
        .iter()
        .map(|&i| u32::from(ds.window_records()[i]))
        .collect();
    // mV per standardized unit: the record's std (physical units) times the scaler's std.
    let rec_std: Vec<f64> = ds.summary().records.iter().map(|r| r.zscore.std).collect();
    let scale_of = |i: usize| rec_std[usize::from(ds.window_records()[i])] * scaler.std;

    // Classification.
    let mut y_true = Vec::with_capacity(idx.len());
    let mut y_pred = Vec::with_capacity(idx.len());
    let mut x = vec![0f32; batch * l];
    for (done, chunk) in idx.chunks(batch).enumerate() {
        let b = chunk.len();
        ds.fill_batch(chunk, &scaler, &mut x[..b * l])?;
        let xt = Tensor::from_slice(&x[..b * l], (b, l), &dev)?;
        let rt = rhythm_batch(model.config(), ds, chunk, &dev)?;
        let pred = model
            .forward_classify_with(&xt, rt.as_ref(), false)?
            .argmax(D::Minus1)?
            .to_vec1::<u32>()?;
        y_pred.extend(pred.iter().map(|&p| p as u8));
        y_true.extend(chunk.iter().map(|&i| ds.labels()[i]));
        (opts.progress)(
            "classification",
            (done * batch + b).min(idx.len()),
            idx.len(),
        );
    }
    let mut metrics = Metrics::new();
    metrics.classification = Some(classification_report(
        &y_true,
        &y_pred,
        &names,
        by_record.then_some(groups.as_slice()),
        &opts.bootstrap,
    )?);

    // Imputation and forecasting on an evenly spaced subset.
    let reg: Vec<usize> = match opts.max_regression_windows {
        Some(m) if m < idx.len() && m > 0 => (0..m).map(|j| idx[j * idx.len() / m]).collect(),
        _ => idx.clone(),
    };
    let rr = rr_intervals(ds);
    let mut examples = Examples {
        window_len: l,
        rate_hz: f64::from(ds.summary().config.fs),
        imputation: Vec::new(),
        forecasting: Vec::new(),
    };
    let example_of =
        |i: usize, k: usize, truth: &[f32], m: &[bool], p: &[f32], bn: &str, bl| Example {
            k,
            record: ds.records()[usize::from(ds.window_records()[i])].clone(),
            sample: ds.samples()[i],
            class: names[usize::from(ds.labels()[i])].clone(),
            truth: truth.to_vec(),
            hidden: m.to_vec(),
            pred: p.to_vec(),
            baseline_name: bn.to_string(),
            baseline: bl,
        };
    let example_k = opts.protocol.ks.get(opts.protocol.ks.len() / 2).copied();
    for &k in &opts.protocol.ks {
        let mut imp = ImputationEval::new(k);
        let mut fc = ForecastEval::new(k);
        let fmask = opts.protocol.forecast_mask(l, k)?;
        for (done, chunk) in reg.chunks(batch).enumerate() {
            let b = chunk.len();
            ds.fill_batch(chunk, &scaler, &mut x[..b * l])?;
            let truth = &x[..b * l];
            let imasks = chunk
                .iter()
                .map(|&i| opts.protocol.imputation_mask(l, k, i as u64))
                .collect::<wonhee_eval::Result<Vec<_>>>()?;
            let fmasks = vec![fmask.clone(); b];
            let pi = impute_batch(model, &observed_only(truth, &imasks, l), &imasks, l)?;
            let pf = forecast_batch(model, &observed_only(truth, &fmasks, l), &fmasks, l)?;
            for (j, &i) in chunk.iter().enumerate() {
                let w = &truth[j * l..(j + 1) * l];
                let (g, s) = (u32::from(ds.window_records()[i]), scale_of(i));
                let g = by_record.then_some(g);
                imp.push(w, &imasks[j], &pi[j * l..(j + 1) * l], Some(s), g)?;
                fc.push(w, &fmask, &pf[j * l..(j + 1) * l], rr[i], Some(s), g)?;
            }
            // Examples from the first batch at the middle K (370 in the default protocol).
            if done == 0 && example_k == Some(k) {
                for j in 0..opts.examples.min(b) {
                    let w = &truth[j * l..(j + 1) * l];
                    let i = chunk[j];
                    let lin = linear_fill(w, &imasks[j])?;
                    examples.imputation.push(example_of(
                        i,
                        k,
                        w,
                        &imasks[j],
                        &pi[j * l..(j + 1) * l],
                        "linear",
                        lin,
                    ));
                    let (beat, _) = previous_beat(w, &fmask, rr[i])?;
                    examples.forecasting.push(example_of(
                        i,
                        k,
                        w,
                        &fmask,
                        &pf[j * l..(j + 1) * l],
                        "previous_beat",
                        beat,
                    ));
                }
            }
            (opts.progress)(
                &format!("imputation+forecasting K={k}"),
                (done * batch + b).min(reg.len()),
                reg.len(),
            );
        }
        metrics.imputation.push(imp.finish(&opts.bootstrap)?);
        metrics.forecasting.push(fc.finish(&opts.bootstrap)?);
    }
    let m = &mut metrics.meta;
    m.insert("run".into(), run.dir.display().to_string().into());
    m.insert("dataset".into(), ds.dir().display().to_string().into());
    m.insert("split".into(), ds.summary().config.split.name().into());
    m.insert("side".into(), side.name().into());
    m.insert("windows".into(), idx.len().into());
    m.insert("regression_windows".into(), reg.len().into());
    m.insert("mask_seed".into(), opts.protocol.seed.into());
    m.insert("device".into(), crate::device_name(&dev).into());
    m.insert("parameters".into(), run.info.parameters.into());
    Ok((metrics, examples))
}

/// The imputation head's output for windows `x` (`[b·l]`, standardized) with hidden points
/// `masks`; hidden values of `x` are ignored.
pub fn impute_batch(model: &WonHee, x: &[f32], masks: &[Vec<bool>], l: usize) -> Result<Vec<f32>> {
    let dev = model.device().clone();
    let b = masks.len();
    let xt = Tensor::from_vec(observed_only(x, masks, l), (b, l), &dev)?;
    let mt = hidden_tensor(masks, l, &dev)?;
    Ok(model
        .forward_impute(&xt, &mt, false)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// The forecasting head's output for windows `x` with hidden (future) points `masks`.
pub fn forecast_batch(
    model: &WonHee,
    x: &[f32],
    masks: &[Vec<bool>],
    l: usize,
) -> Result<Vec<f32>> {
    let dev = model.device().clone();
    let b = masks.len();
    let xt = Tensor::from_vec(observed_only(x, masks, l), (b, l), &dev)?;
    let mt = hidden_tensor(masks, l, &dev)?;
    Ok(model
        .forward_forecast(&xt, &mt, false)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

/// How values given to [`fill_window`] are scaled into model units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// Already in model units (per-record z-score, then the run's scaler), e.g. values taken
    /// from a prepared dataset.
    Standardized,
    /// Any physical units: the observed points are z-scored (their own mean and std), the
    /// run's scaler is applied, and the outputs are mapped back to the input's units.
    Raw,
}

/// Fills the missing (`None`) points of one window with the imputation head (`forecast` =
/// false) or the forecasting head (`forecast` = true; then the missing points must be a
/// trailing block). Returns the whole window with observed points unchanged.
pub fn fill_window(
    model: &WonHee,
    values: &[Option<f32>],
    window_len: usize,
    scaler: &Scaler,
    units: Units,
    forecast: bool,
) -> std::result::Result<Vec<f32>, String> {
    let l = window_len;
    if values.len() != l {
        return Err(format!(
            "the window has {} values; the model takes windows of exactly {l}",
            values.len()
        ));
    }
    if let Some(i) = values
        .iter()
        .position(|v| v.is_some_and(|x| !x.is_finite()))
    {
        return Err(format!("value {i} is not a finite number"));
    }
    let hidden: Vec<bool> = values.iter().map(Option::is_none).collect();
    let k = hidden.iter().filter(|&&h| h).count();
    let observed = l - k;
    if observed < 2 {
        return Err(format!(
            "{k} of {l} values are missing; at least 2 must be observed"
        ));
    }
    let (mean, std) = match units {
        Units::Standardized => (0.0, 1.0),
        Units::Raw => {
            let obs = values.iter().flatten().map(|&v| f64::from(v));
            let mean = obs.clone().sum::<f64>() / observed as f64;
            let var = obs.map(|v| (v - mean).powi(2)).sum::<f64>() / observed as f64;
            let std = var.sqrt();
            if std <= f64::EPSILON * mean.abs().max(1.0) {
                return Err("the observed values are constant; cannot standardize".into());
            }
            (mean, std)
        }
    };
    let to_model = |v: f32| -> f32 {
        match units {
            Units::Standardized => v,
            Units::Raw => (((f64::from(v) - mean) / std - scaler.mean) / scaler.std) as f32,
        }
    };
    let from_model = |v: f32| -> f32 {
        match units {
            Units::Standardized => v,
            Units::Raw => ((f64::from(v) * scaler.std + scaler.mean) * std + mean) as f32,
        }
    };
    let x: Vec<f32> = values.iter().map(|v| v.map_or(0.0, to_model)).collect();
    let masks = vec![hidden.clone()];
    let out = if forecast {
        forecast_batch(model, &x, &masks, l)
    } else {
        impute_batch(model, &x, &masks, l)
    }
    .map_err(|e| e.to_string())?;
    Ok(values
        .iter()
        .zip(out)
        .map(|(v, p)| v.unwrap_or_else(|| from_model(p)))
        .collect())
}

/// The model's answer for one annotated beat of a record ([`predict_record`]).
#[derive(Clone, Debug, PartialEq)]
pub struct BeatPrediction {
    /// Annotation sample at the record's rate.
    pub sample: i64,
    /// Annotation symbol.
    pub symbol: String,
    /// Class of the annotation.
    pub true_class: String,
    /// Predicted class.
    pub pred_class: String,
    /// Class probabilities, in the run's class order.
    pub probs: Vec<f32>,
    /// Whether the window reached past the record's ends and was padded with the edge value.
    pub padded: bool,
}

/// Classifies every annotated beat of the WFDB record at `record` (path without extension):
/// the record is processed exactly as in training (lead, z-score, resampling, window), the
/// run's scaler is applied, and beats too close to the record's ends get windows padded with
/// the nearest sample.
pub fn predict_record(
    run: &Run,
    record: &std::path::Path,
    batch: usize,
) -> Result<Vec<BeatPrediction>> {
    let cfg = &run.info.dataset.prepare;
    let dir = record
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = record
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| TrainError::run(record, "not a record path"))?;
    let rw = wonhee_dataset::prepare_record(dir, &name, cfg, true)?;
    let l = cfg.window;
    let half = (l / 2) as i64;
    let n = rw.signal.len() as i64;
    let scaler = run.info.dataset.scaler;
    let classes = &run.info.dataset.classes;
    let dev = run.model.device().clone();
    let mut out = Vec::with_capacity(rw.centre.len());
    let mut x = vec![0f32; batch.max(1) * l];
    let mut raw = vec![0f32; l];
    for chunk in (0..rw.centre.len())
        .collect::<Vec<_>>()
        .chunks(batch.max(1))
    {
        let b = chunk.len();
        let mut padded = Vec::with_capacity(b);
        for (j, &i) in chunk.iter().enumerate() {
            let start = rw.centre[i] - half;
            for (t, r) in raw.iter_mut().enumerate() {
                let s = (start + t as i64).clamp(0, n - 1);
                *r = rw.signal[s as usize];
            }
            padded.push(start < 0 || start + l as i64 > n);
            wonhee_dataset::scale_into(&raw, &scaler, &mut x[j * l..(j + 1) * l]);
        }
        let xt = Tensor::from_slice(&x[..b * l], (b, l), &dev)?;
        let rt = if run.model.config().rhythm_inputs > 0 {
            let r: Vec<f32> = chunk.iter().flat_map(|&i| rw.rr[i].features()).collect();
            Some(Tensor::from_vec(r, (b, RHYTHM_FEATURES), &dev)?)
        } else {
            None
        };
        let logits = run.model.forward_classify_with(&xt, rt.as_ref(), false)?;
        let probs = candle_nn::ops::softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
        for ((j, &i), p) in chunk.iter().enumerate().zip(probs) {
            let best = p
                .iter()
                .enumerate()
                .fold(0, |bi, (c, &v)| if v > p[bi] { c } else { bi });
            out.push(BeatPrediction {
                sample: rw.sample[i],
                symbol: wonhee_wfdb::code_symbol(rw.code[i])
                    .unwrap_or("?")
                    .to_string(),
                true_class: classes
                    .get(usize::from(rw.label[i]))
                    .cloned()
                    .unwrap_or_default(),
                pred_class: classes.get(best).cloned().unwrap_or_default(),
                probs: p,
                padded: padded[j],
            });
        }
    }
    Ok(out)
}
