//! The patient-specific protocol (`wonhee adapt`): the first minutes of each held-out record
//! are labelled and used to fine-tune the trained model for that patient; the rest of the
//! record is scored.
//!
//! This is the protocol of ANSI/AAMI EC57 for patient-adaptive classifiers, as Hu et al. 1997,
//! de Chazal & Reilly 2006 and Kiranyaz et al. 2016 use it: the beats of the first 5 minutes
//! of a test record (their reference labels included) may be used for that record; every beat
//! after them is scored. Its figures are not inter-patient figures (labels of the test
//! patients are used) and are reported apart from them.
//!
//! For each held-out record on its own: a copy of the run's weights is fine-tuned for a fixed
//! number of steps with all three tasks (so the model stays one model), each batch drawing a
//! share of its windows from the record's labelled beats (class-tempered as the run's sampler)
//! and the rest from the run's own training windows (replay, so the model does not forget the
//! other patients). The record's later beats are then classified by the adapted copy and by
//! the run's model unchanged, so the gain is measured on the same beats.

use candle_core::Device;
use serde::{Deserialize, Serialize};
use wonhee_dataset::{Dataset, SplitKind, WeightedSampler};
use wonhee_eval::{Bootstrap, ClassificationReport};
use wonhee_schema::{RunConfig, Schedule};

use crate::batch::BatchSource;
use crate::error::{Result, TrainError};
use crate::evaluate::{check_dataset, eval_side, predicted_classes, windows_report};
use crate::learner::Learner;
use crate::run::Run;
use crate::validate::train_val_split;

/// The largest fine-tuning batch accepted.
pub const MAX_BATCH: usize = 4096;

/// Salt of the per-record seeds.
const ADAPT_SALT: u64 = 0xADA7;

/// Settings of [`adapt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptOptions {
    /// Labelled minutes at the start of each record (5 in the literature).
    pub minutes: f64,
    /// Fine-tuning steps per record.
    pub steps: usize,
    /// Windows per fine-tuning batch.
    pub batch_size: usize,
    /// Constant learning rate of the fine-tuning.
    pub lr: f64,
    /// Share of each batch drawn from the run's training windows (replay), in `[0, 1)`; the
    /// rest comes from the record's labelled beats.
    pub replay: f64,
    /// Seed of the fine-tuning (each record's own stream is derived from it).
    pub seed: u64,
}

/// The defaults were chosen on DS1 record folds (`docs/benchmarks.md`): of 60 steps at lr 1e-4,
/// 60 at 3e-4 and 150 at 3e-4, the second gave the best pooled jκ (0.803).
impl Default for AdaptOptions {
    fn default() -> Self {
        Self {
            minutes: 5.0,
            steps: 60,
            batch_size: 64,
            lr: 3e-4,
            replay: 0.5,
            seed: 42,
        }
    }
}

impl AdaptOptions {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(format!("adapt: {m}")));
        if !(self.minutes.is_finite() && self.minutes > 0.0) {
            return bad("minutes must be positive");
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return bad(&format!("batch size must be 1 to {MAX_BATCH}"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("the learning rate must be positive");
        }
        if !(0.0..1.0).contains(&self.replay) {
            return bad("replay must be in [0, 1)");
        }
        Ok(())
    }

    /// Windows of each batch drawn from the record's labelled beats (at least one).
    fn own_windows(&self) -> usize {
        let own = (self.batch_size as f64 * (1.0 - self.replay)).round() as usize;
        own.clamp(1, self.batch_size)
    }
}

/// What adaptation did for one held-out record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordAdaptation {
    /// Record name.
    pub record: String,
    /// Labelled beats (in the first minutes) per class.
    pub labelled: Vec<usize>,
    /// Beats scored (after the first minutes).
    pub scored: usize,
    /// Scored beats the run's model classifies correctly.
    pub correct_before: usize,
    /// Scored beats the adapted model classifies correctly.
    pub correct_after: usize,
    /// Whether the model was fine-tuned (a record without labelled beats, or zero steps, keeps
    /// the run's).
    pub adapted: bool,
}

/// The outcome of [`adapt`].
#[derive(Clone, Debug)]
pub struct Adaptation {
    /// The run's model on the scored beats.
    pub before: ClassificationReport,
    /// The adapted models on the same beats.
    pub after: ClassificationReport,
    /// Per held-out record.
    pub records: Vec<RecordAdaptation>,
}

/// The labelled and scored windows of each record of `idx`: windows whose beat lies before
/// `minutes` from the record's start are labelled, the others scored. In record order.
fn split_by_time(
    ds: &Dataset,
    idx: &[usize],
    minutes: f64,
) -> Vec<(usize, Vec<usize>, Vec<usize>)> {
    let fs = f64::from(ds.summary().config.fs);
    let cutoff = minutes * 60.0 * fs;
    let mut out: Vec<(usize, Vec<usize>, Vec<usize>)> = Vec::new();
    for &i in idx {
        let r = usize::from(ds.window_records()[i]);
        if out.last().is_none_or(|(rec, _, _)| *rec != r) {
            out.push((r, Vec::new(), Vec::new()));
        }
        if let Some((_, labelled, scored)) = out.last_mut() {
            if (ds.centres()[i] as f64) < cutoff {
                labelled.push(i);
            } else {
                scored.push(i);
            }
        }
    }
    out
}

/// Runs the patient-specific protocol on the held-out side of `ds` (the run's test side or
/// held-out fold; the dataset must be split by record): each record is adapted on its first
/// `opts.minutes` and scored on the rest. `progress` gets (record, records done, records).
pub fn adapt(
    run: &Run,
    ds: &Dataset,
    opts: &AdaptOptions,
    boot: &Bootstrap,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Adaptation> {
    opts.validate()?;
    check_dataset(run, ds)?;
    if matches!(ds.summary().config.split, SplitKind::Paper { .. }) {
        return Err(TrainError::run(
            ds.dir(),
            "the patient-specific protocol needs held-out patients: prepare the dataset with a \
             record-level split (--split inter-patient or record-folds)",
        ));
    }
    let side = eval_side(run);
    let idx = ds.indices(side);
    let groups = split_by_time(ds, &idx, opts.minutes);
    let scored: Vec<usize> = groups.iter().flat_map(|g| g.2.iter().copied()).collect();
    if scored.is_empty() {
        return Err(TrainError::run(
            ds.dir(),
            format!(
                "no beats after the first {} minutes on the {} side",
                opts.minutes,
                side.name()
            ),
        ));
    }
    let scaler = run.info.dataset.scaler;
    let dev = run.model.device().clone();
    let l = ds.window_len();
    let mut x = vec![0f32; 256 * l];
    let before = predicted_classes(&run.model, ds, &scored, &scaler, &mut x, &|_| {})?;

    let (train_idx, _) = train_val_split(ds, &run.config);
    let n_classes = ds.class_names().len();
    let power = run.config.train.sampler.class_power();
    let labels = ds.labels();
    let mut after = Vec::with_capacity(scored.len());
    let mut records = Vec::with_capacity(groups.len());
    let mut offset = 0;
    for (done, (r, labelled, own_scored)) in groups.iter().enumerate() {
        let name = &ds.records()[*r];
        progress(name, done, groups.len());
        let seed = opts.seed ^ ADAPT_SALT.wrapping_mul(*r as u64 + 1);
        let predicted = if labelled.is_empty() || own_scored.is_empty() {
            before[offset..offset + own_scored.len()].to_vec()
        } else {
            let model = fine_tune(run, ds, &train_idx, labelled, opts, seed, power, &dev)?;
            predicted_classes(model.model(), ds, own_scored, &scaler, &mut x, &|_| {})?
        };
        let truth = |p: &[u8]| {
            own_scored
                .iter()
                .zip(p)
                .filter(|&(&i, &c)| labels[i] == c)
                .count()
        };
        let mut per_class = vec![0usize; n_classes];
        for &i in labelled {
            per_class[usize::from(labels[i])] += 1;
        }
        records.push(RecordAdaptation {
            record: name.clone(),
            labelled: per_class,
            scored: own_scored.len(),
            correct_before: truth(&before[offset..offset + own_scored.len()]),
            correct_after: truth(&predicted),
            adapted: opts.steps > 0 && !labelled.is_empty() && !own_scored.is_empty(),
        });
        after.extend(predicted);
        offset += own_scored.len();
    }
    progress("", groups.len(), groups.len());
    Ok(Adaptation {
        before: windows_report(ds, &scored, &before, true, boot)?,
        after: windows_report(ds, &scored, &after, true, boot)?,
        records,
    })
}

/// A copy of the run's model fine-tuned on one record's `labelled` windows mixed with the
/// run's training windows `train_idx`, with the run's own training settings (its loss, focal or
/// not, and its augmentations) except the seed, batch size and a constant learning rate.
#[allow(clippy::too_many_arguments)]
fn fine_tune(
    run: &Run,
    ds: &Dataset,
    train_idx: &[usize],
    labelled: &[usize],
    opts: &AdaptOptions,
    seed: u64,
    power: f64,
    dev: &Device,
) -> Result<Learner> {
    let mut cfg: RunConfig = run.config.clone();
    let t = &mut cfg.train;
    t.seed = seed;
    t.batch_size = opts.batch_size;
    t.lr = opts.lr;
    t.schedule = Schedule::Constant;
    t.warmup_steps = 0;
    let mut learner = Learner::from_weights(&cfg, &run.varmap, dev)?;
    let n_classes = ds.class_names().len();
    let no_sampler = || TrainError::Config("cannot build the fine-tuning sampler".into());
    let mut own =
        WeightedSampler::class_tempered(labelled.to_vec(), ds.labels(), n_classes, power, seed)
            .ok_or_else(no_sampler)?;
    let mut replay = WeightedSampler::class_tempered(
        train_idx.to_vec(),
        ds.labels(),
        n_classes,
        power,
        seed ^ 0x5A,
    )
    .ok_or_else(no_sampler)?;
    let mut source = BatchSource::new(ds, train_idx, &cfg)?;
    let n_own = opts.own_windows();
    let scaler = run.info.dataset.scaler;
    for step in 0..opts.steps {
        let mut idx = own.sample(n_own);
        idx.extend(replay.sample(opts.batch_size - n_own));
        let batch = source.batch_of(idx, ds, &scaler, &cfg, dev)?;
        learner.step(&batch, opts.lr, step + 1)?;
    }
    Ok(learner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(AdaptOptions::default().validate().is_ok());
        for bad in [
            AdaptOptions {
                minutes: 0.0,
                ..Default::default()
            },
            AdaptOptions {
                replay: 1.0,
                ..Default::default()
            },
            AdaptOptions {
                lr: f64::NAN,
                ..Default::default()
            },
            AdaptOptions {
                batch_size: 0,
                ..Default::default()
            },
            AdaptOptions {
                batch_size: MAX_BATCH + 1,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batches_keep_at_least_one_own_window() {
        let o = AdaptOptions {
            batch_size: 4,
            replay: 0.9,
            ..Default::default()
        };
        assert_eq!(o.own_windows(), 1);
        let o = AdaptOptions {
            batch_size: 64,
            replay: 0.5,
            ..Default::default()
        };
        assert_eq!(o.own_windows(), 32);
    }
}
