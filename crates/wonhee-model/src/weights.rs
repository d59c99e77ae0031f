//! Tensor names, seeded initialisation, and safetensors save/load.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Init, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::block::{EMBED_INIT, linear_init};
use crate::{FfnKind, ModelConfig};
use crate::{ModelError, Result};

/// One trainable tensor of the model.
#[derive(Clone, Debug)]
pub struct TensorSpec {
    /// Stable name (the key in the VarMap and in safetensors files).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Initialisation used by [`init_varmap`].
    pub init: Init,
}

fn block_specs(cfg: &ModelConfig, prefix: &str, ffn: FfnKind, out: &mut Vec<TensorSpec>) {
    let d = cfg.d_model;
    let h = cfg.ffn_hidden();
    let mut push = |name: String, shape: Vec<usize>, init: Init| {
        out.push(TensorSpec {
            name: format!("{prefix}.{name}"),
            shape,
            init,
        })
    };
    push("norm1.weight".into(), vec![d], Init::Const(1.0));
    push("attn.qkv.weight".into(), vec![3 * d, d], linear_init(d));
    push("attn.proj.weight".into(), vec![d, d], linear_init(d));
    push("norm2.weight".into(), vec![d], Init::Const(1.0));
    match ffn {
        FfnKind::Swiglu => {
            push("ffn.gate_up.weight".into(), vec![2 * h, d], linear_init(d));
            push("ffn.down.weight".into(), vec![d, h], linear_init(h));
        }
        FfnKind::SoftMoe => {
            push("ffn.phi".into(), vec![d, cfg.n_slots()], linear_init(d));
            for e in 0..cfg.n_experts {
                push(
                    format!("ffn.experts.{e}.gate_up.weight"),
                    vec![2 * h, d],
                    linear_init(d),
                );
                push(
                    format!("ffn.experts.{e}.down.weight"),
                    vec![d, h],
                    linear_init(h),
                );
            }
        }
    }
}

/// Every trainable tensor of a model with this config: name, shape and initialisation.
///
/// This is the naming scheme of VarMaps and weight files (`{i}` a block, `{e}` an expert,
/// `{head}` one of `classify`, `impute`, `forecast`):
///
/// | name | shape |
/// |---|---|
/// | `embed.weight`, `embed.bias` | `[d, patch]` (`[d, 2 * patch]` with `missing_input = "mask_channel"` or `"interpolate"`), `[d]` |
/// | `missing`, `cls` | `[d]` (missing-value and [CLS] embeddings) |
/// | `rhythm.weight` | `[d, beat_inputs]`, with `rhythm_inputs > 0` (`ModelConfig::beat_inputs`) |
/// | `lead2.weight` | `[d, patch]`, with `second_lead` |
/// | `encoder.{i}.norm1.weight`, `encoder.{i}.norm2.weight` | `[d]` |
/// | `encoder.{i}.attn.qkv.weight` | `[3d, d]`, rows `q | k | v`, head h at rows `h*d/heads..` of each |
/// | `encoder.{i}.attn.proj.weight` | `[d, d]` |
/// | `encoder.{i}.ffn.gate_up.weight` | `[2h, d]` (gate rows first), SwiGLU |
/// | `encoder.{i}.ffn.down.weight` | `[d, h]`, SwiGLU |
/// | `encoder.{i}.ffn.phi` | `[d, n_experts * slots_per_expert]`, Soft-MoE |
/// | `encoder.{i}.ffn.experts.{e}.gate_up.weight`, `...down.weight` | as SwiGLU, Soft-MoE |
/// | `encoder.norm.weight` | `[d]` |
/// | `{head}.blocks.{i}.…` | as an encoder block, SwiGLU |
/// | `{head}.norm.weight` | `[d]` |
/// | `{head}.out.weight`, `{head}.out.bias` | `[n_classes or patch, d]`, `[n_classes or patch]` |
pub fn tensor_specs(cfg: &ModelConfig) -> Vec<TensorSpec> {
    let d = cfg.d_model;
    let mut v = vec![
        TensorSpec {
            name: "embed.weight".into(),
            shape: vec![d, cfg.embed_inputs()],
            init: linear_init(cfg.embed_inputs()),
        },
        TensorSpec {
            name: "embed.bias".into(),
            shape: vec![d],
            init: linear_init(cfg.embed_inputs()),
        },
        TensorSpec {
            name: "missing".into(),
            shape: vec![d],
            init: EMBED_INIT,
        },
        TensorSpec {
            name: "cls".into(),
            shape: vec![d],
            init: EMBED_INIT,
        },
    ];
    if cfg.rhythm_inputs > 0 {
        v.push(TensorSpec {
            name: "rhythm.weight".into(),
            shape: vec![d, cfg.beat_inputs()],
            init: linear_init(cfg.beat_inputs()),
        });
    }
    if cfg.second_lead {
        v.push(TensorSpec {
            name: "lead2.weight".into(),
            shape: vec![d, cfg.patch],
            init: linear_init(cfg.patch),
        });
    }
    for i in 0..cfg.n_layers {
        block_specs(cfg, &format!("encoder.{i}"), cfg.ffn, &mut v);
    }
    v.push(TensorSpec {
        name: "encoder.norm.weight".into(),
        shape: vec![d],
        init: Init::Const(1.0),
    });
    for (head, out) in [
        ("classify", cfg.n_classes),
        ("impute", cfg.patch),
        ("forecast", cfg.patch),
    ] {
        for i in 0..cfg.head_layers {
            block_specs(cfg, &format!("{head}.blocks.{i}"), FfnKind::Swiglu, &mut v);
        }
        v.push(TensorSpec {
            name: format!("{head}.norm.weight"),
            shape: vec![d],
            init: Init::Const(1.0),
        });
        v.push(TensorSpec {
            name: format!("{head}.out.weight"),
            shape: vec![out, d],
            init: linear_init(d),
        });
        v.push(TensorSpec {
            name: format!("{head}.out.bias"),
            shape: vec![out],
            init: linear_init(d),
        });
    }
    v
}

/// FNV-1a of a name, to give every tensor its own random stream.
fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn sample(init: Init, n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    match init {
        Init::Const(c) => vec![c as f32; n],
        Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..up) as f32).collect(),
        Init::Randn { mean, stdev } => (0..n)
            .map(|_| {
                // Box-Muller from two uniforms in (0, 1].
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random();
                (mean + stdev * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect(),
        Init::Kaiming { .. } => {
            // Not used by this crate's specs; fall back to the PyTorch-like uniform.
            let b = 1.0 / (n.max(1) as f64).sqrt();
            (0..n).map(|_| rng.random_range(-b..b) as f32).collect()
        }
    }
}

/// A VarMap holding every tensor of [`tensor_specs`], initialised from `seed` (each tensor from
/// its own ChaCha8 stream keyed by seed and name, so the result does not depend on thread
/// count or creation order). Build the model on it with
/// `WonHee::new(cfg, VarBuilder::from_varmap(&vm, DType::F32, device))`.
pub fn init_varmap(cfg: &ModelConfig, seed: u64, device: &Device) -> Result<VarMap> {
    cfg.validate()?;
    let vm = VarMap::new();
    {
        let mut data = vm.data().lock().unwrap_or_else(|e| e.into_inner());
        for spec in tensor_specs(cfg) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ name_hash(&spec.name));
            let n: usize = spec.shape.iter().product();
            let t = Tensor::from_vec(
                sample(spec.init, n, &mut rng),
                spec.shape.as_slice(),
                device,
            )?;
            data.insert(spec.name, Var::from_tensor(&t)?);
        }
    }
    Ok(vm)
}

/// Saves every variable of `vm` to a safetensors file, atomically (temporary file in the same
/// folder, then rename).
pub fn save_weights(vm: &VarMap, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let tensors: HashMap<String, Tensor> = {
        let data = vm.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    wonhee_fs::write_path_with(path, |tmp| {
        candle_core::safetensors::save(&tensors, tmp).map_err(|e| ModelError::Weights {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    })
}

/// Loads a safetensors file into the variables of `vm` (on their devices). Every variable must
/// be in the file with its shape; extra tensors in the file are an error too (a file of another
/// config).
pub fn load_weights(vm: &VarMap, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let err = |msg: String| ModelError::Weights {
        path: path.to_path_buf(),
        msg,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    let file =
        candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| err(e.to_string()))?;
    let data = vm.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut missing: Vec<&str> = data
        .keys()
        .filter(|k| !file.contains_key(*k))
        .map(|k| k.as_str())
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(err(format!("missing tensors: {}", missing.join(", "))));
    }
    let mut extra: Vec<&str> = file
        .keys()
        .filter(|k| !data.contains_key(*k))
        .map(|k| k.as_str())
        .collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        return Err(err(format!(
            "tensors not in this model: {}",
            extra.join(", ")
        )));
    }
    for (name, var) in data.iter() {
        let t = &file[name];
        if t.dims() != var.dims() {
            return Err(err(format!(
                "{name} has shape {:?}, the model expects {:?}",
                t.dims(),
                var.dims()
            )));
        }
        var.set(&t.to_dtype(DType::F32)?.to_device(var.device())?)?;
    }
    Ok(())
}
