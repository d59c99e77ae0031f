//! `wonhee detect RECORD --out FILE [--lead NAME|INDEX] [--method M]`: the QRS complexes of one
//! lead (`wonhee-detect`), as a table (`.csv`, `.parquet`: `sample,time_s`) or, for any other
//! file name, a WFDB annotation file in MIT format with every beat labelled `N`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::prelude::{Column, DataFrame};
use wonhee_wfdb::{Annotation, Annotations, Record, symbol_code};

use crate::output::{self, TableFormat};

/// Detection methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Elgendi et al. 2010 (two moving averages of the squared 8-20 Hz band); the default.
    Elgendi,
    /// Pan & Tompkins 1985 (rate-designed filters, adaptive thresholds, search-back).
    PanTompkins,
}

/// Arguments of `wonhee detect`.
#[derive(clap::Args)]
pub struct Args {
    /// The ECG: a WFDB record (path without extension, e.g. ../shared/data/mitdb/100, or its
    /// .hea), a CSV (one column per lead, an optional first `time` column in seconds) or an
    /// EDF/EDF+ file.
    record: PathBuf,
    /// Output: `.csv` or `.parquet` for a `sample,time_s` table; any other name is written as
    /// a WFDB annotation file (MIT format, symbol `N`), e.g. `100.qrs`.
    #[arg(long)]
    out: PathBuf,
    /// Lead to use, by signal description (e.g. MLII) or index (default: MLII when the record
    /// has it, else signal 0).
    #[arg(long)]
    lead: Option<String>,
    /// Detection method.
    #[arg(long, value_enum, default_value = "elgendi")]
    method: MethodArg,
    /// Sampling rate (Hz) of a CSV without a time column.
    #[arg(long)]
    fs: Option<f64>,
}

impl MethodArg {
    /// The detector's method.
    pub fn method(self) -> wonhee_detect::Method {
        match self {
            Self::Elgendi => wonhee_detect::Method::Elgendi,
            Self::PanTompkins => wonhee_detect::Method::PanTompkins,
        }
    }
}

/// The beats of `lead` of the recording at `path` (any input format), with a warning per
/// unusable stretch; an error when nothing in the lead is usable.
pub fn detect_lead(
    path: &Path,
    lead: &wonhee_input::Lead,
    method: MethodArg,
) -> Result<Vec<usize>> {
    let opts = wonhee_detect::Options {
        method: method.method(),
    };
    let found = wonhee_detect::detect_all(&lead.samples, lead.fs, &opts)
        .with_context(|| format!("{}", path.display()))?;
    checked(path, &lead.name, lead.fs, lead.samples.len(), found)
}

/// The beats of `found` once its unusable stretches are reported (a warning each); an error
/// when the whole lead is unusable.
fn checked(
    path: &Path,
    lead: &str,
    fs: f64,
    n: usize,
    found: wonhee_detect::Detection,
) -> Result<Vec<usize>> {
    if found.nothing_usable(n) {
        bail!(
            "{}: lead {lead} holds no usable signal (all flat or missing): nothing to detect",
            path.display()
        );
    }
    for (r, why) in &found.unusable {
        tracing::warn!(
            "{}: no usable signal from {:.2} s to {:.2} s ({}): no beats there",
            path.display(),
            r.start as f64 / fs,
            r.end as f64 / fs,
            match why {
                wonhee_detect::Unusable::Missing => "missing samples",
                wonhee_detect::Unusable::Flat => "flat line",
            }
        );
    }
    Ok(found.beats)
}

/// The signal index of `lead` (a description or an index) in `rec`; MLII, else 0, when absent.
fn pick_lead(rec: &Record, lead: Option<&str>) -> Result<usize> {
    let signals = &rec.header().signals;
    if signals.is_empty() {
        bail!("{}: the record has no signals", rec.header_path().display());
    }
    let Some(lead) = lead else {
        let mlii = signals.iter().position(|s| s.description == "MLII");
        if mlii.is_none() {
            tracing::warn!(
                "{}: no MLII lead; detecting on signal 0 ({})",
                rec.header_path().display(),
                signals[0].description
            );
        }
        return Ok(mlii.unwrap_or(0));
    };
    if let Some(i) = signals.iter().position(|s| s.description == lead) {
        return Ok(i);
    }
    match lead.parse::<usize>() {
        Ok(i) if i < signals.len() => Ok(i),
        _ => bail!(
            "{}: no lead `{lead}` (the record has {})",
            rec.header_path().display(),
            signals
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{i}: {}", s.description))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let table = TableFormat::from_path(&args.out).ok();
    let viewed = match wonhee_input::sniff(&args.record) {
        wonhee_input::InputFormat::Wfdb => detect_wfdb(&args)?,
        _ => None,
    };
    let (beats, fs, n, description) = match viewed {
        Some(found) => found,
        // CSV, EDF, or a WFDB lead that cannot be read by position: read whole.
        None => {
            let opts = wonhee_input::ReadOptions { fs: args.fs };
            let rec = wonhee_input::open(&args.record, &opts)?;
            let (index, fallback) = rec.lead_index(args.lead.as_deref())?;
            if let Some(w) = fallback {
                tracing::warn!("{w}");
            }
            let lead = &rec.leads[index];
            let beats = detect_lead(&rec.path, lead, args.method)?;
            (beats, lead.fs, lead.samples.len(), lead.name.clone())
        }
    };
    match table {
        Some(_) => write_table(&args.out, &beats, fs)?,
        None => write_annotations(&args.out, &beats)?,
    }
    eprintln!(
        "{} beats in {:.1} s of {} -> {}",
        beats.len(),
        n as f64 / fs,
        description,
        args.out.display()
    );
    Ok(())
}

/// The beats found in one lead: the beats, the rate, the number of samples, the lead's name.
type Found = (Vec<usize>, f64, usize, String);

/// A WFDB record's lead, read from its file a stretch at a time (no copy of the lead held):
/// the beats, the rate, the number of samples and the lead's name; `None` when the lead's
/// layout cannot be read by position (e.g. difference-coded format 8).
fn detect_wfdb(args: &Args) -> Result<Option<Found>> {
    let rec = Record::open(&args.record)?;
    let lead = pick_lead(&rec, args.lead.as_deref())?;
    let x = match rec.view(lead) {
        Ok(v) => Lead(v),
        Err(wonhee_wfdb::WfdbError::Unsupported { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let fs = x.0.fs();
    let description = x.0.spec().description.clone();
    let opts = wonhee_detect::Options {
        method: args.method.method(),
    };
    let found = wonhee_detect::detect_in(&x, fs, &opts)
        .with_context(|| format!("{}", rec.header_path().display()))?;
    let beats = checked(rec.header_path(), &description, fs, x.0.len(), found)?;
    Ok(Some((beats, fs, x.0.len(), description)))
}

/// A lead of a WFDB record as a detection [`wonhee_detect::Source`].
struct Lead(wonhee_wfdb::SignalView);

impl wonhee_detect::Source for Lead {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<(), wonhee_detect::ReadError> {
        Ok(self.0.physical_into(start, out)?)
    }
}

fn write_table(path: &Path, beats: &[usize], fs: f64) -> Result<()> {
    let cols = vec![
        Column::new(
            "sample".into(),
            beats.iter().map(|&b| b as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "time_s".into(),
            beats.iter().map(|&b| b as f64 / fs).collect::<Vec<_>>(),
        ),
    ];
    let mut df = DataFrame::new(beats.len(), cols)?;
    output::write_table(path, &mut df)
}

fn write_annotations(path: &Path, beats: &[usize]) -> Result<()> {
    let code = symbol_code("N").context("the WFDB code of `N`")?;
    let anns: Vec<Annotation> = beats
        .iter()
        .map(|&b| Annotation::new(b as i64, code))
        .collect();
    let bytes = Annotations::encode(&anns, path)?;
    wonhee_fs::write_atomic(path, &bytes)?;
    Ok(())
}
