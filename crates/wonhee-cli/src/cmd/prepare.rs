//! `wonhee prepare --data DIR --out DIR [--split ...] [--classes 5|6] [--seed N] [--resample poly|fft]`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use wonhee_dataset::{
    ClassScheme, PrepareConfig, ResampleMethod, SplitKind, prepare_to, read_record_list,
};

/// Split protocols.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitArg {
    /// Random 80:20 over beats, stratified by class (the paper's protocol; optimistic).
    Paper,
    /// de Chazal DS1 -> train, DS2 -> test, paced records excluded.
    InterPatient,
    /// k record-wise folds (paced records excluded).
    RecordFolds,
}

/// Resampling methods.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ResampleArg {
    /// Polyphase FIR (scipy.signal.resample_poly).
    Poly,
    /// FFT (scipy.signal.resample).
    Fft,
}

/// Arguments of `wonhee prepare`.
#[derive(clap::Args)]
pub struct Args {
    /// MIT-BIH folder (reads every record in its RECORDS file).
    #[arg(long, env = "WONHEE_MITDB", default_value = "../shared/data/mitdb")]
    data: PathBuf,
    /// Output folder (written completely or not at all).
    #[arg(long)]
    out: PathBuf,
    /// Split protocol.
    #[arg(long, value_enum, default_value = "paper")]
    split: SplitArg,
    /// Test fraction of the paper split.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Number of folds of the record-folds split.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Number of classes: 5 (AAMI) or 6 (paced beats separate).
    #[arg(long, default_value_t = 5)]
    classes: usize,
    /// Seed of the split.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Resampling method.
    #[arg(long, value_enum, default_value = "poly")]
    resample: ResampleArg,
    /// Lead to use, by description (records without it use signal 0).
    #[arg(long, default_value = "MLII")]
    lead: String,
    /// Remove baseline wander (200 ms + 600 ms median filters) first.
    #[arg(long)]
    remove_baseline: bool,
    /// Zero-phase band-pass LOW,HIGH in Hz first (e.g. 0.5,40).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    bandpass: Option<Vec<f64>>,
    /// Also store each record's second lead (its first signal other than --lead), processed
    /// the same way, as signals2.safetensors, for models with `second_lead = true` or
    /// `lead2_context = true`.
    #[arg(long)]
    second_lead: bool,
    /// Only these records (comma-separated); default: all in RECORDS.
    #[arg(long, value_delimiter = ',')]
    records: Vec<String>,
    /// Also write every window (train-scaled) as windows.safetensors: f32 [N, 640].
    #[arg(long)]
    materialize: bool,
    /// Replace an existing output folder.
    #[arg(long)]
    force: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let classes = ClassScheme::from_count(args.classes)
        .ok_or_else(|| anyhow::anyhow!("--classes must be 5 or 6 (got {})", args.classes))?;
    let split = match args.split {
        SplitArg::Paper => SplitKind::Paper {
            test_fraction: args.test_fraction,
        },
        SplitArg::InterPatient => SplitKind::InterPatient,
        SplitArg::RecordFolds => SplitKind::RecordFolds { k: args.folds },
    };
    let bandpass = match args.bandpass.as_deref() {
        None => None,
        Some([lo, hi]) => Some([*lo, *hi]),
        Some(_) => bail!("--bandpass takes LOW,HIGH"),
    };
    let cfg = PrepareConfig {
        lead: args.lead,
        resample: match args.resample {
            ResampleArg::Poly => ResampleMethod::Poly,
            ResampleArg::Fft => ResampleMethod::Fft,
        },
        classes,
        split,
        seed: args.seed,
        remove_baseline: args.remove_baseline,
        bandpass,
        second_lead: args.second_lead,
        ..PrepareConfig::default()
    };
    if args.out.exists() && !args.force {
        bail!(
            "{}: already exists (pass --force to replace it)",
            args.out.display()
        );
    }
    let names = if args.records.is_empty() {
        read_record_list(&args.data)?
    } else {
        args.records
    };
    let t0 = Instant::now();
    let bar = crate::cmd::progress(names.len() as u64, "preparing records");
    let prepared = prepare_to(
        &args.data,
        &names,
        &cfg,
        &args.out,
        args.materialize,
        args.force,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let s = &prepared.summary;
    let sides: Vec<String> = s
        .splits
        .iter()
        .map(|(k, v)| format!("{k} {}", v.windows))
        .collect();
    eprintln!(
        "prepared {} windows from {} records in {:.2} s ({}; dropped {}) -> {}",
        s.n_windows,
        names.len(),
        t0.elapsed().as_secs_f64(),
        sides.join(", "),
        s.dropped.total(),
        args.out.display()
    );
    Ok(())
}
