//! Helpers shared by the model tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_nn::VarMap;
use wonhee_model::{FfnKind, ModelConfig, WonHee, init_varmap};

/// A tiny config (fast in the test profile) with patch `patch` and the given FFN.
pub fn tiny(patch: usize, ffn: FfnKind) -> ModelConfig {
    ModelConfig {
        seq_len: 24,
        patch,
        d_model: 16,
        n_heads: 2,
        n_layers: 2,
        head_layers: 1,
        ffn,
        ffn_mult: 2,
        n_experts: 3,
        slots_per_expert: 2,
        n_classes: 5,
        dropout: 0.2,
        attn_dropout: 0.2,
        norm_eps: 1e-5,
        ..Default::default()
    }
}

pub fn build(cfg: &ModelConfig, seed: u64) -> (WonHee, VarMap) {
    let vm = init_varmap(cfg, seed, &Device::Cpu).unwrap();
    let model = WonHee::new(cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
    (model, vm)
}

/// Deterministic pseudo-random values in [-scale, scale).
pub fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

pub fn rand(shape: (usize, usize), seed: u64, scale: f32) -> Tensor {
    Tensor::from_vec(
        rand_vec(shape.0 * shape.1, seed, scale),
        shape,
        &Device::Cpu,
    )
    .unwrap()
}

/// Mask `[b, l]` (u8): sample 0 scattered points, others a trailing block of `l / 3` points.
pub fn mask(b: usize, l: usize, seed: u64) -> Tensor {
    let r = rand_vec(b * l, seed, 1.0);
    let mut m = vec![0u8; b * l];
    for i in 0..b {
        for t in 0..l {
            m[i * l + t] = if i == 0 {
                u8::from(r[t] > 0.4)
            } else {
                u8::from(t >= l - l / 3)
            };
        }
    }
    Tensor::from_vec(m, (b, l), &Device::Cpu).unwrap()
}

/// Cross-entropy of the classifier, and masked MSE of imputation and forecasting.
pub fn task_losses(
    model: &WonHee,
    x: &Tensor,
    x_in: &Tensor,
    missing: &Tensor,
    labels: &Tensor,
    train: bool,
) -> [Tensor; 3] {
    let rhythm = rhythm_for(model.config(), x.dim(0).unwrap(), 31);
    let x2 = lead2_for(model.config(), x.dim(0).unwrap(), 37);
    let logits = model
        .forward_classify_leads(x, x2.as_ref(), rhythm.as_ref(), train)
        .unwrap();
    let ce = candle_nn::loss::cross_entropy(&logits, labels).unwrap();
    let m = missing.to_dtype(DType::F32).unwrap();
    let msum = m.sum_all().unwrap();
    let mse = |pred: Tensor| {
        ((pred - x).unwrap() * &m)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .div(&msum)
            .unwrap()
    };
    let imp = mse(model.forward_impute(x_in, missing, train).unwrap());
    let fc = mse(model.forward_forecast(x_in, missing, train).unwrap());
    [ce, imp, fc]
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_dtype(DType::F32).unwrap();
    let b = b.to_dtype(DType::F32).unwrap();
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// The non-paper input options: mask-channel token embedding and a linear imputation base.
pub fn with_mask_channel(cfg: ModelConfig) -> ModelConfig {
    ModelConfig {
        missing_input: wonhee_model::MissingInput::MaskChannel,
        impute_base: wonhee_model::ImputeBase::Linear,
        ..cfg
    }
}

/// `with_mask_channel` with missing points filled from the observed ones
/// (`missing_input = "interpolate"`).
pub fn with_interpolation(cfg: ModelConfig) -> ModelConfig {
    ModelConfig {
        missing_input: wonhee_model::MissingInput::Interpolate,
        ..with_mask_channel(cfg)
    }
}

/// `with_interpolation` with 4 rhythm features added to the [CLS] token.
pub fn with_rhythm(cfg: ModelConfig) -> ModelConfig {
    ModelConfig {
        rhythm_inputs: 4,
        ..with_interpolation(cfg)
    }
}

/// `with_rhythm` reading a second lead in the classification pass.
pub fn with_second_lead(cfg: ModelConfig) -> ModelConfig {
    ModelConfig {
        second_lead: true,
        ..with_rhythm(cfg)
    }
}

/// A second lead `[b, seq_len]` for `cfg` (values in ±1), or `None` without one.
pub fn lead2_for(cfg: &ModelConfig, b: usize, seed: u64) -> Option<Tensor> {
    cfg.second_lead.then(|| rand((b, cfg.seq_len), seed, 1.0))
}

/// Rhythm features `[b, rhythm_inputs]` for `cfg` (values in ±0.5), or `None` without them.
pub fn rhythm_for(cfg: &ModelConfig, b: usize, seed: u64) -> Option<Tensor> {
    (cfg.rhythm_inputs > 0).then(|| rand((b, cfg.beat_inputs()), seed, 0.5))
}

/// `with_rhythm` with the second lead's 3 shape features after the rhythm features.
pub fn with_lead2_context(cfg: ModelConfig) -> ModelConfig {
    ModelConfig {
        lead2_context: true,
        ..with_rhythm(cfg)
    }
}
