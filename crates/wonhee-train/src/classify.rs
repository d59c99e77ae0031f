//! Classifying the beats of any ECG lead (a CSV, an EDF file, a WFDB record at any rate) at
//! given positions (detected or annotated), the lead processed as the training data was
//! ([`wonhee_dataset::process_lead`]).

use std::path::Path;

use candle_core::{D, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use wonhee_dataset::{
    CONTEXT_FEATURES, RHYTHM_FEATURES, RrIntervals, TYPICAL_SHAPE, lead2_shape, process_lead,
    rr_intervals, scale_into, window_centre, window_context,
};

use crate::batch::check_rhythm_inputs;
use crate::error::{Result, TrainError};
use crate::run::Run;

/// The model's verdict on one beat.
#[derive(Clone, Debug, PartialEq)]
pub struct BeatClass {
    /// The beat's sample, at the input's rate.
    pub sample: i64,
    /// The most probable class (an index into the run's class names).
    pub class: usize,
    /// Probability of each class.
    pub probs: Vec<f32>,
    /// Whether the window reached past the signal's ends (edge samples repeated).
    pub padded: bool,
}

/// Classifies the beats at `beats` (samples of `x` at `fs` Hz, ascending) of lead `x`
/// (physical units, NaN where missing) with `run`'s model, `batch` windows per forward pass,
/// batches in parallel (the result does not depend on the number of threads). Every beat of
/// the recording should be given: the RR-interval features come from them.
/// `progress(done, total)` is called after each batch. `what` names the input in errors.
/// A model that reads a second lead (`second_lead` or `lead2_context`) takes it from `x2` (as
/// long as `x`, processed the same way); without one it reads a flat second lead (zeros) and
/// every beat as a typical beat there ([`TYPICAL_SHAPE`]), which it was not trained on: its
/// answers are then less reliable (the CLI warns).
#[allow(clippy::too_many_arguments)]
pub fn classify_beats(
    run: &Run,
    x: &[f32],
    x2: Option<&[f32]>,
    fs: f64,
    beats: &[i64],
    batch: usize,
    what: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<BeatClass>> {
    let cfg = &run.info.dataset.prepare;
    let lead = process_lead(x, fs, cfg, what)?;
    let mcfg = run.model.config();
    let lead2 = match x2 {
        Some(x2) if mcfg.second_lead || mcfg.lead2_context => {
            if x2.len() != x.len() {
                return Err(TrainError::run(
                    what,
                    format!(
                        "second lead has {} samples, the first {}",
                        x2.len(),
                        x.len()
                    ),
                ));
            }
            match process_lead(x2, fs, cfg, what) {
                Ok(l) => Some(l.signal),
                Err(e) => {
                    tracing::warn!(
                        "{}: the second lead cannot be used ({e}); classifying without it",
                        what.display()
                    );
                    None
                }
            }
        }
        _ => None,
    };
    let rr = rr_intervals(beats, fs);
    let centres: Vec<i64> = beats
        .iter()
        .map(|&s| window_centre(s, lead.up, lead.down))
        .collect();
    let context = window_context(&lead.signal, &centres, f64::from(cfg.fs), cfg.window);
    let context2 = match &lead2 {
        Some(s2) if mcfg.lead2_context => {
            Some(window_context(s2, &centres, f64::from(cfg.fs), cfg.window))
        }
        _ => None,
    };
    let batch = batch.max(1);
    let done = AtomicUsize::new(0);
    let parts: Vec<Vec<BeatClass>> = beats
        .par_chunks(batch)
        .zip(centres.par_chunks(batch))
        .zip(rr.par_chunks(batch))
        .zip(context.par_chunks(batch))
        .enumerate()
        .map(|(k, (((chunk, centres), rr), context))| {
            let signals = LeadSignals {
                first: &lead.signal,
                second: lead2.as_deref(),
            };
            let first = k * batch;
            let context2 = context2.as_deref().map(|c| &c[first..first + chunk.len()]);
            let out = classify_windows(run, signals, centres, chunk, rr, context, context2)?;
            let d = done.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
            progress(d, beats.len());
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(parts.into_iter().flatten().collect())
}

/// The processed leads a beat's windows are cut from.
#[derive(Clone, Copy)]
pub(crate) struct LeadSignals<'a> {
    /// The model's lead.
    pub first: &'a [f32],
    /// The second lead (as long as `first`), for a model that reads one; `None` reads zeros.
    pub second: Option<&'a [f32]>,
}

/// Window `[c - l/2, c + l/2)` of `signal`, edge samples repeated past its ends, into `out`;
/// whether it reached past them.
fn cut_window(signal: &[f32], c: i64, out: &mut [f32]) -> bool {
    let l = out.len() as i64;
    let n = signal.len() as i64;
    let start = c - l / 2;
    for (t, r) in out.iter_mut().enumerate() {
        *r = signal[(start + t as i64).clamp(0, n - 1) as usize];
    }
    start < 0 || start + l > n
}

/// One forward pass over the windows centred at `centres` of the processed leads `signals`
/// (edge samples repeated past their ends), for the beats at input samples `beats` with RR
/// intervals `rr` and context features `context` ([`window_context`]; `context2` in the
/// second lead, for a model with `lead2_context`: without it, each beat reads as a typical
/// beat there, [`TYPICAL_SHAPE`]).
pub(crate) fn classify_windows(
    run: &Run,
    signals: LeadSignals<'_>,
    centres: &[i64],
    beats: &[i64],
    rr: &[RrIntervals],
    context: &[[f32; CONTEXT_FEATURES]],
    context2: Option<&[[f32; CONTEXT_FEATURES]]>,
) -> Result<Vec<BeatClass>> {
    let cfg = &run.info.dataset.prepare;
    let l = cfg.window;
    let scaler = run.info.dataset.scaler;
    let dev = run.model.device().clone();
    let b = beats.len();
    let mut xs = vec![0f32; b * l];
    let mut raw = vec![0f32; l];
    let mut padded = Vec::with_capacity(b);
    for (j, &c) in centres.iter().enumerate() {
        padded.push(cut_window(signals.first, c, &mut raw));
        scale_into(&raw, &scaler, &mut xs[j * l..(j + 1) * l]);
    }
    let xt = Tensor::from_vec(xs, (b, l), &dev)?;
    let x2 = if run.model.config().second_lead {
        let mut x2 = vec![0f32; b * l];
        if let Some(s2) = signals.second {
            for (j, &c) in centres.iter().enumerate() {
                cut_window(s2, c, &mut x2[j * l..(j + 1) * l]);
            }
        }
        Some(Tensor::from_vec(x2, (b, l), &dev)?)
    } else {
        None
    };
    let mcfg = run.model.config();
    let width = mcfg.rhythm_inputs;
    let rt = if width > 0 {
        check_rhythm_inputs(mcfg)?;
        let mut r = Vec::with_capacity(b * mcfg.beat_inputs());
        for (j, (rr, c)) in rr.iter().zip(context).enumerate() {
            r.extend(rr.features());
            r.extend(&c[..width - RHYTHM_FEATURES]);
            if mcfg.lead2_context {
                match context2 {
                    Some(c2) => r.extend(lead2_shape(&c2[j])),
                    None => r.extend(TYPICAL_SHAPE),
                }
            }
        }
        Some(Tensor::from_vec(r, (b, mcfg.beat_inputs()), &dev)?)
    } else {
        None
    };
    let logits = run
        .model
        .forward_classify_leads(&xt, x2.as_ref(), rt.as_ref(), false)?;
    let probs = candle_nn::ops::softmax(&logits, D::Minus1)?.to_vec2::<f32>()?;
    Ok(beats
        .iter()
        .zip(probs)
        .zip(padded)
        .map(|((&s, p), pad)| {
            let class = p
                .iter()
                .enumerate()
                .fold(0, |bi, (c, &v)| if v > p[bi] { c } else { bi });
            BeatClass {
                sample: s,
                class,
                probs: p,
                padded: pad,
            }
        })
        .collect())
}
