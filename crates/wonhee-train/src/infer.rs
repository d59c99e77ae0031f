//! Inference with a trained run on new data: filling the missing points of one window
//! (`wonhee impute`, `wonhee forecast`) and classifying every annotated beat of a raw WFDB
//! record (`wonhee predict`).

use candle_core::{Device, Tensor};
use wonhee_model::WonHee;
use wonhee_signal::Scaler;

use crate::classify::{LeadSignals, classify_windows};
use crate::error::{Result, TrainError};
use crate::run::Run;

/// The 0/1 tensor `[b, l]` of hidden points.
fn hidden_tensor(masks: &[Vec<bool>], l: usize, dev: &Device) -> Result<Tensor> {
    let v: Vec<f32> = masks
        .iter()
        .flat_map(|m| m.iter().map(|&h| f32::from(u8::from(h))))
        .collect();
    Ok(Tensor::from_vec(v, (masks.len(), l), dev)?)
}

/// Zeroes the hidden points of `windows` (the model zeroes them as well; doing it here too
/// makes it obvious that no hidden value reaches the model).
pub(crate) fn observed_only(windows: &[f32], masks: &[Vec<bool>], l: usize) -> Vec<f32> {
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

/// The `horizon` points that follow `history` (at least `window_len - horizon` points; the
/// last ones are used), from the forecasting head: [`fill_window`] on a window whose trailing
/// `horizon` points are missing. Errors are messages for the caller to prefix with the input.
pub fn forecast_after(
    model: &WonHee,
    history: &[f32],
    horizon: usize,
    window_len: usize,
    scaler: &Scaler,
    units: Units,
) -> std::result::Result<Vec<f32>, String> {
    let (l, k) = (window_len, horizon);
    if k == 0 || k >= l {
        return Err(format!(
            "horizon {k}: must be between 1 and {} (window {l})",
            l.saturating_sub(1)
        ));
    }
    if history.len() < l - k {
        return Err(format!(
            "{} points of history; the model needs at least {} (window {l} − horizon {k})",
            history.len(),
            l - k
        ));
    }
    let mut window: Vec<Option<f32>> = history[history.len() - (l - k)..]
        .iter()
        .map(|&v| Some(v))
        .collect();
    window.resize(l, None);
    let out = fill_window(model, &window, l, scaler, units, true)?;
    Ok(out[l - k..].to_vec())
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
    let m = run.model.config();
    // The second lead is read only for a model that uses it (a one-signal record then works
    // with any other model of a run prepared with the second lead).
    let cfg = &wonhee_dataset::PrepareConfig {
        second_lead: m.second_lead || m.lead2_context,
        ..run.info.dataset.prepare.clone()
    };
    let dir = record
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = record
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| TrainError::run(record, "not a record path"))?;
    let rw = wonhee_dataset::prepare_record(dir, &name, cfg, true)?;
    let classes = &run.info.dataset.classes;
    let mut out = Vec::with_capacity(rw.centre.len());
    let context =
        wonhee_dataset::window_context(&rw.signal, &rw.centre, f64::from(cfg.fs), cfg.window);
    let context2 = match &rw.signal2 {
        Some(s2) if run.model.config().lead2_context => Some(wonhee_dataset::window_context(
            s2,
            &rw.centre,
            f64::from(cfg.fs),
            cfg.window,
        )),
        _ => None,
    };
    let batch = batch.max(1);
    for (k, centres) in rw.centre.chunks(batch).enumerate() {
        let first = k * batch;
        let idx = first..first + centres.len();
        let signals = LeadSignals {
            first: &rw.signal,
            second: rw.signal2.as_deref(),
        };
        let found = classify_windows(
            run,
            signals,
            centres,
            &rw.sample[idx.clone()],
            &rw.rr[idx.clone()],
            &context[idx.clone()],
            context2.as_deref().map(|c| &c[idx.clone()]),
        )?;
        for (i, f) in idx.zip(found) {
            out.push(BeatPrediction {
                sample: rw.sample[i],
                symbol: wonhee_wfdb::code_symbol(rw.code[i])
                    .unwrap_or("?")
                    .to_string(),
                true_class: classes
                    .get(usize::from(rw.label[i]))
                    .cloned()
                    .unwrap_or_default(),
                pred_class: classes.get(f.class).cloned().unwrap_or_default(),
                probs: f.probs,
                padded: f.padded,
            });
        }
    }
    Ok(out)
}
