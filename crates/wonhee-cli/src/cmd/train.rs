//! `wonhee train --config F --data PREPARED --out RUN [--device cpu|cuda] [--resume]`.

use std::path::PathBuf;

use anyhow::Result;
use wonhee_train::{RunConfig, TrainOptions, train};

/// Arguments of `wonhee train`.
#[derive(clap::Args)]
pub struct Args {
    /// Run configuration (TOML with [model] and [train]; see configs/).
    #[arg(long)]
    config: PathBuf,
    /// Prepared dataset (from `wonhee prepare`).
    #[arg(long)]
    data: PathBuf,
    /// Run folder (created; holds weights, checkpoints, logs).
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Continue an interrupted run from its checkpoint.
    #[arg(long)]
    resume: bool,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the config's step budget.
    #[arg(long)]
    max_steps: Option<usize>,
    /// Hold out this record fold (record-folds datasets).
    #[arg(long)]
    fold: Option<u8>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let mut cfg = RunConfig::from_toml_file(&args.config)?;
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    if args.max_steps.is_some() {
        cfg.train.max_steps = args.max_steps;
    }
    if args.fold.is_some() {
        cfg.train.fold = args.fold;
    }
    let device = wonhee_model::device::parse_device(&args.device)?;
    let bar = crate::cmd::progress(0, "training");
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} step {pos}/{len} [{bar:25}] {elapsed_precise} eta {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let on_step = |r: &wonhee_train::StepReport| {
        bar.set_length(r.total as u64);
        bar.set_position(r.step as u64);
        bar.set_message(format!(
            "ep {:.2} | cls {:.3} imp {:.3} fc {:.3} | {:.0} samples/s",
            r.epoch, r.loss_cls, r.loss_imp, r.loss_fc, r.samples_per_s
        ));
        tracing::debug!(
            step = r.step,
            loss_cls = r.loss_cls,
            loss_imp = r.loss_imp,
            loss_fc = r.loss_fc,
            "step"
        );
    };
    let on_val = |v: &wonhee_train::ValReport| {
        bar.println(format!(
            "validation @ step {}: accuracy {:.4}  macro-F1 {:.4}  imputation MSE {:.4}  forecast MSE {:.4}",
            v.step, v.accuracy, v.macro_f1, v.imp_mse, v.fc_mse
        ));
    };
    let opts = TrainOptions {
        device,
        resume: args.resume,
        stop_after: None,
        on_step: &on_step,
        on_val: &on_val,
    };
    let s = train(&args.out, &args.data, &cfg, &opts)?;
    bar.finish_and_clear();
    eprintln!(
        "trained {}/{} steps in {:.1} s ({:.1} samples/s) -> {}",
        s.steps_done,
        s.total_steps,
        s.seconds,
        s.samples_per_s,
        args.out.display()
    );
    Ok(())
}
