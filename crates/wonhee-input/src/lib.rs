//! ECG recordings from WFDB, EDF/EDF+ and CSV files, as leads in physical units.
//!
//! ```no_run
//! use std::path::Path;
//! use wonhee_input::{ReadOptions, open};
//!
//! # fn main() -> Result<(), wonhee_input::InputError> {
//! // The format follows the extension: .csv/.tsv/.txt, .edf/.rec, else a WFDB record.
//! let rec = open(Path::new("holter.csv"), &ReadOptions { fs: Some(250.0) })?;
//! let (i, warning) = rec.lead_index(None)?; // MLII when present, else lead 0
//! if let Some(w) = warning {
//!     eprintln!("{w}");
//! }
//! let lead = &rec.leads[i];
//! println!("{}: {} samples at {} Hz in {}", lead.name, lead.samples.len(), lead.fs, lead.unit);
//! # Ok(()) }
//! ```
//!
//! What each format gives:
//! - **WFDB** ([`wonhee_wfdb`]): every signal, `(d - baseline) / gain` computed in `f64`, NaN
//!   for the invalid-sample marker; the name is the signal's description.
//! - **EDF, EDF+C**: every signal but `EDF Annotations`, each at its own rate (samples per
//!   data record / record duration), `(d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin`
//!   computed in `f64`; the name is the trimmed label, kept as written (`ECG MLII` stays
//!   `ECG MLII`: [`Recording::lead_index`] matches it with or without the `ECG ` prefix), the
//!   unit the physical dimension. EDF+D (discontinuous) and BDF are refused. [`write_edf`]
//!   writes EDF files (for tests, fixtures and benches).
//! - **CSV** (also `;`-, tab- or space-separated): one row per sample, one column per lead. The
//!   first non-blank line is a header when one of its cells is not a number; without one the
//!   leads are named `0`, `1`, .... A first column named `time`, `time_s`, `t`, `seconds`
//!   (seconds) or `time_ms` (milliseconds) gives the rate; otherwise [`ReadOptions::fs`] must.
//!   Empty cells and `NaN` are missing samples (NaN); blank lines are skipped; cells may be
//!   quoted but may not contain the separator; the unit is unknown (empty).
//!
//! Every error ([`InputError`]) names the file and the place: line and column for CSV, header
//! field, signal or data record with its byte offset for EDF, line or byte offset for WFDB.
//! No file content makes this crate panic.
//!
//! Speed: a file is read with one `read` call; EDF samples are converted in parallel, CSV rows
//! are parsed in parallel chunks with a float parser that takes Clinger's fast path (exact
//! significand and power of ten, one division) and is bit-identical to `str::parse::<f32>`
//! (docs/benchmarks.md has the numbers).

mod csv;
mod edf;
mod error;
mod float;
mod wfdb;

use std::fmt;
use std::path::{Path, PathBuf};

pub use edf::write_edf;
pub use error::{Column, InputError};

/// The file formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// A PhysioNet WFDB record (`.hea` + signal files).
    Wfdb,
    /// EDF or EDF+ (continuous).
    Edf,
    /// Comma-, semicolon-, tab- or space-separated text.
    Csv,
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wfdb => "WFDB",
            Self::Edf => "EDF",
            Self::Csv => "CSV",
        })
    }
}

/// One lead of a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    /// Its name: WFDB description, EDF label, CSV header or 0-based column index.
    pub name: String,
    /// Physical unit as the file states it (`mV`, `uV`); empty when unknown (CSV).
    pub unit: String,
    /// Sampling rate (Hz).
    pub fs: f64,
    /// Samples in physical units; NaN marks a missing sample.
    pub samples: Vec<f32>,
}

/// A recording: the leads of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// The path it was opened from.
    pub path: PathBuf,
    /// Its format.
    pub format: InputFormat,
    /// Its leads (at least one), in file order.
    pub leads: Vec<Lead>,
}

/// How to read a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadOptions {
    /// Sampling rate (Hz): required for a CSV file without a time column. Where the file
    /// states its rate (a time column, WFDB, EDF), a rate given here must agree with it (with
    /// every lead's, for EDF) within 1%.
    pub fs: Option<f64>,
}

/// The format of `path`, from its extension (ignoring case): `.csv`, `.tsv`, `.txt` are CSV;
/// `.edf`, `.rec` are EDF; anything else is a WFDB record (`dir/100`, `dir/100.hea`).
pub fn sniff(path: &Path) -> InputFormat {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv" | "tsv" | "txt") => InputFormat::Csv,
        Some("edf" | "rec") => InputFormat::Edf,
        _ => InputFormat::Wfdb,
    }
}

/// Reads every lead of the recording at `path`, in the format [`sniff`] names.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Recording, InputError> {
    let format = sniff(path);
    if let Some(fs) = opts.fs
        && !(fs.is_finite() && fs > 0.0)
    {
        return Err(InputError::invalid(
            path,
            format!("sampling rate {fs} Hz: it must be a positive number"),
        ));
    }
    let leads = match format {
        InputFormat::Csv => csv::read(path, opts)?,
        InputFormat::Edf => edf::read(path)?,
        InputFormat::Wfdb => wfdb::read(path)?,
    };
    if leads.is_empty() {
        return Err(InputError::invalid(path, "no leads"));
    }
    if let (Some(fs), InputFormat::Edf | InputFormat::Wfdb) = (opts.fs, format)
        && let Some(l) = leads.iter().find(|l| (l.fs - fs).abs() > 0.01 * l.fs)
    {
        return Err(InputError::invalid(
            path,
            format!(
                "lead `{}` is sampled at {} Hz, but the sampling rate given is {fs} Hz",
                l.name, l.fs
            ),
        ));
    }
    Ok(Recording {
        path: path.to_path_buf(),
        format,
        leads,
    })
}

/// `name` without a leading `ECG ` (any case) and surrounding spaces.
fn without_ecg(name: &str) -> &str {
    let n = name.trim();
    match n.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("ecg ") => n[4..].trim_start(),
        _ => n,
    }
}

impl Recording {
    /// The lead named `name`: exactly, else ignoring ASCII case, else ignoring case and a
    /// leading `ECG ` on either side (`MLII` finds `ECG MLII`).
    pub fn find_lead(&self, name: &str) -> Option<usize> {
        let leads = &self.leads;
        leads
            .iter()
            .position(|l| l.name == name)
            .or_else(|| leads.iter().position(|l| l.name.eq_ignore_ascii_case(name)))
            .or_else(|| {
                let want = without_ecg(name);
                leads
                    .iter()
                    .position(|l| without_ecg(&l.name).eq_ignore_ascii_case(want))
            })
    }

    /// The lead to use: `sel` is a lead name (as [`Recording::find_lead`] matches it) or a
    /// 0-based index; `None` picks `MLII` when present, else lead 0, with a one-line warning
    /// (the second value) saying so.
    pub fn lead_index(&self, sel: Option<&str>) -> Result<(usize, Option<String>), InputError> {
        let Some(first) = self.leads.first() else {
            return Err(InputError::invalid(&self.path, "no leads"));
        };
        match sel {
            Some(s) => self
                .find_lead(s)
                .or_else(|| s.trim().parse().ok().filter(|&i| i < self.leads.len()))
                .map(|i| (i, None))
                .ok_or_else(|| {
                    let names: Vec<String> = self
                        .leads
                        .iter()
                        .enumerate()
                        .map(|(i, l)| format!("{i} `{}`", l.name))
                        .collect();
                    InputError::invalid(
                        &self.path,
                        format!("no lead `{s}` (the leads are {})", names.join(", ")),
                    )
                }),
            None => Ok(match self.find_lead("MLII") {
                Some(i) => (i, None),
                None => (
                    0,
                    Some(format!(
                        "{}: no lead MLII; using lead 0 (`{}`)",
                        self.path.display(),
                        first.name
                    )),
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_extension() {
        for (p, f) in [
            ("a.csv", InputFormat::Csv),
            ("a.TSV", InputFormat::Csv),
            ("dir/a.txt", InputFormat::Csv),
            ("a.EDF", InputFormat::Edf),
            ("a.rec", InputFormat::Edf),
            ("data/mitdb/100", InputFormat::Wfdb),
            ("100.hea", InputFormat::Wfdb),
            ("100.dat", InputFormat::Wfdb),
        ] {
            assert_eq!(sniff(Path::new(p)), f, "{p}");
        }
    }

    fn rec(names: &[&str]) -> Recording {
        Recording {
            path: "r.edf".into(),
            format: InputFormat::Edf,
            leads: names
                .iter()
                .map(|n| Lead {
                    name: (*n).into(),
                    unit: "mV".into(),
                    fs: 360.0,
                    samples: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn leads_are_found_by_name_prefix_or_index() {
        let r = rec(&["ECG V5", "ECG MLII", "mlii", "2"]);
        assert_eq!(r.lead_index(None).unwrap(), (2, None));
        assert_eq!(r.lead_index(Some("MLII")).unwrap(), (2, None));
        assert_eq!(r.lead_index(Some("ECG MLII")).unwrap(), (1, None));
        assert_eq!(r.lead_index(Some("v5")).unwrap(), (0, None));
        assert_eq!(r.lead_index(Some("ecg v5")).unwrap(), (0, None));
        assert_eq!(
            r.lead_index(Some("2")).unwrap(),
            (3, None),
            "a name before an index"
        );
        assert_eq!(r.lead_index(Some("1")).unwrap(), (1, None));
        let err = r.lead_index(Some("4")).unwrap_err().to_string();
        assert!(
            err.starts_with("r.edf: no lead `4`") && err.contains("1 `ECG MLII`"),
            "{err}"
        );

        let r = rec(&["ECG MLII", "V1"]);
        assert_eq!(r.lead_index(None).unwrap(), (0, None));
        let r = rec(&["V1", "V5"]);
        let (i, w) = r.lead_index(None).unwrap();
        assert_eq!(i, 0);
        assert_eq!(
            w.as_deref(),
            Some("r.edf: no lead MLII; using lead 0 (`V1`)")
        );
        let err = rec(&[]).lead_index(None).unwrap_err().to_string();
        assert_eq!(err, "r.edf: no leads");
    }
}
