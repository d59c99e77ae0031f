//! Run configuration: a TOML file with a `[model]` table (the model's hyper-parameters, see
//! [`ModelConfig`]) and a `[train]` table ([`TrainConfig`]).

use std::path::Path;

use crate::error::{Result, SchemaError};
use crate::model::ModelConfig;
use serde::{Deserialize, Serialize};

/// How training batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Weighted random sampling with replacement, weights inversely proportional to class
    /// frequency (the paper's choice).
    #[default]
    Balanced,
    /// Each epoch a seeded permutation of the training windows.
    Shuffle,
    /// Weighted random sampling with weights `1 / sqrt(class count)`: rare classes are drawn
    /// more often than their share, but less than with `balanced` (fewer false positives).
    Sqrt,
}

impl SamplerKind {
    /// The class-weight exponent `p`: each training window is drawn with weight
    /// [`class_weight`]`(count, p)` of its class (1 balanced, 0.5 sqrt, 0 uniform).
    pub fn class_power(self) -> f64 {
        match self {
            Self::Balanced => 1.0,
            Self::Sqrt => 0.5,
            Self::Shuffle => 0.0,
        }
    }
}

/// The sampling weight of one window of a class with `count` windows under the class-weight
/// exponent `power` ([`SamplerKind::class_power`]): `count^-power`. A class then gets a share
/// of the draws proportional to `count * count^-power`.
pub fn class_weight(count: usize, power: f64) -> f64 {
    (count as f64).powf(-power)
}

/// Learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Constant `lr` after the warm-up (the paper).
    #[default]
    Constant,
    /// Cosine decay from `lr` to `min_lr` over the training steps after the warm-up.
    Cosine,
}

/// How the three task gradients are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Weighted sum of the task losses (the paper).
    #[default]
    Sum,
    /// PCGrad (Yu et al. 2020): each task's gradient is projected off the others' where they
    /// conflict (negative dot product), then the projections are summed.
    Pcgrad,
}

/// Training hyper-parameters (`[train]` in the run config). Every field has a default; unknown
/// fields are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Windows per batch (128).
    pub batch_size: usize,
    /// Epochs (3); an epoch is `ceil(training windows / batch_size)` steps. May be fractional.
    pub epochs: f64,
    /// Stop after this many steps instead (overrides `epochs` when set).
    pub max_steps: Option<usize>,
    /// Peak learning rate (3e-4).
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub min_lr: f64,
    /// Linear warm-up steps (0).
    pub warmup_steps: usize,
    /// Learning-rate schedule after the warm-up.
    pub schedule: Schedule,
    /// AdamW decoupled weight decay (0.01, PyTorch's default).
    pub weight_decay: f64,
    /// AdamW betas.
    pub betas: [f64; 2],
    /// AdamW epsilon.
    pub eps: f64,
    /// Clip the global gradient norm to this value (off when absent).
    pub grad_clip: Option<f64>,
    /// Weights of the classification, imputation and forecasting losses.
    pub task_weights: [f64; 3],
    /// How task gradients are combined.
    pub combine: Combine,
    /// Batch sampler.
    pub sampler: SamplerKind,
    /// Standard deviation of Gaussian noise added to the model's inputs (not to the targets);
    /// 0 turns it off.
    pub noise_std: f64,
    /// Amplitude augmentation: each training window (input and targets) is multiplied by
    /// `exp(u)`, `u` uniform in `[-augment_scale, augment_scale]`; 0 turns it off.
    pub augment_scale: f64,
    /// Baseline-wander augmentation: each training window gets a sinusoid added (input and
    /// targets) of amplitude uniform in `[0, augment_wander]` (standardized units), frequency
    /// uniform in 0.05-0.5 Hz and a random phase; 0 turns it off.
    pub augment_wander: f64,
    /// Time-warp augmentation: each training window (input and targets) is stretched about its
    /// centre by `exp(u)`, `u` uniform in `[-augment_warp, augment_warp]`, at most 0.2 (linear
    /// interpolation; points that fall outside the window take the nearest edge value); 0 turns
    /// it off. Left out of the written TOML when 0, as are `augment_shift` and `focal_gamma`,
    /// so configurations and checkpoints written before these options existed still match.
    #[serde(skip_serializing_if = "is_zero")]
    pub augment_warp: f64,
    /// Centre-jitter augmentation: each training window is shifted by a whole number of points
    /// uniform within `±augment_shift` seconds, at most 0.2 s so that the window stays on its
    /// labelled beat (edges as for the warp); 0 turns it off.
    #[serde(skip_serializing_if = "is_zero")]
    pub augment_shift: f64,
    /// Focal-loss exponent γ of the classification loss (Lin et al. 2017), at most 10: each
    /// window's cross-entropy is weighted by `(1 - p)^γ`, `p` the probability of its true
    /// class; 0 gives the plain cross-entropy.
    #[serde(skip_serializing_if = "is_zero")]
    pub focal_gamma: f64,
    /// Smallest number of hidden points for imputation and forecasting (200).
    pub mask_min: usize,
    /// Largest number of hidden points (540).
    pub mask_max: usize,
    /// Validate after this many steps of each epoch (50, the paper's schedule) and at the end
    /// of each epoch.
    pub val_first_steps: usize,
    /// Also validate every N steps.
    pub val_every: Option<usize>,
    /// Fraction of the training windows held out for validation (stratified by class).
    pub val_fraction: f64,
    /// At most this many validation windows (a seeded stratified subset), to keep validation fast.
    pub val_max: usize,
    /// Write a checkpoint every N steps (and always at the end).
    pub checkpoint_every: usize,
    /// Seed of every random choice of the run (initialisation, sampling, masks, noise, dropout).
    pub seed: u64,
    /// Record fold to hold out when the dataset has record folds.
    pub fold: Option<u8>,
}

/// `true` for exactly 0 (serde's `skip_serializing_if` for options that are off at 0).
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 128,
            epochs: 3.0,
            max_steps: None,
            lr: 3e-4,
            min_lr: 0.0,
            warmup_steps: 0,
            schedule: Schedule::Constant,
            weight_decay: 0.01,
            betas: [0.9, 0.999],
            eps: 1e-8,
            grad_clip: None,
            task_weights: [1.0, 1.0, 1.0],
            combine: Combine::Sum,
            sampler: SamplerKind::Balanced,
            noise_std: 0.0,
            augment_scale: 0.0,
            augment_wander: 0.0,
            augment_warp: 0.0,
            augment_shift: 0.0,
            focal_gamma: 0.0,
            mask_min: 200,
            mask_max: 540,
            val_first_steps: 50,
            val_every: None,
            val_fraction: 0.1,
            val_max: 4000,
            checkpoint_every: 200,
            seed: 42,
            fold: None,
        }
    }
}

/// A whole run configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The model.
    pub model: ModelConfig,
    /// Training.
    pub train: TrainConfig,
}

impl RunConfig {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self =
            toml::from_str(text).map_err(|e| SchemaError::RunConfig(format!("{origin}: {e}")))?;
        cfg.validate()
            .map_err(|e| SchemaError::RunConfig(format!("{origin}: {e}")))?;
        Ok(cfg)
    }

    /// Reads a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| SchemaError::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// TOML text of this configuration.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| SchemaError::RunConfig(e.to_string()))
    }

    /// Checks the values (the model's own checks included).
    pub fn validate(&self) -> Result<()> {
        self.model
            .validate()
            .map_err(|e| SchemaError::RunConfig(e.to_string()))?;
        let t = &self.train;
        let bad = |m: String| Err(SchemaError::RunConfig(m));
        if t.batch_size == 0 {
            return bad("train.batch_size must be at least 1".into());
        }
        if !(t.epochs.is_finite() && t.epochs > 0.0) && t.max_steps.is_none() {
            return bad(format!("train.epochs must be positive (got {})", t.epochs));
        }
        if !(t.lr.is_finite() && t.lr > 0.0 && t.min_lr.is_finite() && t.min_lr >= 0.0) {
            return bad("train.lr must be positive and train.min_lr non-negative".into());
        }
        if t.betas.iter().any(|b| !(0.0..1.0).contains(b)) || t.eps.is_nan() || t.eps <= 0.0 {
            return bad("train.betas must be in [0, 1) and train.eps positive".into());
        }
        if !(0.0..=1.0).contains(&t.augment_scale) || !(0.0..=10.0).contains(&t.augment_wander) {
            return bad(
                "train.augment_scale must be in [0, 1] and train.augment_wander in [0, 10]".into(),
            );
        }
        if !(0.0..=0.2).contains(&t.augment_warp) || !(0.0..=0.2).contains(&t.augment_shift) {
            return bad(format!(
                "train.augment_warp must be in [0, 0.2] and train.augment_shift in [0, 0.2] s \
                 (got {} and {})",
                t.augment_warp, t.augment_shift
            ));
        }
        if !(0.0..=10.0).contains(&t.focal_gamma) {
            return bad(format!(
                "train.focal_gamma must be in [0, 10] (got {})",
                t.focal_gamma
            ));
        }
        if t.weight_decay < 0.0
            || t.noise_std < 0.0
            || t.task_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
        {
            return bad(
                "train.weight_decay, train.noise_std and train.task_weights must be non-negative"
                    .into(),
            );
        }
        if t.grad_clip.is_some_and(|c| c.is_nan() || c <= 0.0) {
            return bad("train.grad_clip must be positive".into());
        }
        let l = self.model.seq_len;
        if t.mask_min == 0 || t.mask_min > t.mask_max || t.mask_max >= l {
            return bad(format!(
                "train.mask_min..=mask_max must be within 1..{l} (got {}..={})",
                t.mask_min, t.mask_max
            ));
        }
        if !(0.0..0.9).contains(&t.val_fraction) {
            return bad("train.val_fraction must be in [0, 0.9)".into());
        }
        if t.checkpoint_every == 0 {
            return bad("train.checkpoint_every must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper() {
        let c = RunConfig::default();
        assert_eq!(
            (c.train.batch_size, c.train.epochs, c.train.lr),
            (128, 3.0, 3e-4)
        );
        assert_eq!(
            (c.model.patch, c.model.d_model, c.model.n_layers),
            (1, 128, 4)
        );
        let back = RunConfig::from_toml_str(&c.to_toml_string().unwrap(), "t").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn errors_name_the_source() {
        let e = RunConfig::from_toml_str("[train]\nbatch_size = 0\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("batch_size"), "{e}");
        let e = RunConfig::from_toml_str("[train]\nbogus = 1\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = RunConfig::from_toml_str("[train]\nmask_max = 700\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mask"), "{e}");
    }

    #[test]
    fn augmentation_and_focal_options_are_checked_and_left_out_when_off() {
        for (key, bad) in [
            ("augment_warp", "0.3"),
            ("augment_warp", "-0.1"),
            ("augment_warp", "nan"),
            ("augment_shift", "0.25"),
            ("focal_gamma", "-1.0"),
            ("focal_gamma", "11.0"),
            ("focal_gamma", "nan"),
        ] {
            let e = RunConfig::from_toml_str(&format!("[train]\n{key} = {bad}\n"), "x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("x.toml") && e.contains(key),
                "{key} = {bad}: {e}"
            );
        }
        let on = RunConfig::from_toml_str(
            "[train]\naugment_warp = 0.1\naugment_shift = 0.05\nfocal_gamma = 2.0\n",
            "x.toml",
        )
        .unwrap();
        let text = on.to_toml_string().unwrap();
        assert!(text.contains("focal_gamma = 2.0") && text.contains("augment_warp = 0.1"));
        assert_eq!(RunConfig::from_toml_str(&text, "t").unwrap(), on);
        // Off (0), the three keys are not written: a config written before they existed
        // serializes, and so hashes, as it did.
        let text = RunConfig::default().to_toml_string().unwrap();
        for key in ["augment_warp", "augment_shift", "focal_gamma"] {
            assert!(!text.contains(key), "{text}");
        }
    }
}
