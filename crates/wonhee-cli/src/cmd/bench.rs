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
    /// Override the config's patch size (tokens of P points).
    #[arg(long)]
    patch: Option<usize>,
    /// Override the config's dropout on the attention probabilities.
    #[arg(long)]
    attn_dropout: Option<f32>,
}

/// Runs the command: times [`Learner::step`], the step `wonhee train` runs, on a seeded
/// synthetic batch.
pub fn run(b: Bench) -> Result<()> {
    let Bench::Train(args) = b;
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let mut cfg = RunConfig::from_toml_file(&args.config)?;
    if let Some(p) = args.patch {
        cfg.model.patch = p;
    }
    if let Some(p) = args.attn_dropout {
        cfg.model.attn_dropout = p;
    }
    cfg.validate()?;
    let dev = wonhee_model::device::parse_device(&args.device)?;
    let bsz = args.batch.unwrap_or(cfg.train.batch_size);
    if bsz == 0 {
        bail!("--batch must be at least 1");
    }
    let mut learner = Learner::new(&cfg, &dev)?;
    let batch = Batch::synthetic(&cfg, bsz, &dev, cfg.train.seed)?;
    let mut times = Vec::new();
    let t_start = Instant::now();
    let mut warmup_s = 0.0;
    for s in 0..args.warmup + args.steps {
        if s == args.warmup {
            warmup_s = t_start.elapsed().as_secs_f64();
        }
        let t0 = Instant::now();
        learner.step(&batch, cfg.train.lr, s + 1)?;
        dev.synchronize()?;
        if s >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let median = median(&times);
    let flops = cfg.model.flops().train_step;
    let v = serde_json::json!({
        "config": args.config.display().to_string(),
        "device": wonhee_train::device_name(&dev),
        "patch": cfg.model.patch,
        "dropout": cfg.model.dropout,
        "attn_dropout": cfg.model.attn_dropout,
        "parameters": cfg.model.param_count(),
        "batch": bsz, "steps": args.steps,
        "warmup_s": warmup_s,
        "step_s_mean": mean, "step_s_best": best, "step_s_median": median,
        "step_s_all": times,
        "samples_per_s": bsz as f64 / median,
        "gflop_per_sample": flops / 1e9,
        "gflops": flops * bsz as f64 / median / 1e9,
        "threads": rayon::current_num_threads(),
        "matmul_isa": wonhee_model::kernels::matmul_isa(),
        "kernel_simd": format!("{:?}", wonhee_model::kernels::simd_level()),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// The median of `v` (the mean of the middle two for an even count); `v` is not empty.
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// This process's peak resident set size (Linux `VmHWM`), when known.
fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    kb.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}
