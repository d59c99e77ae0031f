//! `wonhee bench train --config F --steps N`: samples/s of real training steps (JSON): the
//! trainer's own step ([`Learner::step`]: three task passes, weighted gradients, clipping,
//! AdamW), on a seeded synthetic batch.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use wonhee_train::{Batch, Learner, RunConfig};

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

/// Runs the command: times [`Learner::step`], the step `wonhee train` runs, on a seeded
/// synthetic batch.
pub fn run(b: Bench) -> Result<()> {
    let Bench::Train(args) = b;
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let cfg = RunConfig::from_toml_file(&args.config)?;
    let dev = wonhee_model::device::parse_device(&args.device)?;
    let bsz = args.batch.unwrap_or(cfg.train.batch_size);
    if bsz == 0 {
        bail!("--batch must be at least 1");
    }
    let mut learner = Learner::new(&cfg, &dev)?;
    let batch = Batch::synthetic(&cfg, bsz, &dev, cfg.train.seed)?;
    let mut times = Vec::new();
    for s in 0..args.warmup + args.steps {
        let t0 = Instant::now();
        learner.step(&batch, cfg.train.lr, s + 1)?;
        dev.synchronize()?;
        if s >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let flops = cfg.model.flops().train_step;
    let v = serde_json::json!({
        "config": args.config.display().to_string(),
        "device": wonhee_train::device_name(&dev),
        "batch": bsz, "steps": args.steps,
        "step_s_mean": mean, "step_s_best": best,
        "samples_per_s": bsz as f64 / mean,
        "gflop_per_sample": flops / 1e9,
        "gflops": flops * bsz as f64 / mean / 1e9,
        "threads": rayon::current_num_threads(),
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
