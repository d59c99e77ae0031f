//! `wonhee export INPUT --out FILE [--digital] [--signals 0,1] [--resample HZ] [--fs HZ]`: a
//! WFDB record, a CSV or an EDF/EDF+ file as a table.

use std::path::PathBuf;

use anyhow::{Result, bail};
use polars::prelude::*;
use wonhee_signal::{PolyphaseResampler, fill_nan_linear};
use wonhee_wfdb::Record;

use crate::output;

/// Arguments of `wonhee export`.
#[derive(clap::Args)]
pub struct Args {
    /// The ECG: a WFDB record (path without extension, e.g. ../shared/data/mitdb/100, or its
    /// .hea), a CSV or an EDF/EDF+ file.
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
    /// Sampling rate (Hz) of a CSV without a time column.
    #[arg(long)]
    fs: Option<f64>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    output::TableFormat::from_path(&args.out)?;
    if wonhee_input::sniff(&args.record) != wonhee_input::InputFormat::Wfdb {
        return export_any(&args);
    }
    let rec = Record::open(&args.record)?;
    let mut sigs = if args.signals.is_empty() {
        rec.read_signals()?
    } else {
        rec.read_selected(&args.signals)?
    };
    if !sigs.is_frame_rate() {
        // One row per frame: signals with several samples per frame are averaged over each
        // frame, as wfdb-python's `rdrecord(smooth_frames=True)` reads them: a warning, as the
        // samples within each frame are lost.
        tracing::warn!(
            record = %rec.header_path().display(),
            "signals with several samples per frame averaged to the frame rate"
        );
        sigs = sigs.smooth_frames();
    }
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

/// [`run`] for a CSV or EDF input: physical values only; leads of one rate.
fn export_any(args: &Args) -> Result<()> {
    let rec = wonhee_input::open(&args.record, &wonhee_input::ReadOptions { fs: args.fs })?;
    let path = rec.path.display().to_string();
    if args.digital {
        bail!("{path}: --digital needs a WFDB record (CSV and EDF inputs give physical values)");
    }
    let picked: Vec<&wonhee_input::Lead> = if args.signals.is_empty() {
        rec.leads.iter().collect()
    } else {
        args.signals
            .iter()
            .map(|&i| {
                rec.leads.get(i).ok_or_else(|| {
                    anyhow::anyhow!("{path}: no lead {i} (it has {})", rec.leads.len())
                })
            })
            .collect::<Result<_>>()?
    };
    let Some(first) = picked.first() else {
        bail!("{path}: no leads");
    };
    let (fs, n) = (first.fs, first.samples.len());
    if picked.iter().any(|l| l.fs != fs || l.samples.len() != n) {
        bail!("{path}: the leads have different rates; export them one at a time (--signals)");
    }
    let resampler = match args.resample {
        None => None,
        Some(to) => {
            let (up, down) = wonhee_dataset::rate_ratio(fs, f64::from(to))
                .ok_or_else(|| anyhow::anyhow!("{path}: cannot resample {fs} Hz to {to} Hz"))?;
            Some(PolyphaseResampler::new(up, down)?)
        }
    };
    let rows = resampler.as_ref().map_or(n, |r| r.output_len(n));
    let names = output::unique_names(picked.iter().map(|l| l.name.as_str()));
    let mut cols: Vec<Column> = vec![Column::new(
        "sample".into(),
        (0..rows as i64).collect::<Vec<i64>>(),
    )];
    for (lead, name) in picked.iter().zip(&names) {
        let mut x: Vec<f64> = lead.samples.iter().map(|&v| f64::from(v)).collect();
        if let Some(r) = &resampler {
            fill_nan_linear(&mut x)?;
            x = r.process(&x);
        }
        cols.push(Column::new(name.as_str().into(), x));
    }
    let mut df = DataFrame::new(rows, cols)?;
    output::write_table(&args.out, &mut df)?;
    Ok(())
}
