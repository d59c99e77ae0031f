//! `wonhee export RECORD --out FILE [--digital] [--signals 0,1]`.

use std::path::PathBuf;

use anyhow::Result;
use polars::prelude::*;
use wonhee_wfdb::Record;

use crate::output;

/// Arguments of `wonhee export`.
#[derive(clap::Args)]
pub struct Args {
    /// Record path without extension (e.g. ../shared/data/mitdb/100) or its .hea file.
    record: PathBuf,
    /// Output file: .csv or .parquet.
    #[arg(long)]
    out: PathBuf,
    /// Integer ADC values instead of physical units.
    #[arg(long)]
    digital: bool,
    /// Signals to export, by index, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    signals: Vec<usize>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    output::TableFormat::from_path(&args.out)?;
    let rec = Record::open(&args.record)?;
    let sigs = if args.signals.is_empty() {
        rec.read_signals()?
    } else {
        rec.read_selected(&args.signals)?
    };
    let names = output::unique_names(sigs.specs().iter().map(|s| s.description.as_str()));
    let n = sigs.n_samples();
    let mut cols: Vec<Column> = Vec::with_capacity(names.len() + 1);
    cols.push(Column::new(
        "sample".into(),
        (0..n as i64).collect::<Vec<i64>>(),
    ));
    for (i, name) in names.iter().enumerate() {
        let col = if args.digital {
            Column::new(name.as_str().into(), sigs.digital(i))
        } else {
            Column::new(name.as_str().into(), sigs.physical_f64(i))
        };
        cols.push(col);
    }
    let mut df = DataFrame::new(n, cols)?;
    output::write_table(&args.out, &mut df)?;
    tracing::info!(out = %args.out.display(), rows = n, "exported");
    Ok(())
}
