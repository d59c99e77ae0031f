//! `wonhee bench train --config F --steps N`: samples/s of real training steps (JSON).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use wonhee_train::{RunConfig, masked_mse};

/// Benchmarks.
#[derive(clap::Subcommand)]
pub enum Bench {
    /// Training steps on random windows (the three tasks, forward + backward + AdamW).
    Train(TrainArgs),
}

/// Arguments of `wonhee bench train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Run configuration (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Batch size (default: the config's).
    #[arg(long)]
    batch: Option<usize>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Runs the command.
pub fn run(b: Bench) -> Result<()> {
    let Bench::Train(args) = b;
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let cfg = RunConfig::from_toml_file(&args.config)?;
    let dev = wonhee_model::device::parse_device(&args.device)?;
    let bsz = args.batch.unwrap_or(cfg.train.batch_size);
    let l = cfg.model.seq_len;
    let vm = wonhee_model::init_varmap(&cfg.model, cfg.train.seed, &dev)?;
    let model =
        wonhee_model::WonHee::new(&cfg.model, VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
    let vars: Vec<(String, candle_core::Var)> = vm
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut opt = wonhee_train::optim::AdamW::new(vars.clone(), &cfg.train)?;
    let x = Tensor::randn(0f32, 1.0, (bsz, l), &dev)?;
    let labels = Tensor::from_vec(
        (0..bsz as u32)
            .map(|i| i % cfg.model.n_classes as u32)
            .collect::<Vec<_>>(),
        bsz,
        &dev,
    )?;
    let k = (cfg.train.mask_min + cfg.train.mask_max) / 2;
    let mask: Vec<f32> = (0..bsz * l)
        .map(|i| f32::from(u8::from(i % l >= l - k)))
        .collect();
    let mask = Tensor::from_vec(mask, (bsz, l), &dev)?;
    let rhythm = match cfg.model.rhythm_inputs {
        0 => None,
        n => Some(Tensor::randn(0f32, 0.2, (bsz, n), &dev)?),
    };
    let mut times = Vec::new();
    for s in 0..args.warmup + args.steps {
        let t0 = Instant::now();
        let mut grads: Vec<Option<Tensor>> = vec![None; vars.len()];
        let losses = [
            candle_nn::loss::cross_entropy(
                &model.forward_classify_with(&x, rhythm.as_ref(), true)?,
                &labels,
            )?,
            masked_mse(&model.forward_impute(&x, &mask, true)?, &x, &mask)?,
            masked_mse(&model.forward_forecast(&x, &mask, true)?, &x, &mask)?,
        ];
        for loss in losses {
            let g = loss.backward()?;
            for (slot, (_, v)) in grads.iter_mut().zip(&vars) {
                if let Some(t) = g.get(v.as_tensor()) {
                    *slot = Some(match slot.take() {
                        Some(a) => (a + t)?,
                        None => t.clone(),
                    });
                }
            }
        }
        opt.step(&grads, cfg.train.lr)?;
        dev.synchronize()?;
        if s >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let v = serde_json::json!({
        "config": args.config.display().to_string(),
        "device": wonhee_train::device_name(&dev),
        "batch": bsz, "steps": args.steps,
        "step_s_mean": mean, "step_s_best": best,
        "samples_per_s": bsz as f64 / mean,
        "gflop_per_sample": cfg.model.flops().train_step / 1e9,
        "gflops": cfg.model.flops().train_step * bsz as f64 / mean / 1e9,
        "threads": rayon_threads(),
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
