//! `wonhee eval --run RUN --data PREPARED`: metrics of a trained run on its held-out side.

use std::path::PathBuf;

use anyhow::Result;
use wonhee_eval::{Bootstrap, EvalProtocol};
use wonhee_train::{EXAMPLES_FILE, EvalOptions, METRICS_FILE, Run, evaluate, predict_windows};

/// Markdown rendering of `metrics.json`.
pub const METRICS_MD: &str = "metrics.md";

/// Arguments of `wonhee eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folder (from `wonhee train`).
    #[arg(long)]
    run: PathBuf,
    /// The prepared dataset the run was trained on.
    #[arg(long)]
    data: PathBuf,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Bootstrap resamples for the 95% intervals (0 = none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the evaluation masks and the bootstrap.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Evaluate imputation/forecasting on at most this many held-out windows (evenly spaced);
    /// classification always uses all of them.
    #[arg(long)]
    max_windows: Option<usize>,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Print the Markdown tables to stdout.
    #[arg(long)]
    print: bool,
    /// Also write every held-out window's class probabilities here (CSV:
    /// `window,record,centre,true_class,pred_class,p_N,...`), for ensembles and calibration.
    #[arg(long)]
    predictions: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let device = wonhee_model::device::parse_device(&args.device)?;
    let run = Run::open(&args.run, &device)?;
    let ds = wonhee_dataset::Dataset::open(&args.data)?;
    let bar = crate::cmd::progress(0, "evaluating");
    let progress = |task: &str, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(task.to_string());
    };
    let t0 = std::time::Instant::now();
    let opts = EvalOptions {
        batch: args.batch,
        protocol: EvalProtocol::new(args.seed),
        bootstrap: Bootstrap::new(args.bootstrap, args.seed),
        max_regression_windows: args.max_windows,
        examples: 3,
        progress: &progress,
    };
    let (mut metrics, examples) = evaluate(&run, &ds, &opts)?;
    let predictions = match &args.predictions {
        Some(_) => Some(predict_windows(&run, &ds, args.batch, &|d, n| {
            progress("class probabilities", d, n)
        })?),
        None => None,
    };
    bar.finish_and_clear();
    metrics
        .meta
        .insert("eval_seconds".into(), t0.elapsed().as_secs_f64().into());
    let path = args.run.join(METRICS_FILE);
    metrics.write_json(&path)?;
    let md = metrics.to_markdown();
    wonhee_fs::write_atomic(&args.run.join(METRICS_MD), md.as_bytes())?;
    examples.write(&args.run.join(EXAMPLES_FILE))?;
    if let (Some(path), Some(p)) = (&args.predictions, &predictions) {
        wonhee_fs::write_atomic(path, p.to_csv().as_bytes())?;
    }
    if args.print {
        println!("{md}");
    }
    if let Some(c) = &metrics.classification {
        eprintln!(
            "accuracy {:.4}  macro-F1 {:.4}  ({} windows, {:.1} s) -> {}",
            c.accuracy.value.unwrap_or(f64::NAN),
            c.macro_f1.value.unwrap_or(f64::NAN),
            metrics.meta.get("windows").cloned().unwrap_or_default(),
            t0.elapsed().as_secs_f64(),
            path.display()
        );
    }
    Ok(())
}
