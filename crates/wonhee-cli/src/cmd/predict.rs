//! `wonhee predict --run RUN RECORD --out beats.csv`: classify every annotated beat of a record.

use std::path::PathBuf;

use anyhow::{Result, bail};
use polars::prelude::*;
use wonhee_train::{Run, predict_record};

/// Arguments of `wonhee predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folder (from `wonhee train`).
    #[arg(long)]
    run: PathBuf,
    /// WFDB record path without extension (`.hea` accepted), e.g. ../shared/data/mitdb/100.
    record: PathBuf,
    /// Output table (.csv or .parquet): sample,symbol,true_class,pred_class,p_<class>...,padded.
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let device = wonhee_model::device::parse_device(&args.device)?;
    let run = Run::open(&args.run, &device)?;
    let record = match args.record.extension().and_then(|e| e.to_str()) {
        Some("hea") => args.record.with_extension(""),
        _ => args.record.clone(),
    };
    let beats = predict_record(&run, &record, args.batch)?;
    if beats.is_empty() {
        bail!("{}: no annotated beats to classify", record.display());
    }
    let classes = &run.info.dataset.classes;
    let mut cols: Vec<Column> = vec![
        Column::new(
            "sample".into(),
            beats.iter().map(|b| b.sample).collect::<Vec<_>>(),
        ),
        Column::new(
            "symbol".into(),
            beats.iter().map(|b| b.symbol.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "true_class".into(),
            beats
                .iter()
                .map(|b| b.true_class.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "pred_class".into(),
            beats
                .iter()
                .map(|b| b.pred_class.as_str())
                .collect::<Vec<_>>(),
        ),
    ];
    for (c, name) in classes.iter().enumerate() {
        cols.push(Column::new(
            format!("p_{name}").into(),
            beats.iter().map(|b| b.probs[c]).collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "padded".into(),
        beats.iter().map(|b| b.padded).collect::<Vec<_>>(),
    ));
    let mut df = DataFrame::new(beats.len(), cols)?;
    crate::output::write_table(&args.out, &mut df)?;
    let correct = beats
        .iter()
        .filter(|b| b.true_class == b.pred_class)
        .count();
    eprintln!(
        "{} beats, {:.2}% agree with the annotations -> {}",
        beats.len(),
        100.0 * correct as f64 / beats.len() as f64,
        args.out.display()
    );
    Ok(())
}
