//! Training batches: which windows (the class-weighted sampler or a shuffle), their values
//! (train-set scaled, optional input noise) and the hidden points of the two regression tasks.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use wonhee_dataset::{
    BEAT_FEATURE_WIDTHS, Dataset, RHYTHM_FEATURES, RngState, Shuffler, WeightedSampler,
};
use wonhee_eval::{draw_k, random_mask, trailing_mask};
use wonhee_model::ModelConfig;
use wonhee_schema::{RunConfig, SamplerKind, TrainConfig};
use wonhee_signal::Scaler;

use crate::error::{Result, TrainError};

/// A seeded random stream of a run: `seed` mixed with a per-purpose `salt`.
pub(crate) fn stream(seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// [`stream`] moved to `word_pos` (a position saved in a checkpoint).
pub(crate) fn stream_at(seed: u64, salt: u64, word_pos: u128) -> ChaCha8Rng {
    let mut r = stream(seed, salt);
    r.set_word_pos(word_pos);
    r
}

/// Salts of the run's streams (kept: checkpoints store positions in these streams).
pub(crate) const MASKS_SALT: u64 = 1;
pub(crate) const NOISE_SALT: u64 = 2;
pub(crate) const PCGRAD_SALT: u64 = 3;
pub(crate) const AUGMENT_SALT: u64 = 4;

/// One training batch, on the model's device.
pub struct Batch {
    /// The windows' dataset indices.
    pub idx: Vec<usize>,
    /// Target windows `[b, l]` (train-set scaled).
    pub x: Tensor,
    /// Model inputs `[b, l]`: `x`, plus input noise when the run adds it.
    pub x_in: Tensor,
    /// Rhythm features `[b, rhythm_inputs]`, when the model reads them.
    pub rhythm: Option<Tensor>,
    /// The second lead's windows `[b, l]` (per-record standardized), when the model reads
    /// one (`model.second_lead`); the classification pass alone reads it.
    pub lead2: Option<Tensor>,
    /// Class labels `[b]`.
    pub labels: Tensor,
    /// Imputation's hidden points `[b, l]` (1 = hidden).
    pub imp_mask: Tensor,
    /// Forecasting's hidden points `[b, l]` (a trailing block).
    pub fc_mask: Tensor,
}

impl Batch {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.idx.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }

    /// A batch of `b` seeded random windows of the configured shape (standard normal values,
    /// labels cycling through the classes, K points hidden with K the middle of the run's
    /// range), for benchmarks of the training step without a dataset.
    pub fn synthetic(cfg: &RunConfig, b: usize, dev: &Device, seed: u64) -> Result<Self> {
        let l = cfg.model.seq_len;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = || gaussian(&mut rng, 1.0) as f32;
        let x: Vec<f32> = (0..b * l).map(|_| normal()).collect();
        let rhythm: Vec<f32> = (0..b * cfg.model.beat_inputs())
            .map(|_| 0.2 * normal())
            .collect();
        let k = (cfg.train.mask_min + cfg.train.mask_max) / 2;
        let mut imp = Vec::with_capacity(b * l);
        let mut mrng = ChaCha8Rng::seed_from_u64(seed ^ 1);
        for _ in 0..b {
            imp.extend(random_mask(l, k, &mut mrng)?.into_iter().map(hidden_value));
        }
        let fc: Vec<f32> = (0..b)
            .flat_map(|_| (0..l).map(|i| hidden_value(i >= l - k)))
            .collect();
        let labels: Vec<u32> = (0..b as u32)
            .map(|i| i % cfg.model.n_classes as u32)
            .collect();
        let lead2 = if cfg.model.second_lead {
            let v: Vec<f32> = (0..b * l).map(|_| normal()).collect();
            Some(Tensor::from_vec(v, (b, l), dev)?)
        } else {
            None
        };
        let x = Tensor::from_vec(x, (b, l), dev)?;
        Ok(Self {
            lead2,
            idx: (0..b).collect(),
            x_in: x.clone(),
            x,
            rhythm: match cfg.model.beat_inputs() {
                0 => None,
                n => Some(Tensor::from_vec(rhythm, (b, n), dev)?),
            },
            labels: Tensor::from_vec(labels, b, dev)?,
            imp_mask: Tensor::from_vec(imp, (b, l), dev)?,
            fc_mask: Tensor::from_vec(fc, (b, l), dev)?,
        })
    }
}

fn hidden_value(h: bool) -> f32 {
    f32::from(u8::from(h))
}

/// The beat features `[b, beat_inputs]` of windows `idx` when the model reads them
/// (`model.rhythm_inputs > 0`: the rhythm features, then as many context features as it
/// reads, [`BEAT_FEATURE_WIDTHS`], then the second lead's shape features with
/// `lead2_context`), else `None`.
pub fn rhythm_batch(
    model: &ModelConfig,
    ds: &Dataset,
    idx: &[usize],
    dev: &Device,
) -> Result<Option<Tensor>> {
    let n = model.beat_inputs();
    if n == 0 {
        return Ok(None);
    }
    let mut r = vec![0f32; idx.len() * n];
    ds.fill_beat_inputs(idx, model.rhythm_inputs, model.lead2_context, &mut r)?;
    Ok(Some(Tensor::from_vec(r, (idx.len(), n), dev)?))
}

/// The second lead's windows `[b, l]` of windows `idx` when the model reads one
/// (`model.second_lead`), else `None`.
pub fn lead2_batch(
    model: &ModelConfig,
    ds: &Dataset,
    idx: &[usize],
    dev: &Device,
) -> Result<Option<Tensor>> {
    if !model.second_lead {
        return Ok(None);
    }
    let l = ds.window_len();
    let mut x2 = vec![0f32; idx.len() * l];
    ds.fill_batch2(idx, &mut x2)?;
    Ok(Some(Tensor::from_vec(x2, (idx.len(), l), dev)?))
}

/// Checks that the model's beat inputs (rhythm features, second lead) are ones the dataset
/// gives.
pub(crate) fn check_beat_inputs(model: &ModelConfig, ds: &Dataset) -> Result<()> {
    check_rhythm_inputs(model)?;
    if model.rhythm_inputs > 0 {
        ds.rr()?;
    }
    if (model.second_lead || model.lead2_context) && !ds.has_second_lead() {
        return Err(TrainError::Config(format!(
            "the model reads a second lead (model.second_lead or lead2_context), but the \
             dataset {} has none: prepare it with `wonhee prepare --second-lead`",
            ds.dir().display()
        )));
    }
    Ok(())
}

/// Checks that the model reads a number of beat features this build gives (0 or one of
/// [`BEAT_FEATURE_WIDTHS`]).
pub(crate) fn check_rhythm_inputs(model: &ModelConfig) -> Result<()> {
    let n = model.rhythm_inputs;
    if n == 0 || BEAT_FEATURE_WIDTHS.contains(&n) {
        return Ok(());
    }
    Err(TrainError::Config(format!(
        "model.rhythm_inputs is {n}; a model reads {BEAT_FEATURE_WIDTHS:?} beat features \
         ({RHYTHM_FEATURES} rhythm features, then the context features), or 0 for none"
    )))
}

/// Where the batch source stands, for checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SourceState {
    pub sampler: RngState,
    /// Shuffle sampler: its state before the current epoch's permutation, and the position in it.
    pub shuffler_epoch_start: Option<RngState>,
    pub shuffle_pos: usize,
    pub masks_pos: u128,
    pub noise_pos: u128,
    pub augment_pos: u128,
}

/// Draws the training batches of a run: window indices, then masks and noise, each from its
/// own seeded stream.
pub(crate) struct BatchSource {
    kind: SamplerKind,
    batch_size: usize,
    sampler: WeightedSampler,
    shuffler: Shuffler,
    order: Vec<usize>,
    shuffle_pos: usize,
    shuffler_epoch_start: Option<RngState>,
    seed: u64,
    masks: ChaCha8Rng,
    noise: ChaCha8Rng,
    augment: ChaCha8Rng,
}

impl BatchSource {
    /// The source of a fresh run over the training windows `train_idx`.
    pub fn new(ds: &Dataset, train_idx: &[usize], cfg: &RunConfig) -> Result<Self> {
        let t = &cfg.train;
        let sampler = WeightedSampler::class_tempered(
            train_idx.to_vec(),
            ds.labels(),
            ds.class_names().len(),
            t.sampler.class_power(),
            t.seed ^ 0x5A,
        )
        .ok_or_else(|| {
            TrainError::Config(
                "cannot build the class-balanced sampler (no training windows?)".into(),
            )
        })?;
        Ok(Self {
            kind: t.sampler,
            batch_size: t.batch_size,
            sampler,
            shuffler: Shuffler::new(train_idx.to_vec(), t.seed ^ 0x5B),
            order: Vec::new(),
            shuffle_pos: 0,
            shuffler_epoch_start: None,
            seed: t.seed,
            masks: stream(t.seed, MASKS_SALT),
            noise: stream(t.seed, NOISE_SALT),
            augment: stream(t.seed, AUGMENT_SALT),
        })
    }

    /// Where the source stands.
    pub fn state(&self) -> SourceState {
        SourceState {
            sampler: self.sampler.state(),
            shuffler_epoch_start: self.shuffler_epoch_start,
            shuffle_pos: self.shuffle_pos,
            masks_pos: self.masks.get_word_pos(),
            noise_pos: self.noise.get_word_pos(),
            augment_pos: self.augment.get_word_pos(),
        }
    }

    /// Moves the source to a saved state.
    pub fn restore(&mut self, s: &SourceState) {
        self.sampler.set_state(s.sampler);
        if let Some(start) = s.shuffler_epoch_start {
            self.shuffler.set_state(start);
            self.order = self.shuffler.epoch();
            self.shuffler_epoch_start = Some(start);
        }
        self.shuffle_pos = s.shuffle_pos;
        self.masks = stream_at(self.seed, MASKS_SALT, s.masks_pos);
        self.noise = stream_at(self.seed, NOISE_SALT, s.noise_pos);
        self.augment = stream_at(self.seed, AUGMENT_SALT, s.augment_pos);
    }

    /// The next batch's window indices.
    fn next_indices(&mut self) -> Vec<usize> {
        match self.kind {
            SamplerKind::Balanced | SamplerKind::Sqrt => self.sampler.sample(self.batch_size),
            SamplerKind::Shuffle => {
                if self.shuffle_pos >= self.order.len() {
                    self.shuffler_epoch_start = Some(self.shuffler.state());
                    self.order = self.shuffler.epoch();
                    self.shuffle_pos = 0;
                }
                let end = (self.shuffle_pos + self.batch_size).min(self.order.len());
                let v = self.order[self.shuffle_pos..end].to_vec();
                self.shuffle_pos = end;
                v
            }
        }
    }

    /// The next batch, on `dev`.
    pub fn next(
        &mut self,
        ds: &Dataset,
        scaler: &Scaler,
        cfg: &RunConfig,
        dev: &Device,
    ) -> Result<Batch> {
        let idx = self.next_indices();
        self.batch_of(idx, ds, scaler, cfg, dev)
    }

    /// The batch of windows `idx` (chosen elsewhere), with masks and noise drawn from this
    /// source's streams, on `dev`.
    pub fn batch_of(
        &mut self,
        idx: Vec<usize>,
        ds: &Dataset,
        scaler: &Scaler,
        cfg: &RunConfig,
        dev: &Device,
    ) -> Result<Batch> {
        let (l, b, t) = (ds.window_len(), idx.len(), &cfg.train);
        let mut x = vec![0f32; b * l];
        ds.fill_batch(&idx, scaler, &mut x)?;
        let mut x2 = if cfg.model.second_lead {
            let mut x2 = vec![0f32; b * l];
            ds.fill_batch2(&idx, &mut x2)?;
            Some(x2)
        } else {
            None
        };
        let fs = f64::from(ds.summary().config.fs);
        self.augment_windows(&mut x, x2.as_deref_mut(), l, fs, t);
        let mut imp = Vec::with_capacity(b * l);
        let mut fc = Vec::with_capacity(b * l);
        for _ in 0..b {
            let k = draw_k(t.mask_min, t.mask_max, &mut self.masks);
            imp.extend(
                random_mask(l, k, &mut self.masks)?
                    .into_iter()
                    .map(hidden_value),
            );
            let k = draw_k(t.mask_min, t.mask_max, &mut self.masks);
            fc.extend(trailing_mask(l, k)?.into_iter().map(hidden_value));
        }
        let x_in = self.noisy(&x, t.noise_std);
        let labels: Vec<u32> = idx.iter().map(|&i| u32::from(ds.labels()[i])).collect();
        Ok(Batch {
            x: Tensor::from_vec(x, (b, l), dev)?,
            x_in: Tensor::from_vec(x_in, (b, l), dev)?,
            rhythm: rhythm_batch(&cfg.model, ds, &idx, dev)?,
            lead2: x2.map(|v| Tensor::from_vec(v, (b, l), dev)).transpose()?,
            labels: Tensor::from_vec(labels, b, dev)?,
            imp_mask: Tensor::from_vec(imp, (b, l), dev)?,
            fc_mask: Tensor::from_vec(fc, (b, l), dev)?,
            idx,
        })
    }

    /// The window augmentations of [`TrainConfig`] applied to each window of `x` (`l` points at
    /// `fs` Hz), drawn from the augmentation stream: first the time warp and centre shift
    /// (`augment_warp`, `augment_shift`), then amplitude scaling and baseline wander
    /// (`augment_scale`, `augment_wander`). Nothing is drawn for an augmentation that is off,
    /// so a configuration that leaves the warp and shift off draws exactly as before they
    /// existed. The second lead's windows `x2`, when given, get the same warp and shift as
    /// their first-lead windows, and no amplitude change (nor, in [`BatchSource::batch_of`],
    /// input noise).
    fn augment_windows(
        &mut self,
        x: &mut [f32],
        mut x2: Option<&mut [f32]>,
        l: usize,
        fs: f64,
        t: &TrainConfig,
    ) {
        if l == 0 {
            return;
        }
        if t.augment_warp > 0.0 || t.augment_shift > 0.0 {
            let max_shift = (t.augment_shift * fs).floor() as i64;
            let mut src = vec![0f32; l];
            for (k, win) in x.chunks_mut(l).enumerate() {
                let stretch = if t.augment_warp > 0.0 {
                    let w = t.augment_warp;
                    self.augment.random_range(-w..=w).exp()
                } else {
                    1.0
                };
                let shift = if t.augment_shift > 0.0 {
                    self.augment.random_range(-max_shift..=max_shift) as f64
                } else {
                    0.0
                };
                src.copy_from_slice(win);
                warp_window(&src, win, stretch, shift);
                if let Some(win2) = x2
                    .as_deref_mut()
                    .and_then(|v| v.get_mut(k * l..(k + 1) * l))
                {
                    src.copy_from_slice(win2);
                    warp_window(&src, win2, stretch, shift);
                }
            }
        }
        let (a, w) = (t.augment_scale, t.augment_wander);
        if a <= 0.0 && w <= 0.0 {
            return;
        }
        for win in x.chunks_mut(l) {
            let scale = if a > 0.0 {
                self.augment.random_range(-a..=a).exp()
            } else {
                1.0
            };
            let (amp, freq, phase) = if w > 0.0 {
                (
                    self.augment.random_range(0.0..=w),
                    self.augment.random_range(0.05..=0.5),
                    self.augment.random_range(0.0..std::f64::consts::TAU),
                )
            } else {
                (0.0, 0.0, 0.0)
            };
            let step = std::f64::consts::TAU * freq / fs;
            for (j, v) in win.iter_mut().enumerate() {
                let wander = amp * (step * j as f64 + phase).sin();
                *v = (f64::from(*v) * scale + wander) as f32;
            }
        }
    }

    /// `x` plus Gaussian noise of standard deviation `s` from the noise stream (Box-Muller);
    /// `x` itself when `s` is 0.
    fn noisy(&mut self, x: &[f32], s: f64) -> Vec<f32> {
        if s <= 0.0 {
            return x.to_vec();
        }
        x.iter()
            .map(|&v| v + gaussian(&mut self.noise, s) as f32)
            .collect()
    }
}

/// `out[i] = src(c + (i - c) / stretch - shift)`, `c` the window's centre: `src` stretched
/// about its centre by `stretch` (> 1 magnifies: the beat looks wider and a shorter stretch of
/// time is shown; < 1 squeezes) and moved right by `shift` points,
/// read by linear interpolation; positions outside the window take the nearest edge value.
fn warp_window(src: &[f32], out: &mut [f32], stretch: f64, shift: f64) {
    let n = src.len();
    let last = (n - 1) as f64;
    let c = last / 2.0;
    for (i, o) in out.iter_mut().enumerate() {
        let pos = (c + (i as f64 - c) / stretch - shift).clamp(0.0, last);
        let j = (pos.floor() as usize).min(n - 1);
        let frac = pos - j as f64;
        let a = f64::from(src[j]);
        let b = f64::from(src[(j + 1).min(n - 1)]);
        *o = (a + (b - a) * frac) as f32;
    }
}

/// One draw of a centred Gaussian of standard deviation `s` (Box-Muller, two uniforms).
fn gaussian(rng: &mut ChaCha8Rng, s: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    s * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(cfg: &RunConfig) -> BatchSource {
        let labels = [0u8, 1, 0, 1];
        BatchSource {
            kind: SamplerKind::Shuffle,
            batch_size: 2,
            sampler: WeightedSampler::class_balanced(vec![0, 1, 2, 3], &labels, 2, 0)
                .expect("sampler"),
            shuffler: Shuffler::new(vec![0, 1, 2, 3], 0),
            order: Vec::new(),
            shuffle_pos: 0,
            shuffler_epoch_start: None,
            seed: cfg.train.seed,
            masks: stream(cfg.train.seed, MASKS_SALT),
            noise: stream(cfg.train.seed, NOISE_SALT),
            augment: stream(cfg.train.seed, AUGMENT_SALT),
        }
    }

    #[test]
    fn augmentation_off_changes_nothing_and_draws_nothing() {
        let cfg = RunConfig::default();
        let mut s = source(&cfg);
        let x0: Vec<f32> = (0..20).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut x = x0.clone();
        s.augment_windows(&mut x, None, 10, 128.0, &cfg.train);
        assert_eq!(x, x0);
        assert_eq!(s.augment.get_word_pos(), 0);
    }

    #[test]
    fn the_second_lead_gets_the_same_warp_and_shift_and_no_scaling() {
        let mut cfg = RunConfig::default();
        cfg.train.augment_warp = 0.15;
        cfg.train.augment_shift = 0.1;
        cfg.train.augment_scale = 0.3;
        let l = 64;
        let x0: Vec<f32> = (0..3 * l).map(|i| (i as f32 * 0.21).sin()).collect();
        // The second lead is the first, negated: warped alike, it stays the negation of the
        // first lead before its scaling.
        let x20: Vec<f32> = x0.iter().map(|v| -v).collect();
        let (mut x, mut x2) = (x0.clone(), x20.clone());
        source(&cfg).augment_windows(&mut x, Some(&mut x2), l, 128.0, &cfg.train);
        let mut warp_only = cfg.clone();
        warp_only.train.augment_scale = 0.0;
        let mut w = x0.clone();
        source(&warp_only).augment_windows(&mut w, None, l, 128.0, &warp_only.train);
        assert_ne!(w, x0, "nothing was warped");
        for (a, b) in x2.iter().zip(&w) {
            assert_eq!(*a, -*b);
        }
        // The same draws as without a second lead.
        let mut alone = x0.clone();
        source(&cfg).augment_windows(&mut alone, None, l, 128.0, &cfg.train);
        assert_eq!(alone, x);
    }

    #[test]
    fn scaling_is_one_factor_per_window_within_its_range() {
        let mut cfg = RunConfig::default();
        cfg.train.augment_scale = 0.3;
        let mut s = source(&cfg);
        let x0: Vec<f32> = (1..=40).map(|i| i as f32).collect();
        let mut x = x0.clone();
        s.augment_windows(&mut x, None, 10, 128.0, &cfg.train);
        let mut factors = Vec::new();
        for (w, w0) in x.chunks(10).zip(x0.chunks(10)) {
            let f = f64::from(w[0]) / f64::from(w0[0]);
            assert!(((-0.3f64).exp()..=0.3f64.exp()).contains(&f), "{f}");
            for (v, v0) in w.iter().zip(w0) {
                assert!((f64::from(*v) / f64::from(*v0) - f).abs() < 1e-5);
            }
            factors.push(f);
        }
        assert!(factors.windows(2).any(|p| p[0] != p[1]), "{factors:?}");
    }

    #[test]
    fn wander_is_a_slow_bounded_sinusoid() {
        let mut cfg = RunConfig::default();
        cfg.train.augment_wander = 0.5;
        let mut s = source(&cfg);
        let l = 640;
        let mut x = vec![0f32; 3 * l];
        s.augment_windows(&mut x, None, l, 128.0, &cfg.train);
        for w in x.chunks(l) {
            assert!(w.iter().all(|v| v.abs() <= 0.5 + 1e-6));
            // At most 0.5 Hz: a step between points of at most 2*pi*0.5/128 * amplitude.
            let max_step = w
                .windows(2)
                .map(|p| (p[1] - p[0]).abs())
                .fold(0f32, f32::max);
            assert!(max_step <= (std::f32::consts::TAU * 0.5 / 128.0) * 0.5 + 1e-6);
        }
        assert!(x.iter().any(|v| *v != 0.0));
    }

    #[test]
    fn warp_and_shift_move_points_as_stated() {
        let src: Vec<f32> = (0..11).map(|i| i as f32).collect();
        let mut out = vec![0f32; 11];
        warp_window(&src, &mut out, 1.0, 0.0);
        assert_eq!(out, src);
        // Shifted right by 2: out[i] = src[i - 2], the left edge held.
        warp_window(&src, &mut out, 1.0, 2.0);
        assert_eq!(out, [0., 0., 0., 1., 2., 3., 4., 5., 6., 7., 8.]);
        // Stretched by 2 about the centre (5): out[i] = 5 + (i - 5) / 2.
        warp_window(&src, &mut out, 2.0, 0.0);
        for (i, v) in out.iter().enumerate() {
            assert!(
                (f64::from(*v) - (5.0 + (i as f64 - 5.0) / 2.0)).abs() < 1e-6,
                "{out:?}"
            );
        }
        // Squeezed by 2: the edges run out of window and hold their values.
        warp_window(&src, &mut out, 0.5, 0.0);
        assert_eq!(out, [0., 0., 0., 1., 3., 5., 7., 9., 10., 10., 10.]);
    }

    #[test]
    fn warp_and_shift_stay_within_their_ranges() {
        let mut cfg = RunConfig::default();
        cfg.train.augment_warp = 0.1;
        cfg.train.augment_shift = 0.05;
        let mut s = source(&cfg);
        let l = 641;
        // A ramp: the warped value at the centre tells the shift, the slope the stretch.
        let x0: Vec<f32> = (0..l).map(|i| i as f32).collect();
        let mut x: Vec<f32> = x0.iter().cycle().take(8 * l).copied().collect();
        s.augment_windows(&mut x, None, l, 128.0, &cfg.train);
        let (mut shifts, mut stretches) = (Vec::new(), Vec::new());
        for w in x.chunks(l) {
            let shift = 320.0 - f64::from(w[320]);
            assert!(shift.abs() <= 6.0 && shift.fract() == 0.0, "{shift}");
            let slope = f64::from(w[330] - w[310]) / 20.0;
            assert!(
                (0.1f64.exp().recip() - 1e-4..=(-0.1f64).exp().recip() + 1e-4).contains(&slope)
            );
            shifts.push(shift);
            stretches.push(slope);
        }
        assert!(stretches.windows(2).any(|p| p[0] != p[1]), "{stretches:?}");
        assert!(shifts.windows(2).any(|p| p[0] != p[1]), "{shifts:?}");
    }
}
