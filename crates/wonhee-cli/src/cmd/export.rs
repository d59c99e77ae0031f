//! `wonhee export RECORD --out FILE [--digital] [--signals 0,1]`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use polars::prelude::*;
use wonhee_signal::{PolyphaseResampler, fill_nan_linear};
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
    /// Resample to this rate (Hz) with the polyphase filter; the `sample` column then counts
    /// samples at the new rate. Physical units only.
    #[arg(long, conflicts_with = "digital")]
    resample: Option<u32>,
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
    let mut n = sigs.n_samples();
    let resampler = match args.resample {
        None => None,
        Some(to) => {
            let fs = sigs.fs();
            if fs.fract() != 0.0 || fs < 1.0 {
                bail!(
                    "{}: sampling frequency {fs} Hz is not a whole number; cannot resample",
                    rec.header_path().display()
                );
            }
            let r = PolyphaseResampler::new(to as usize, fs as usize)?;
            n = r.output_len(n);
            Some(r)
        }
    };
    let mut cols: Vec<Column> = Vec::with_capacity(names.len() + 1);
    cols.push(Column::new(
        "sample".into(),
        (0..n as i64).collect::<Vec<i64>>(),
    ));
    for (i, name) in names.iter().enumerate() {
        let col = if args.digital {
            Column::new(name.as_str().into(), sigs.digital(i))
        } else {
            let mut x = sigs.physical_f64(i);
            if let Some(r) = &resampler {
                // Invalid samples would smear NaN over the filter length: interpolate first.
                let filled = fill_nan_linear(&mut x)?;
                if filled > 0 {
                    tracing::warn!(
                        signal = i,
                        filled,
                        "invalid samples interpolated before resampling"
                    );
                }
                x = r.process(&x);
            }
            Column::new(name.as_str().into(), x)
        };
        cols.push(col);
    }
    let mut df = DataFrame::new(n, cols)?;
    output::write_table(&args.out, &mut df)?;
    tracing::info!(out = %args.out.display(), rows = n, "exported");
    Ok(())
}
