//! `wonhee adapt --run RUN --data PREPARED --out DIR`: the patient-specific protocol. The first
//! minutes of each held-out record are labelled and fine-tune a copy of the run's model for
//! that patient; every later beat is scored, by the adapted copy and by the run's model.
//! Its figures use labels of the test patients and never belong in an inter-patient table.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use wonhee_eval::{Bootstrap, Metrics};
use wonhee_train::{AdaptOptions, METRICS_FILE, RecordAdaptation, Run, adapt};

/// The unadapted model's report on the same beats.
pub const UNADAPTED_FILE: &str = "metrics-unadapted.json";
/// Settings and per-record outcome.
pub const ADAPT_FILE: &str = "adapt.json";

/// Arguments of `wonhee adapt`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folder (from `wonhee train`) whose held-out patients are adapted to.
    #[arg(long)]
    run: PathBuf,
    /// The prepared dataset the run was trained on (split by record).
    #[arg(long)]
    data: PathBuf,
    /// Output folder: metrics.json (adapted), metrics-unadapted.json, metrics.md, adapt.json.
    #[arg(long)]
    out: PathBuf,
    /// Labelled minutes at the start of each record.
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// Fine-tuning steps per record.
    #[arg(long, default_value_t = AdaptOptions::default().steps)]
    steps: usize,
    /// Windows per fine-tuning batch.
    #[arg(long, default_value_t = AdaptOptions::default().batch_size)]
    batch: usize,
    /// Constant learning rate of the fine-tuning.
    #[arg(long, default_value_t = AdaptOptions::default().lr)]
    lr: f64,
    /// Share of each batch drawn from the run's training windows (the rest from the record).
    #[arg(long, default_value_t = AdaptOptions::default().replay)]
    replay: f64,
    /// Seed of the fine-tuning and of the bootstrap.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Bootstrap resamples (records) for the 95% intervals (0 = none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the Markdown tables to stdout.
    #[arg(long)]
    print: bool,
}

/// `adapt.json`.
#[derive(Serialize)]
struct AdaptFile<'a> {
    protocol: &'static str,
    run: String,
    data: String,
    options: &'a AdaptOptions,
    seconds: f64,
    records: &'a [RecordAdaptation],
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    // The run folder holds the run's own (inter-patient) metrics.json, which the report reads:
    // patient-specific figures must never replace it.
    let same = |a: &std::path::Path, b: &std::path::Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    if same(&args.out, &args.run) {
        anyhow::bail!(
            "{}: --out is the run folder, whose metrics.json holds the run's own evaluation; \
             write the patient-specific results elsewhere",
            args.out.display()
        );
    }
    let device = wonhee_model::device::parse_device(&args.device)?;
    let run = Run::open(&args.run, &device)?;
    let ds = wonhee_dataset::Dataset::open(&args.data)?;
    let opts = AdaptOptions {
        minutes: args.minutes,
        steps: args.steps,
        batch_size: args.batch,
        lr: args.lr,
        replay: args.replay,
        seed: args.seed,
    };
    let bar = crate::cmd::progress(0, "adapting");
    let progress = |record: &str, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("adapting {record}"));
    };
    let t0 = std::time::Instant::now();
    let a = adapt(
        &run,
        &ds,
        &opts,
        &Bootstrap::new(args.bootstrap, args.seed),
        &progress,
    )?;
    bar.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();

    let metrics = |c, adapted: bool| {
        let mut m = Metrics::new();
        m.classification = Some(c);
        let meta = &mut m.meta;
        meta.insert("protocol".into(), "patient-specific".into());
        meta.insert("adapted".into(), adapted.into());
        meta.insert("run".into(), args.run.display().to_string().into());
        meta.insert("dataset".into(), args.data.display().to_string().into());
        meta.insert("split".into(), ds.summary().config.split.name().into());
        meta.insert("labelled_minutes".into(), opts.minutes.into());
        m
    };
    let after = metrics(a.after, true);
    let before = metrics(a.before, false);
    let md = format!(
        "# Patient-specific protocol (not inter-patient)\n\nThe first {} minutes of each \
         held-out record are labelled and fine-tune the model for that record ({} steps of \
         {} windows, lr {}, replay {}); the beats after them are scored.\n\n## Adapted\n\n{}\n\
         ## The run's model on the same beats\n\n{}",
        opts.minutes,
        opts.steps,
        opts.batch_size,
        opts.lr,
        opts.replay,
        after.to_markdown(),
        before.to_markdown()
    );
    let file = AdaptFile {
        protocol: "patient-specific",
        run: args.run.display().to_string(),
        data: args.data.display().to_string(),
        options: &opts,
        seconds,
        records: &a.records,
    };
    let json = serde_json::to_vec_pretty(&file).context("adapt.json")?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    after.write_json(&args.out.join(METRICS_FILE))?;
    before.write_json(&args.out.join(UNADAPTED_FILE))?;
    wonhee_fs::write_atomic(&args.out.join(crate::cmd::eval::METRICS_MD), md.as_bytes())?;
    wonhee_fs::write_atomic(&args.out.join(ADAPT_FILE), &json)?;
    if args.print {
        println!("{md}");
    }
    let acc = |m: &Metrics| {
        m.classification
            .as_ref()
            .and_then(|c| c.accuracy.value)
            .unwrap_or(f64::NAN)
    };
    eprintln!(
        "patient-specific: accuracy {:.4} adapted, {:.4} unadapted ({} records, {:.1} s) -> {}",
        acc(&after),
        acc(&before),
        a.records.len(),
        seconds,
        args.out.display()
    );
    Ok(())
}
