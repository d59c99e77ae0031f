//! Training-step benchmark of the WonHEE model on CPU, with PyTorch side by side.
//!
//! ```text
//! cargo run --release -p wonhee-model --example bench_model -- \
//!     [--patch 1,8] [--batch 32] [--steps 3] [--warmup 1] [--kernels auto|fused|fused-ops|composed] \
//!     [--torch /tmp/pyref/bin/python] [--torch-attention composed,sdpa] [--device cpu|cuda[:N]]
//! ```
//! One step is what the trainer does per batch: the three task forwards (dropout on), the sum
//! of the three losses, one backward. Prints one JSON object: the candle matmul peak, and per
//! patch size the step time split into forward and backward, samples/s, achieved GFLOP/s, peak
//! resident memory, the per-op profile, and the PyTorch figures measured right after in the
//! same run (when `--torch` names a Python with torch).
//!
//! Threads: candle and rayon use `RAYON_NUM_THREADS` (default: all cores); PyTorch is given
//! the same number.

use std::process::Command;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde_json::{Value, json};
use wonhee_model::ops::{Kernels, profile};
use wonhee_model::{ModelConfig, WonHee, init_varmap};

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Args {
    patches: Vec<usize>,
    batch: usize,
    steps: usize,
    warmup: usize,
    kernels: Kernels,
    torch: Option<String>,
    torch_attention: Vec<String>,
    device: Device,
    device_name: String,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        patches: vec![1, 8],
        batch: 32,
        steps: 3,
        warmup: 1,
        kernels: Kernels::Auto,
        torch: None,
        torch_attention: vec!["composed".into(), "sdpa".into()],
        device: Device::Cpu,
        device_name: "cpu".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--patch" => {
                a.patches = val()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--batch" => a.batch = val()?.parse()?,
            "--steps" => a.steps = val()?.parse()?,
            "--warmup" => a.warmup = val()?.parse()?,
            "--kernels" => {
                a.kernels = match val()?.as_str() {
                    "auto" => Kernels::Auto,
                    "fused" => Kernels::Fused,
                    "fused-ops" => Kernels::FusedOps,
                    "composed" => Kernels::Composed,
                    other => return Err(format!("unknown --kernels {other}").into()),
                }
            }
            "--torch" => a.torch = Some(val()?),
            "--device" => {
                a.device_name = val()?;
                a.device = wonhee_model::device::parse_device(&a.device_name)?;
            }
            "--torch-attention" => {
                a.torch_attention = val()?.split(',').map(str::to_string).collect()
            }
            "-h" | "--help" => {
                println!("see the doc comment of examples/bench_model.rs");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.steps == 0 || a.batch == 0 {
        return Err("--steps and --batch must be positive".into());
    }
    Ok(a)
}

/// Peak resident set size of this process in bytes (VmHWM), and a way to reset it.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

fn reset_peak_rss() {
    // "5" resets the peak RSS counter (Linux >= 4.0); harmless where unsupported.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn matmul_gflops(m: usize, k: usize, n: usize, dev: &Device) -> Res<f64> {
    let a = Tensor::randn(0f32, 1.0, (m, k), dev)?;
    let b = Tensor::randn(0f32, 1.0, (k, n), dev)?;
    a.matmul(&b)?;
    dev.synchronize()?;
    let (mut reps, t) = (0u32, Instant::now());
    while t.elapsed().as_secs_f64() < 1.0 {
        a.matmul(&b)?;
        dev.synchronize()?;
        reps += 1;
    }
    Ok(2.0 * (m * k * n) as f64 * f64::from(reps) / t.elapsed().as_secs_f64() / 1e9)
}

struct Batch {
    x: Tensor,
    imp_mask: Tensor,
    fc_mask: Tensor,
    labels: Tensor,
}

/// Masks like the trainer's: 200-540 random points for imputation, a trailing block of
/// 200-540 points for forecasting.
fn batch(cfg: &ModelConfig, b: usize, dev: &Device) -> Res<Batch> {
    let l = cfg.seq_len;
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let x: Vec<f32> = (0..b * l)
        .map(|_| (next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect();
    let mut imp = vec![0u8; b * l];
    let mut fc = vec![0u8; b * l];
    for i in 0..b {
        let k = (200 + (i * 37) % 341).min(l.saturating_sub(1));
        let mut idx: Vec<usize> = (0..l).collect();
        for j in (1..l).rev() {
            idx.swap(j, (next() % (j as u64 + 1)) as usize);
        }
        for &t in &idx[..k] {
            imp[i * l + t] = 1;
        }
        fc[i * l + l - k..(i + 1) * l].fill(1);
    }
    let labels: Vec<u32> = (0..b).map(|i| (i % cfg.n_classes) as u32).collect();
    Ok(Batch {
        x: Tensor::from_vec(x, (b, l), dev)?,
        imp_mask: Tensor::from_vec(imp, (b, l), dev)?,
        fc_mask: Tensor::from_vec(fc, (b, l), dev)?,
        labels: Tensor::from_vec(labels, b, dev)?,
    })
}

/// One training step; returns (forward seconds, backward seconds).
fn step(model: &WonHee, d: &Batch) -> Res<(f64, f64)> {
    let t0 = Instant::now();
    let logits = model.forward_classify(&d.x, true)?;
    let ce = candle_nn::loss::cross_entropy(&logits, &d.labels)?;
    let mse = |pred: Tensor, m: &Tensor| -> Res<Tensor> {
        let m = m.to_dtype(DType::F32)?;
        Ok(((pred - &d.x)? * &m)?
            .sqr()?
            .sum_all()?
            .div(&m.sum_all()?)?)
    };
    let imp = mse(model.forward_impute(&d.x, &d.imp_mask, true)?, &d.imp_mask)?;
    let fc = mse(model.forward_forecast(&d.x, &d.fc_mask, true)?, &d.fc_mask)?;
    let loss = ((ce + imp)? + fc)?;
    loss.device().synchronize()?;
    let t1 = Instant::now();
    let grads = loss.backward()?;
    loss.device().synchronize()?;
    drop(grads);
    let t2 = Instant::now();
    Ok(((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64()))
}

fn bench_patch(a: &Args, patch: usize) -> Res<Value> {
    let cfg = ModelConfig {
        patch,
        ..Default::default()
    };
    let vm = init_varmap(&cfg, 0, &a.device)?;
    let model = WonHee::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &a.device))?
        .with_kernels(a.kernels);
    model.seed_dropout(1);
    let data = batch(&cfg, a.batch, &a.device)?;
    reset_peak_rss();
    for _ in 0..a.warmup {
        step(&model, &data)?;
    }
    let (mut fwd, mut bwd) = (0.0, 0.0);
    profile::reset();
    profile::enable(true);
    for _ in 0..a.steps {
        let (f, b) = step(&model, &data)?;
        fwd += f;
        bwd += b;
    }
    profile::enable(false);
    let n = a.steps as f64;
    let secs = (fwd + bwd) / n;
    let flops = cfg.flops().train_step * a.batch as f64;
    let ops: Vec<Value> = profile::snapshot()
        .into_iter()
        .filter(|(_, _, calls)| *calls > 0)
        .map(|(op, s, calls)| {
            json!({"op": format!("{op:?}"), "s_per_step": s / n, "calls_per_step": calls as f64 / n,
                   "share": s / n / secs})
        })
        .collect();
    let mut out = json!({
        "patch": patch,
        "batch": a.batch,
        "steps": a.steps,
        "gflop_per_sample": cfg.flops().train_step / 1e9,
        "candle": {
            "kernels": format!("{:?}", a.kernels),
            "step_s": secs,
            "forward_s": fwd / n,
            "backward_s": bwd / n,
            "samples_per_s": a.batch as f64 / secs,
            "gflops": flops / secs / 1e9,
            "peak_rss_bytes": peak_rss(),
            "profile": ops,
        },
    });
    drop(model);
    drop(vm);
    if let Some(py) = &a.torch {
        let mut runs = Vec::new();
        for attn in &a.torch_attention {
            runs.push(torch(py, a, patch, attn)?);
        }
        out["torch"] = Value::Array(runs);
    }
    Ok(out)
}

fn torch(py: &str, a: &Args, patch: usize, attention: &str) -> Res<Value> {
    let script = format!(
        "{}/../../docs/reference-scripts/model_bench.py",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    );
    let threads = rayon::current_num_threads();
    let out = Command::new(py)
        .arg(script)
        .args([
            "--patch",
            &patch.to_string(),
            "--batch",
            &a.batch.to_string(),
        ])
        .args([
            "--steps",
            &a.steps.to_string(),
            "--warmup",
            &a.warmup.to_string(),
        ])
        .args(["--threads", &threads.to_string(), "--attention", attention])
        .output()?;
    if !out.status.success() {
        return Ok(
            json!({"attention": attention, "error": String::from_utf8_lossy(&out.stderr).trim().to_string()}),
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    let mut v: Value = serde_json::from_str(line)?;
    let flops = ModelConfig {
        patch,
        ..Default::default()
    }
    .flops()
    .train_step
        * a.batch as f64;
    if let Some(s) = v["step_s"].as_f64() {
        v["gflops"] = json!(flops / s / 1e9);
    }
    Ok(v)
}

fn main() -> Res<()> {
    let a = parse_args()?;
    let threads = rayon::current_num_threads();
    let peak_square = matmul_gflops(2048, 2048, 2048, &a.device)?;
    // The model's most common product: [batch*tokens, d] x [d, 3d].
    let peak_model = matmul_gflops(32 * 641, 128, 384, &a.device)?;
    let mut results = Vec::new();
    for &p in &a.patches {
        results.push(bench_patch(&a, p)?);
    }
    let report = json!({
        "bench": "model",
        "device": a.device_name,
        "threads": threads,
        "simd": format!("{:?}", wonhee_model::kernels::simd_level()),
        "candle_matmul_gflops": {"2048x2048x2048": peak_square, "20512x128x384": peak_model},
        "results": results,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
