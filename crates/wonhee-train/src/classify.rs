//! Classifying the beats of any ECG lead (a CSV, an EDF file, a WFDB record at any rate) at
//! given positions (detected or annotated), the lead processed as the training data was
//! ([`wonhee_dataset::process_lead`]).

use std::path::Path;

use candle_core::{D, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use wonhee_dataset::{
    CONTEXT_FEATURES, RHYTHM_FEATURES, RrIntervals, process_lead, rr_intervals, scale_into,
    window_centre, window_context,
};

use crate::batch::check_rhythm_inputs;
use crate::error::Result;
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
pub fn classify_beats(
    run: &Run,
    x: &[f32],
    fs: f64,
    beats: &[i64],
    batch: usize,
    what: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<BeatClass>> {
    let cfg = &run.info.dataset.prepare;
    let lead = process_lead(x, fs, cfg, what)?;
    let rr = rr_intervals(beats, fs);
    let centres: Vec<i64> = beats
        .iter()
        .map(|&s| window_centre(s, lead.up, lead.down))
        .collect();
    let context = window_context(&lead.signal, &centres, f64::from(cfg.fs), cfg.window);
    let batch = batch.max(1);
    let done = AtomicUsize::new(0);
    let parts: Vec<Vec<BeatClass>> = beats
        .par_chunks(batch)
        .zip(centres.par_chunks(batch))
        .zip(rr.par_chunks(batch))
        .zip(context.par_chunks(batch))
        .map(|(((chunk, centres), rr), context)| {
            let out = classify_windows(run, &lead.signal, centres, chunk, rr, context)?;
            let d = done.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
            progress(d, beats.len());
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(parts.into_iter().flatten().collect())
}

/// One forward pass over the windows centred at `centres` of the processed lead `signal`
/// (edge samples repeated past its ends), for the beats at input samples `beats` with RR
/// intervals `rr` and context features `context` ([`window_context`]).
pub(crate) fn classify_windows(
    run: &Run,
    signal: &[f32],
    centres: &[i64],
    beats: &[i64],
    rr: &[RrIntervals],
    context: &[[f32; CONTEXT_FEATURES]],
) -> Result<Vec<BeatClass>> {
    let cfg = &run.info.dataset.prepare;
    let l = cfg.window;
    let half = (l / 2) as i64;
    let n = signal.len() as i64;
    let scaler = run.info.dataset.scaler;
    let dev = run.model.device().clone();
    let b = beats.len();
    let mut xs = vec![0f32; b * l];
    let mut raw = vec![0f32; l];
    let mut padded = Vec::with_capacity(b);
    for (j, &c) in centres.iter().enumerate() {
        let start = c - half;
        for (t, r) in raw.iter_mut().enumerate() {
            *r = signal[(start + t as i64).clamp(0, n - 1) as usize];
        }
        padded.push(start < 0 || start + l as i64 > n);
        scale_into(&raw, &scaler, &mut xs[j * l..(j + 1) * l]);
    }
    let xt = Tensor::from_vec(xs, (b, l), &dev)?;
    let width = run.model.config().rhythm_inputs;
    let rt = if width > 0 {
        check_rhythm_inputs(run.model.config())?;
        let mut r = Vec::with_capacity(b * width);
        for (rr, c) in rr.iter().zip(context) {
            r.extend(rr.features());
            r.extend(&c[..width - RHYTHM_FEATURES]);
        }
        Some(Tensor::from_vec(r, (b, width), &dev)?)
    } else {
        None
    };
    let logits = run.model.forward_classify_with(&xt, rt.as_ref(), false)?;
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
