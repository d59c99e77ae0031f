//! Raw WFDB records -> per-record standardized 128 Hz signals and a beat-window index.

use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use wonhee_signal::{PolyphaseResampler, Scaler, integer_mean_std, resample_fft};
use wonhee_wfdb::{Annotations, Header, ReadBuffers, Record, Signals};

use wonhee_schema::{
    ClassCounts, InputFile, OverlapStats, PrepareConfig, RecordSummary, ResampleMethod, SecondLead,
    Side, SideSummary, SplitKind, Summary,
};

use crate::error::{DatasetError, Result};
use crate::lead::standardize_physical;
use crate::prepared::{BeatTable, Prepared};
use crate::rhythm::{RrIntervals, rr_intervals};
use crate::splits::{record_sides, stratified_sides};

/// One record processed as in [`prepare`]: its standardized, resampled lead and the windows of
/// its beats (see [`prepare_record`]).
pub struct RecordWindows {
    /// Record name.
    pub name: String,
    /// The lead, z-scored with the record's own statistics and resampled (no train scaler).
    pub signal: Vec<f32>,
    /// The second lead, processed the same way, when [`PrepareConfig::second_lead`] is set.
    pub signal2: Option<Vec<f32>>,
    /// Lead used, rates, z-score, per-class counts.
    pub summary: RecordSummary,
    /// Window centre of each kept beat, in samples of `signal`.
    pub centre: Vec<i64>,
    /// Annotation sample of each kept beat, at the record's rate.
    pub sample: Vec<i64>,
    /// Annotation code of each kept beat (`wonhee_wfdb::code_symbol` gives the symbol).
    pub code: Vec<u8>,
    /// Class index of each kept beat.
    pub label: Vec<u8>,
    /// RR intervals around each kept beat (from all the record's beats, kept or not).
    pub rr: Vec<RrIntervals>,
    /// Checksums of the files read.
    pub inputs: Vec<InputFile>,
}

/// Processes one record exactly as [`prepare`] does (lead choice, z-score, resampling, beat
/// windows, labels), for applying a trained model to a new record. Beats whose window does
/// not fit in the record are counted in `summary.dropped`; they are returned too when
/// `keep_edge_beats` is set (their windows reach past the signal; the caller pads them).
pub fn prepare_record(
    dir: &Path,
    name: &str,
    cfg: &PrepareConfig,
    keep_edge_beats: bool,
) -> Result<RecordWindows> {
    process_record(dir, name, cfg, keep_edge_beats)
}

/// Round `num / den` to the nearest integer, ties to even (numpy's rule).
pub(crate) fn div_round_even(num: i128, den: i128) -> i64 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    let twice = 2 * r;
    let q = if twice > den || (twice == den && q % 2 != 0) {
        q + 1
    } else {
        q
    };
    q as i64
}

/// Name, size and SHA-256 of an input file whose bytes are in hand.
fn input_file(path: &Path, bytes: &[u8]) -> InputFile {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    InputFile {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: bytes.len() as u64,
        sha256: hex,
    }
}

/// Per-thread memory of [`process_record`], kept between records: a fresh multi-megabyte
/// buffer per record costs more in page faults and kernel page zeroing than the arithmetic
/// done on it.
#[derive(Default)]
struct Scratch {
    read: ReadBuffers,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Reads the names in `dir/RECORDS`.
pub fn read_record_list(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("RECORDS");
    let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
    let names: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    if names.is_empty() {
        return Err(DatasetError::invalid(&path, "lists no records"));
    }
    Ok(names)
}

fn process_record(
    dir: &Path,
    name: &str,
    cfg: &PrepareConfig,
    keep_edge_beats: bool,
) -> Result<RecordWindows> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => process_record_with(dir, name, cfg, keep_edge_beats, &mut s),
        // Re-entered on this thread (cannot happen today): use fresh memory.
        Err(_) => process_record_with(dir, name, cfg, keep_edge_beats, &mut Scratch::default()),
    })
}

/// [`process_record`] with the calling thread's scratch memory `s`.
fn process_record_with(
    dir: &Path,
    name: &str,
    cfg: &PrepareConfig,
    keep_edge_beats: bool,
    s: &mut Scratch,
) -> Result<RecordWindows> {
    let rec = Record::open(dir.join(name))?;
    let (fs_in, lead_index, lead_found) = check_header(&rec, cfg)?;
    let (h, hea) = (rec.header(), rec.header_path());
    let second = if cfg.second_lead {
        Some(second_lead_index(&rec, lead_index)?)
    } else {
        None
    };
    let selected: Vec<usize> = std::iter::once(lead_index).chain(second).collect();
    // Inputs in summary order: header, annotations, then the signal files read.
    let (n_in, mut inputs, signal_files) = read_leads(&rec, &selected, &mut s.read)?;
    let digital = s.read.signal(0);
    let (resampler, n_out) = resampler_for(fs_in, n_in, cfg, hea)?;
    let (z, nan_filled, lead) = standardize_lead(digital, h, lead_index, fs_in, cfg, hea)?;
    let signal = resample_lead(cfg.resample, lead, digital, &resampler, n_out);
    let (signal2, second_summary) = match second {
        Some(i) => {
            let digital = s.read.signal(1);
            let (z, nan_filled, lead) = standardize_lead(digital, h, i, fs_in, cfg, hea)?;
            let summary = SecondLead {
                lead: h.signals[i].description.clone(),
                lead_index: i,
                zscore: z,
                nan_filled,
            };
            let sig = resample_lead(cfg.resample, lead, digital, &resampler, n_out);
            (Some(sig), Some(summary))
        }
        None => (None, None),
    };

    let ann = read_annotations(&rec, &mut inputs)?;
    inputs.extend(signal_files);
    let n_classes = cfg.classes.len();
    let mut out = RecordWindows {
        name: name.to_owned(),
        signal,
        signal2,
        summary: RecordSummary {
            record: name.to_owned(),
            lead: h.signals[lead_index].description.clone(),
            lead_index,
            lead_found,
            fs: fs_in as f64,
            n_samples: n_in,
            n_resampled: n_out,
            zscore: z,
            nan_filled,
            second_lead: second_summary,
            beats: vec![0; n_classes],
            windows: vec![0; n_classes],
            dropped: vec![0; n_classes],
            side: None,
        },
        centre: Vec::new(),
        sample: Vec::new(),
        code: Vec::new(),
        label: Vec::new(),
        rr: Vec::new(),
        inputs,
    };
    add_beats(&mut out, &ann, cfg, fs_in, n_out, keep_edge_beats);
    Ok(out)
}

/// Checks that `rec` has a signal and a whole sampling rate; returns the rate and the lead to
/// use: the index of `cfg.lead`, or 0 (with `false`) when the record has no such lead.
fn check_header(rec: &Record, cfg: &PrepareConfig) -> Result<(usize, usize, bool)> {
    let h = rec.header();
    let hea = rec.header_path();
    if h.signals.is_empty() {
        return Err(DatasetError::invalid(hea, "record has no signals"));
    }
    let fs_in = h.fs;
    if fs_in.fract() != 0.0 || !(1.0..=1e6).contains(&fs_in) {
        return Err(DatasetError::invalid(
            hea,
            format!("sampling frequency {fs_in} Hz is not a whole number; cannot resample"),
        ));
    }
    let (lead_index, lead_found) = match h.signal_index(&cfg.lead) {
        Some(i) => (i, true),
        None => (0, false),
    };
    let spec = &h.signals[lead_index];
    if spec.samples_per_frame != 1 || spec.skew != 0 {
        return Err(DatasetError::invalid(
            hea,
            format!(
                "lead {lead_index} ({}) has {} samples per frame and skew {}; preparing a \
                 dataset needs one sample per frame and no skew (annotations count frames)",
                spec.description, spec.samples_per_frame, spec.skew
            ),
        ));
    }
    Ok((fs_in as usize, lead_index, lead_found))
}

/// The record's second lead for [`PrepareConfig::second_lead`]: its first signal other than
/// `lead_index`, which must have one sample per frame and no skew.
fn second_lead_index(rec: &Record, lead_index: usize) -> Result<usize> {
    let (h, hea) = (rec.header(), rec.header_path());
    let Some(i) = (0..h.signals.len()).find(|&i| i != lead_index) else {
        return Err(DatasetError::invalid(
            hea,
            "record has one signal; preparing with a second lead needs two",
        ));
    };
    let spec = &h.signals[i];
    if spec.samples_per_frame != 1 || spec.skew != 0 {
        return Err(DatasetError::invalid(
            hea,
            format!(
                "second lead {i} ({}) has {} samples per frame and skew {}; preparing a \
                 dataset needs one sample per frame and no skew",
                spec.description, spec.samples_per_frame, spec.skew
            ),
        ));
    }
    Ok(i)
}

/// Reads the leads `selected` of `rec` into `buf` (slot k holds `selected[k]`); returns their
/// number of samples, the header's checksum and those of the signal files read. Each file is
/// read once; its checksum is taken from the bytes used.
fn read_leads(
    rec: &Record,
    selected: &[usize],
    buf: &mut ReadBuffers,
) -> Result<(usize, Vec<InputFile>, Vec<InputFile>)> {
    let hea = rec.header_path();
    let hea_bytes = std::fs::read(hea).map_err(|e| DatasetError::io(hea, e))?;
    let inputs = vec![input_file(hea, &hea_bytes)];
    let mut signal_files = Vec::new();
    let n_in = rec.read_selected_into(selected, buf, &mut |p, b| {
        signal_files.push(input_file(p, b));
    })?;
    Ok((n_in, inputs, signal_files))
}

/// The resampler from `fs_in` to `cfg.fs`, and the length of `n_in` samples once resampled;
/// an error when that is shorter than one window.
fn resampler_for(
    fs_in: usize,
    n_in: usize,
    cfg: &PrepareConfig,
    hea: &Path,
) -> Result<(PolyphaseResampler, usize)> {
    let fs_out = cfg.fs as usize;
    let resampler =
        PolyphaseResampler::new(fs_out, fs_in).map_err(|e| DatasetError::Config(e.to_string()))?;
    let n_out = resampler.output_len(n_in);
    if n_out < cfg.window {
        return Err(DatasetError::invalid(
            hea,
            format!(
                "record is {n_out} samples long at {fs_out} Hz, shorter than one {}-sample window",
                cfg.window
            ),
        ));
    }
    Ok((resampler, n_out))
}

/// Reads and parses the record's `atr` annotations; appends the file's checksum to `inputs`.
fn read_annotations(rec: &Record, inputs: &mut Vec<InputFile>) -> Result<Annotations> {
    let atr = rec.file_path("atr");
    let atr_bytes = std::fs::read(&atr).map_err(|e| DatasetError::io(&atr, e))?;
    inputs.push(input_file(&atr, &atr_bytes));
    Ok(Annotations::parse(&atr_bytes, &atr)?)
}

/// The z-scored lead (see [`standardize_lead`]). Fast path (no invalid samples, no filters):
/// the z-score of the physical values (d - baseline) / gain equals that of the digital values,
/// whose mean and variance are computed exactly from integer sums; the polyphase kernel (f32,
/// as the output is stored) z-scores the digital samples as it reads them. Otherwise the
/// physical values are filled, filtered and z-scored in f64. The FFT path runs in f64.
enum Lead {
    /// Digital samples with their mean and 1 / std.
    Digital(f64, f64),
    /// Z-scored physical values.
    Physical(Vec<f64>),
}

/// Z-scores the digital samples `digital` of lead `lead_index` (filtering them first when `cfg`
/// asks for it); returns the z-score in physical units, the number of invalid samples filled,
/// and the lead to resample.
fn standardize_lead(
    digital: &[i32],
    h: &Header,
    lead_index: usize,
    fs_in: usize,
    cfg: &PrepareConfig,
    hea: &Path,
) -> Result<(Scaler, usize, Lead)> {
    let spec = &h.signals[lead_index];
    let invalid = spec.format.invalid_value();
    let filters = cfg.remove_baseline || cfg.bandpass.is_some();
    let fast = if filters {
        None
    } else {
        integer_mean_std(digital, Some(invalid))
    };
    if let Some((mean_d, std_d)) = fast {
        let z = Scaler {
            mean: (mean_d - f64::from(spec.baseline)) / spec.gain,
            std: std_d / spec.gain,
        };
        return Ok((z, 0, Lead::Digital(mean_d, 1.0 / std_d)));
    }
    let sig = Signals::new(vec![spec.clone()], h.fs, vec![digital.to_vec()])
        .ok_or_else(|| DatasetError::invalid(hea, "signal has no samples"))?;
    let mut x = sig.physical_f64(0);
    let prefix = format!("lead {lead_index}: ");
    let (z, nan_filled) = standardize_physical(&mut x, fs_in as f64, cfg, hea, &prefix)?;
    Ok((z, nan_filled, Lead::Physical(x)))
}

/// Resamples the z-scored `lead` to `n_out` samples with `method`, as f32.
fn resample_lead(
    method: ResampleMethod,
    lead: Lead,
    digital: &[i32],
    resampler: &PolyphaseResampler,
    n_out: usize,
) -> Vec<f32> {
    let mut signal = vec![0f32; n_out];
    match (method, lead) {
        (ResampleMethod::Poly, Lead::Physical(x)) => {
            resampler.process_f32_map_into(&x, |v| v as f32, &mut signal)
        }
        (ResampleMethod::Poly, Lead::Digital(mean, inv)) => resampler.process_f32_map_into(
            digital,
            |v| ((f64::from(v) - mean) * inv) as f32,
            &mut signal,
        ),
        (ResampleMethod::Fft, lead) => {
            let x = match lead {
                Lead::Physical(x) => x,
                Lead::Digital(mean, inv) => digital
                    .iter()
                    .map(|&v| (f64::from(v) - mean) * inv)
                    .collect(),
            };
            for (o, v) in signal.iter_mut().zip(resample_fft(&x, n_out)) {
                *o = v as f32;
            }
        }
    }
    signal
}

/// Appends to `out` the beats of `ann` that have a class in `cfg`, with their window centres
/// at `cfg.fs` and RR intervals, and counts them; beats whose window does not fit in the
/// `n_out` resampled samples are counted as dropped and kept only with `keep_edge_beats`.
fn add_beats(
    out: &mut RecordWindows,
    ann: &Annotations,
    cfg: &PrepareConfig,
    fs_in: usize,
    n_out: usize,
    keep_edge_beats: bool,
) {
    let half = (cfg.window / 2) as i64;
    let fs_out = cfg.fs as usize;
    let beats: Vec<(&wonhee_wfdb::Annotation, u8)> = ann
        .annotations
        .iter()
        .filter_map(|a| cfg.classes.label(ann.symbol_of(a)).map(|l| (a, l)))
        .collect();
    let samples: Vec<i64> = beats.iter().map(|(a, _)| a.sample).collect();
    let rr = rr_intervals(&samples, fs_in as f64);
    for (&(a, label), rr) in beats.iter().zip(rr) {
        out.summary.beats[usize::from(label)] += 1;
        let c = div_round_even(i128::from(a.sample) * fs_out as i128, fs_in as i128);
        if c - half < 0 || c + half > n_out as i64 {
            out.summary.dropped[usize::from(label)] += 1;
            if !keep_edge_beats {
                continue;
            }
        } else {
            out.summary.windows[usize::from(label)] += 1;
        }
        out.centre.push(c);
        out.sample.push(a.sample);
        out.code.push(a.code);
        out.label.push(label);
        out.rr.push(rr);
    }
}

/// Prepares the records `names` of `dir`. `progress` is called once per finished record.
pub fn prepare(
    dir: &Path,
    names: &[String],
    cfg: &PrepareConfig,
    progress: &(dyn Fn() + Sync),
) -> Result<Prepared> {
    let (Signals2 { signals, signals2 }, parts) = process_all(dir, names, cfg, progress)?;
    let (records, beats, summary) = assemble(cfg, parts, &signals)?;
    Ok(Prepared {
        config: cfg.clone(),
        records,
        signals,
        signals2,
        beats,
        summary,
    })
}

/// [`prepare`] then [`crate::write_dataset`], faster: the signals are written while the beat
/// index, splits and scaler are assembled and written. `out` is written completely or not at
/// all; an existing `out` is replaced only when `overwrite` is set (checked before any work).
pub fn prepare_to(
    dir: &Path,
    names: &[String],
    cfg: &PrepareConfig,
    out: &Path,
    materialize: bool,
    overwrite: bool,
    progress: &(dyn Fn() + Sync),
) -> Result<Prepared> {
    crate::writer::check_out(out, overwrite)?;
    let (Signals2 { signals, signals2 }, parts) = process_all(dir, names, cfg, progress)?;
    let t0 = std::time::Instant::now();
    let p = wonhee_fs::write_dir_with(out, |tmp| -> Result<Prepared> {
        let (sig, rest) = rayon::join(
            || -> Result<()> {
                crate::writer::write_signals(names, &signals, &tmp.join(crate::SIGNALS_FILE))?;
                if !signals2.is_empty() {
                    let path = tmp.join(crate::SIGNALS2_FILE);
                    crate::writer::write_signals(names, &signals2, &path)?;
                }
                Ok(())
            },
            || -> Result<_> {
                let (records, beats, summary) = assemble(cfg, parts, &signals)?;
                crate::writer::write_beats(
                    &records,
                    &beats,
                    &summary.classes,
                    &tmp.join(crate::BEATS_FILE),
                )?;
                Ok((records, beats, summary))
            },
        );
        sig?;
        let (records, beats, summary) = rest?;
        let p = Prepared {
            config: cfg.clone(),
            records,
            signals,
            signals2,
            beats,
            summary,
        };
        crate::writer::write_windows_and_summary(&p, tmp, materialize)?;
        Ok(p)
    })?;
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_secs_f64() * 1e3,
        "dataset assembled and written"
    );
    Ok(p)
}

fn check_config(cfg: &PrepareConfig) -> Result<()> {
    if cfg.window < 2 || !cfg.window.is_multiple_of(2) {
        return Err(DatasetError::Config(format!(
            "window must be an even number >= 2 (got {})",
            cfg.window
        )));
    }
    if cfg.fs == 0 {
        return Err(DatasetError::Config("target rate must be positive".into()));
    }
    if let SplitKind::Paper { test_fraction } = cfg.split
        && !(0.0..1.0).contains(&test_fraction)
    {
        return Err(DatasetError::Config(format!(
            "test fraction {test_fraction} must be in [0, 1)"
        )));
    }
    if let SplitKind::RecordFolds { k } = cfg.split
        && !(2..=64).contains(&k)
    {
        return Err(DatasetError::Config(format!(
            "record folds need 2..=64 folds (got {k})"
        )));
    }
    Ok(())
}

/// The processed leads of every record: the first, and the second when prepared with it (else
/// empty).
struct Signals2 {
    signals: Vec<Vec<f32>>,
    signals2: Vec<Vec<f32>>,
}

/// Checks `cfg`, then processes every record in parallel; returns the signals and the rest of
/// each record's results (with empty `signal`), in the order of `names`.
fn process_all(
    dir: &Path,
    names: &[String],
    cfg: &PrepareConfig,
    progress: &(dyn Fn() + Sync),
) -> Result<(Signals2, Vec<RecordWindows>)> {
    check_config(cfg)?;
    let t0 = std::time::Instant::now();
    let mut outs: Vec<RecordWindows> = names
        .par_iter()
        .map(|n| {
            let r = process_record(dir, n, cfg, false);
            progress();
            r
        })
        .collect::<Result<_>>()?;
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_secs_f64() * 1e3,
        "records processed"
    );
    let signals = outs
        .iter_mut()
        .map(|o| std::mem::take(&mut o.signal))
        .collect();
    let signals2 = outs.iter_mut().filter_map(|o| o.signal2.take()).collect();
    Ok((Signals2 { signals, signals2 }, outs))
}

/// Splits, per-side counts, train-set scaler(s) and overlap: everything but the signals.
fn assemble(
    cfg: &PrepareConfig,
    outs: Vec<RecordWindows>,
    signals: &[Vec<f32>],
) -> Result<(Vec<String>, BeatTable, Summary)> {
    let t0 = std::time::Instant::now();
    let n_classes = cfg.classes.len();
    let names: Vec<String> = outs.iter().map(|o| o.name.clone()).collect();
    let rec_sides = record_sides(&cfg.split, &names, cfg.seed);
    let (mut beats, records, inputs) = gather_beats(outs, &rec_sides);
    if let SplitKind::Paper { test_fraction } = cfg.split {
        beats.side = stratified_sides(&beats.label, n_classes, test_fraction, cfg.seed);
    }
    if beats.is_empty() {
        return Err(DatasetError::Config(
            "no beat windows: every record was excluded or had no beats".into(),
        ));
    }
    let sides = side_summaries(&beats, n_classes, &names);
    let (scaler, fold_scalers) = fit_scalers(cfg, signals, &beats)?;
    let overlap = overlap_stats(&beats, records.len(), cfg.window as i64);
    let dropped: Vec<usize> = (0..n_classes)
        .map(|c| records.iter().map(|r| r.dropped[c]).sum())
        .collect();
    let class_names: Vec<String> = cfg
        .classes
        .names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let summary = Summary {
        format_version: wonhee_schema::FORMAT_VERSION,
        config: cfg.clone(),
        classes: class_names.clone(),
        n_windows: beats.len(),
        splits: sides,
        dropped: ClassCounts::new(&class_names, &dropped),
        excluded_records: record_names(&records, |r| r.side.is_none()),
        lead_fallbacks: record_names(&records, |r| !r.lead_found),
        records,
        scaler,
        fold_scalers,
        overlap,
        inputs,
    };
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_secs_f64() * 1e3,
        "dataset assembled"
    );
    Ok((names, beats, summary))
}

/// Concatenates the beats of the records that have a side (`rec_sides`, in record order) into
/// one table; returns it with every record's summary (its side set) and the input checksums.
fn gather_beats(
    outs: Vec<RecordWindows>,
    rec_sides: &[Option<Side>],
) -> (BeatTable, Vec<RecordSummary>, Vec<InputFile>) {
    let n_beats: usize = outs
        .iter()
        .zip(rec_sides)
        .filter(|(_, s)| s.is_some())
        .map(|(o, _)| o.centre.len())
        .sum();
    let mut beats = BeatTable::with_capacity(n_beats);
    let mut records = Vec::with_capacity(outs.len());
    let mut inputs = Vec::new();
    for (ri, (o, side)) in outs.into_iter().zip(rec_sides).enumerate() {
        let mut rs = o.summary;
        rs.side = side.map(|s| s.name());
        if let Some(side) = side {
            let n = o.centre.len();
            beats.record.extend(std::iter::repeat_n(ri as u16, n));
            beats.centre.extend(o.centre);
            beats.sample.extend(o.sample);
            beats.code.extend(o.code);
            beats.label.extend(o.label);
            beats.rr.extend(o.rr);
            beats.side.extend(std::iter::repeat_n(*side, n));
        }
        records.push(rs);
        inputs.extend(o.inputs);
    }
    (beats, records, inputs)
}

/// Per-side window counts (total and per class) and the names of the records with windows on
/// each side, keyed by side name.
fn side_summaries(
    beats: &BeatTable,
    n_classes: usize,
    names: &[String],
) -> std::collections::BTreeMap<String, SideSummary> {
    let mut by_side: std::collections::BTreeMap<Side, (SideSummary, Vec<bool>)> =
        Default::default();
    for i in 0..beats.len() {
        let (e, seen) = by_side
            .entry(beats.side[i])
            .or_insert_with(|| (SideSummary::new(n_classes), vec![false; names.len()]));
        e.windows += 1;
        e.per_class[usize::from(beats.label[i])] += 1;
        seen[usize::from(beats.record[i])] = true;
    }
    by_side
        .into_iter()
        .map(|(side, (mut e, seen))| {
            e.records = names
                .iter()
                .zip(&seen)
                .filter(|(_, s)| **s)
                .map(|(n, _)| n.clone())
                .collect();
            (side.name(), e)
        })
        .collect()
}

/// Train-set scalers, fitted on training windows only (every point of every training window,
/// counted once per window that covers it): the one scaler of a train/test split, or for
/// record folds one per fold, fitted on the other folds.
fn fit_scalers(
    cfg: &PrepareConfig,
    signals: &[Vec<f32>],
    beats: &BeatTable,
) -> Result<(Option<Scaler>, Vec<Scaler>)> {
    let half = (cfg.window / 2) as i64;
    let scaler_for = |train: &dyn Fn(Side) -> bool| -> Result<Scaler> {
        fit_window_scaler(signals, beats, half, train)
    };
    Ok(match cfg.split {
        SplitKind::RecordFolds { k } => {
            let mut v = Vec::with_capacity(k);
            for f in 0..k {
                v.push(scaler_for(&|s| s != Side::Fold(f as u8))?);
            }
            (None, v)
        }
        _ => (Some(scaler_for(&|s| s == Side::Train)?), Vec::new()),
    })
}

/// Names of the records that `keep` selects, in record order.
fn record_names(records: &[RecordSummary], keep: impl Fn(&RecordSummary) -> bool) -> Vec<String> {
    records
        .iter()
        .filter(|r| keep(r))
        .map(|r| r.record.clone())
        .collect()
}

/// Mean and std over every point of every window selected by `train`, computed from coverage
/// counts (a difference array per record) instead of touching each window's 640 points.
/// Records are summed in parallel (two passes each: mean, then squared deviations, in f64)
/// and combined in record order with Chan et al.'s pairwise update, so the result does not
/// depend on the number of threads.
fn fit_window_scaler(
    signals: &[Vec<f32>],
    beats: &BeatTable,
    half: i64,
    train: &dyn Fn(Side) -> bool,
) -> Result<Scaler> {
    let mut centres: Vec<Vec<i64>> = vec![Vec::new(); signals.len()];
    for i in 0..beats.len() {
        if train(beats.side[i]) {
            centres[usize::from(beats.record[i])].push(beats.centre[i]);
        }
    }
    if centres.iter().all(Vec::is_empty) {
        return Err(DatasetError::Config(
            "the training side has no windows; cannot fit the scaler".into(),
        ));
    }
    // Per record: (total weight, weighted mean, weighted sum of squared deviations).
    let parts: Vec<(f64, f64, f64)> = signals
        .par_iter()
        .zip(&centres)
        .map_init(Vec::<i32>::new, |cover, (s, cs)| {
            if cs.is_empty() {
                return (0.0, 0.0, 0.0);
            }
            cover.clear();
            cover.resize(s.len() + 1, 0);
            for &c in cs {
                cover[(c - half) as usize] += 1;
                cover[(c + half) as usize] -= 1;
            }
            // Coverage itself (prefix sum of the difference array), then branch-free sums with
            // `L` independent accumulators (vectorizable; a fixed order, so deterministic).
            let mut w = 0i32;
            for d in cover.iter_mut() {
                w += *d;
                *d = w;
            }
            let n = s.len();
            let (sc, cc) = (&s[..n], &cover[..n]);
            let w_sum = cc.iter().map(|&w| i64::from(w)).sum::<i64>() as f64;
            let mean = weighted_sum(sc, cc, |v| v) / w_sum;
            let m2 = weighted_sum(sc, cc, |v| (v - mean) * (v - mean));
            (w_sum, mean, m2)
        })
        .collect();
    let (mut w, mut mean, mut m2) = (0f64, 0f64, 0f64);
    for (wb, mb, m2b) in parts {
        if wb == 0.0 {
            continue;
        }
        let n = w + wb;
        let d = mb - mean;
        mean += d * wb / n;
        m2 += m2b + d * d * w * wb / n;
        w = n;
    }
    let std = (m2 / w).sqrt();
    if std.is_nan() || std <= 0.0 {
        return Err(DatasetError::Config(
            "training windows have zero spread".into(),
        ));
    }
    Ok(Scaler { mean, std })
}

/// `sum_i w[i] * f(v[i])` with 8 independent accumulators (vectorizable; a fixed order, so
/// deterministic).
fn weighted_sum(v: &[f32], w: &[i32], f: impl Fn(f64) -> f64) -> f64 {
    const L: usize = 8;
    let mut acc = [0f64; L];
    let (cv, cw) = (v.chunks_exact(L), w.chunks_exact(L));
    let tail: f64 = cv
        .remainder()
        .iter()
        .zip(cw.remainder())
        .map(|(&x, &k)| f64::from(k) * f(f64::from(x)))
        .sum();
    for (xs, ks) in cv.zip(cw) {
        for j in 0..L {
            acc[j] += f64::from(ks[j]) * f(f64::from(xs[j]));
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// For every non-training window: does a training window of the same record share points with
/// it, and how many at most.
fn overlap_stats(beats: &BeatTable, n_records: usize, window: i64) -> OverlapStats {
    let mut train_centres: Vec<Vec<i64>> = vec![Vec::new(); n_records];
    for i in 0..beats.len() {
        if beats.side[i] == Side::Train {
            train_centres[usize::from(beats.record[i])].push(beats.centre[i]);
        }
    }
    for v in &mut train_centres {
        v.sort_unstable();
    }
    let (mut n_eval, mut n_overlap, mut n_half, mut shared_sum) = (0usize, 0usize, 0usize, 0f64);
    for i in 0..beats.len() {
        if beats.side[i] == Side::Train {
            continue;
        }
        n_eval += 1;
        let t = &train_centres[usize::from(beats.record[i])];
        let c = beats.centre[i];
        let p = t.partition_point(|&x| x < c);
        let nearest = [p.checked_sub(1), Some(p)]
            .into_iter()
            .flatten()
            .filter_map(|j| t.get(j))
            .map(|&x| (x - c).abs())
            .min();
        let shared = nearest.map_or(0, |d| (window - d).max(0));
        if shared > 0 {
            n_overlap += 1;
        }
        if shared * 2 >= window {
            n_half += 1;
        }
        shared_sum += shared as f64 / window as f64;
    }
    OverlapStats {
        eval_windows: n_eval,
        overlapping_a_training_window: n_overlap,
        fraction_overlapping: if n_eval > 0 {
            n_overlap as f64 / n_eval as f64
        } else {
            0.0
        },
        sharing_at_least_half: n_half,
        mean_shared_fraction: if n_eval > 0 {
            shared_sum / n_eval as f64
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_ties_to_even() {
        assert_eq!(div_round_even(5, 2), 2);
        assert_eq!(div_round_even(7, 2), 4);
        assert_eq!(div_round_even(-5, 2), -2);
        assert_eq!(div_round_even(16 * 100, 45), 36);
        assert_eq!(div_round_even(16 * 649_999, 45), 231_111);
    }
}
