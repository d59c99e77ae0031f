//! Raw WFDB records -> per-record standardized 128 Hz signals and a beat-window index.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wonhee_signal::filter::{BandPass, remove_baseline};
use wonhee_signal::{PolyphaseResampler, Scaler, fill_nan_linear, resample_fft, zscore};
use wonhee_wfdb::Record;

use crate::error::{DatasetError, Result};
use crate::labels::ClassScheme;
use crate::splits::{Side, SplitKind, record_sides, stratified_sides};
use crate::summary::{ClassCounts, InputFile, OverlapStats, RecordSummary, SideSummary, Summary};

/// Resampling method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResampleMethod {
    /// Polyphase FIR (`scipy.signal.resample_poly`), the default.
    #[default]
    Poly,
    /// FFT (`scipy.signal.resample`, the original WonHEE code's choice).
    Fft,
}

/// Everything that determines a prepared dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrepareConfig {
    /// Target sampling rate (Hz).
    pub fs: u32,
    /// Window length in samples at `fs` (640 = 5 s at 128 Hz), centred on each beat.
    pub window: usize,
    /// Lead to use, by signal description; records without it use signal 0 (recorded).
    pub lead: String,
    /// Resampling method.
    pub resample: ResampleMethod,
    /// Class scheme.
    pub classes: ClassScheme,
    /// Split.
    pub split: SplitKind,
    /// Seed of every random choice (splits, folds).
    pub seed: u64,
    /// Remove baseline wander (two median filters) before resampling. Off in the paper.
    pub remove_baseline: bool,
    /// Zero-phase band-pass `[low, high]` Hz before resampling. Off in the paper.
    pub bandpass: Option<[f64; 2]>,
}

impl Default for PrepareConfig {
    fn default() -> Self {
        Self {
            fs: 128,
            window: 640,
            lead: "MLII".into(),
            resample: ResampleMethod::Poly,
            classes: ClassScheme::Aami5,
            split: SplitKind::default(),
            seed: 42,
            remove_baseline: false,
            bandpass: None,
        }
    }
}

/// The beat-window index: one row per kept beat, in record then time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BeatTable {
    /// Index of the beat's record in [`Prepared::records`].
    pub record: Vec<u16>,
    /// Window centre, in samples at the target rate.
    pub centre: Vec<i64>,
    /// Beat's annotation sample at the record's own rate.
    pub sample: Vec<i64>,
    /// Annotation code (see `wonhee_wfdb::code_symbol`).
    pub code: Vec<u8>,
    /// Class index.
    pub label: Vec<u8>,
    /// Split side.
    pub side: Vec<Side>,
}

impl BeatTable {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.centre.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.centre.is_empty()
    }
}

/// A prepared dataset in memory (what [`crate::write_dataset`] stores).
pub struct Prepared {
    /// Configuration used.
    pub config: PrepareConfig,
    /// Record names, aligned with `signals`.
    pub records: Vec<String>,
    /// Per-record z-scored, resampled lead (f32 at the target rate).
    pub signals: Vec<Vec<f32>>,
    /// Beat windows.
    pub beats: BeatTable,
    /// Counts, splits, scaler, overlap, checksums.
    pub summary: Summary,
}

/// One record processed as in [`prepare`]: its standardized, resampled lead and the windows of
/// its beats (see [`prepare_record`]).
pub struct RecordWindows {
    /// Record name.
    pub name: String,
    /// The lead, z-scored with the record's own statistics and resampled (no train scaler).
    pub signal: Vec<f32>,
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
fn div_round_even(num: i128, den: i128) -> i64 {
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

fn sha256_file(path: &Path) -> Result<InputFile> {
    let bytes = std::fs::read(path).map_err(|e| DatasetError::io(path, e))?;
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(InputFile {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: bytes.len() as u64,
        sha256: hex,
    })
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

/// Z-scores digital samples exactly (integer sums for mean and variance); `None` when an
/// invalid sample is present or the signal is flat. Returns the standardized values, the mean
/// and the population std, in ADC units.
fn digital_zscore(d: &[i32], invalid: i32) -> Option<(Vec<f64>, f64, f64)> {
    if d.is_empty() || d.contains(&invalid) {
        return None;
    }
    let n = d.len() as i128;
    let small = d.len() < (1 << 32) && d.iter().all(|&v| (-32768..=32768).contains(&v));
    let (sum, sumsq) = if small {
        // |v| <= 2^15, so v^2 <= 2^30 and n * v^2 < 2^62: i64 cannot overflow (and vectorises).
        let (s, q) = d.iter().fold((0i64, 0i64), |(s, q), &v| {
            let v = i64::from(v);
            (s + v, q + v * v)
        });
        (i128::from(s), i128::from(q))
    } else {
        d.iter().fold((0i128, 0i128), |(s, q), &v| {
            let v = i128::from(v);
            (s + v, q + v * v)
        })
    };
    // n * var = sumsq - sum^2 / n, computed exactly as (n * sumsq - sum^2) / n^2.
    let num = n * sumsq - sum * sum;
    if num <= 0 {
        return None;
    }
    let mean = sum as f64 / n as f64;
    let std = ((num as f64) / (n as f64 * n as f64)).sqrt();
    let inv = 1.0 / std;
    Some((
        d.iter().map(|&v| (f64::from(v) - mean) * inv).collect(),
        mean,
        std,
    ))
}

fn process_record(
    dir: &Path,
    name: &str,
    cfg: &PrepareConfig,
    keep_edge_beats: bool,
) -> Result<RecordWindows> {
    let rec = Record::open(dir.join(name))?;
    let h = rec.header();
    let hea = rec.header_path().to_path_buf();
    if h.signals.is_empty() {
        return Err(DatasetError::invalid(&hea, "record has no signals"));
    }
    let fs_in = h.fs;
    if fs_in.fract() != 0.0 || !(1.0..=1e6).contains(&fs_in) {
        return Err(DatasetError::invalid(
            &hea,
            format!("sampling frequency {fs_in} Hz is not a whole number; cannot resample"),
        ));
    }
    let fs_in = fs_in as usize;
    let (lead_index, lead_found) = match h.signal_index(&cfg.lead) {
        Some(i) => (i, true),
        None => (0, false),
    };
    let sig = rec.read_selected(&[lead_index])?;
    let spec = &sig.specs()[0];
    let digital = sig.digital(0);
    let invalid = spec.format.invalid_value();
    let filters = cfg.remove_baseline || cfg.bandpass.is_some();
    let (mut x, z, nan_filled) = match digital_zscore(digital, invalid) {
        // Fast path: no invalid samples, no filters. The z-score of the physical values
        // (d - baseline) / gain equals that of the digital values, whose mean and variance
        // are computed exactly from integer sums.
        Some((x, mean_d, std_d)) if !filters => {
            let z = Scaler {
                mean: (mean_d - f64::from(spec.baseline)) / spec.gain,
                std: std_d / spec.gain,
            };
            (x, z, 0)
        }
        _ => {
            let mut x = sig.physical_f64(0);
            let nan_filled = fill_nan_linear(&mut x)
                .map_err(|e| DatasetError::invalid(&hea, format!("lead {lead_index}: {e}")))?;
            if cfg.remove_baseline {
                x = remove_baseline(&x, fs_in as f64);
            }
            if let Some([lo, hi]) = cfg.bandpass {
                BandPass::new(lo, hi, fs_in as f64)
                    .map_err(|e| DatasetError::Config(e.to_string()))?
                    .apply(&mut x);
            }
            let z = zscore(&mut x)
                .map_err(|e| DatasetError::invalid(&hea, format!("lead {lead_index}: {e}")))?;
            (x, z, nan_filled)
        }
    };
    let n_in = digital.len();
    drop(sig);
    let fs_out = cfg.fs as usize;
    let resampler =
        PolyphaseResampler::new(fs_out, fs_in).map_err(|e| DatasetError::Config(e.to_string()))?;
    let n_out = resampler.output_len(x.len());
    let y = match cfg.resample {
        ResampleMethod::Poly => resampler.process(&x),
        ResampleMethod::Fft => resample_fft(&x, n_out),
    };
    x.clear();
    if y.len() < cfg.window {
        return Err(DatasetError::invalid(
            &hea,
            format!(
                "record is {} samples long at {fs_out} Hz, shorter than one {}-sample window",
                y.len(),
                cfg.window
            ),
        ));
    }
    let signal: Vec<f32> = y.iter().map(|&v| v as f32).collect();

    let ann = rec.annotations("atr")?;
    let half = (cfg.window / 2) as i64;
    let n_classes = cfg.classes.len();
    let mut out = RecordWindows {
        name: name.to_owned(),
        signal,
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
            beats: vec![0; n_classes],
            windows: vec![0; n_classes],
            dropped: vec![0; n_classes],
            side: None,
        },
        centre: Vec::new(),
        sample: Vec::new(),
        code: Vec::new(),
        label: Vec::new(),
        inputs: Vec::new(),
    };
    for a in &ann.annotations {
        let Some(label) = cfg.classes.label(a.symbol()) else {
            continue;
        };
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
    }
    let mut files: Vec<PathBuf> = vec![hea.clone(), rec.file_path("atr")];
    for s in &h.signals {
        let p = rec.dir().join(&s.file_name);
        if !files.contains(&p) {
            files.push(p);
        }
    }
    for f in files {
        out.inputs.push(sha256_file(&f)?);
    }
    Ok(out)
}

/// Prepares the records `names` of `dir`. `progress` is called once per finished record.
pub fn prepare(
    dir: &Path,
    names: &[String],
    cfg: &PrepareConfig,
    progress: &(dyn Fn() + Sync),
) -> Result<Prepared> {
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
    let t0 = std::time::Instant::now();
    let outs: Vec<RecordWindows> = names
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
    let p = assemble(cfg, outs);
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_secs_f64() * 1e3,
        "dataset assembled"
    );
    p
}

fn assemble(cfg: &PrepareConfig, outs: Vec<RecordWindows>) -> Result<Prepared> {
    let n_classes = cfg.classes.len();
    let names: Vec<String> = outs.iter().map(|o| o.name.clone()).collect();
    let rec_sides = record_sides(&cfg.split, &names, cfg.seed);
    let mut beats = BeatTable::default();
    let mut records = Vec::with_capacity(outs.len());
    let mut signals = Vec::with_capacity(outs.len());
    let mut inputs = Vec::new();
    for (ri, (o, side)) in outs.into_iter().zip(&rec_sides).enumerate() {
        let mut rs = o.summary;
        rs.side = side.map(|s| s.name());
        if let Some(side) = side {
            let n = o.centre.len();
            beats.record.extend(std::iter::repeat_n(ri as u16, n));
            beats.centre.extend(o.centre);
            beats.sample.extend(o.sample);
            beats.code.extend(o.code);
            beats.label.extend(o.label);
            beats.side.extend(std::iter::repeat_n(*side, n));
        }
        records.push(rs);
        signals.push(o.signal);
        inputs.extend(o.inputs);
    }
    if let SplitKind::Paper { test_fraction } = cfg.split {
        beats.side = stratified_sides(&beats.label, n_classes, test_fraction, cfg.seed);
    }
    if beats.is_empty() {
        return Err(DatasetError::Config(
            "no beat windows: every record was excluded or had no beats".into(),
        ));
    }

    // Per-side counts.
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
    let sides: std::collections::BTreeMap<String, SideSummary> = by_side
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
        .collect();

    // Train-set scalers: fitted on training windows only (every point of every training
    // window, counted once per window that covers it).
    let half = (cfg.window / 2) as i64;
    let scaler_for = |train: &dyn Fn(Side) -> bool| -> Result<Scaler> {
        fit_window_scaler(&signals, &beats, half, train)
    };
    let (scaler, fold_scalers) = match cfg.split {
        SplitKind::RecordFolds { k } => {
            let mut v = Vec::with_capacity(k);
            for f in 0..k {
                v.push(scaler_for(&|s| s != Side::Fold(f as u8))?);
            }
            (None, v)
        }
        _ => (Some(scaler_for(&|s| s == Side::Train)?), Vec::new()),
    };

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
        format_version: crate::summary::FORMAT_VERSION,
        config: cfg.clone(),
        classes: class_names.clone(),
        n_windows: beats.len(),
        splits: sides,
        dropped: ClassCounts::new(&class_names, &dropped),
        excluded_records: records
            .iter()
            .filter(|r| r.side.is_none())
            .map(|r| r.record.clone())
            .collect(),
        lead_fallbacks: records
            .iter()
            .filter(|r| !r.lead_found)
            .map(|r| r.record.clone())
            .collect(),
        records,
        scaler,
        fold_scalers,
        overlap,
        inputs,
    };
    Ok(Prepared {
        config: cfg.clone(),
        records: names,
        signals,
        beats,
        summary,
    })
}

/// Mean and std over every point of every window selected by `train`, computed from coverage
/// counts (a difference array per record) instead of touching each window's 640 points.
fn fit_window_scaler(
    signals: &[Vec<f32>],
    beats: &BeatTable,
    half: i64,
    train: &dyn Fn(Side) -> bool,
) -> Result<Scaler> {
    let mut cover: Vec<Vec<i32>> = signals.iter().map(|s| vec![0; s.len() + 1]).collect();
    let mut any = false;
    for i in 0..beats.len() {
        if train(beats.side[i]) {
            let c = &mut cover[usize::from(beats.record[i])];
            c[(beats.centre[i] - half) as usize] += 1;
            c[(beats.centre[i] + half) as usize] -= 1;
            any = true;
        }
    }
    if !any {
        return Err(DatasetError::Config(
            "the training side has no windows; cannot fit the scaler".into(),
        ));
    }
    // Two passes (mean, then squared deviations) in f64.
    let (mut w_sum, mut x_sum) = (0f64, 0f64);
    for (s, c) in signals.iter().zip(&mut cover) {
        let mut w = 0i32;
        for (v, d) in s.iter().zip(c.iter_mut()) {
            w += *d;
            *d = w; // now the coverage itself
            if w != 0 {
                w_sum += f64::from(w);
                x_sum += f64::from(w) * f64::from(*v);
            }
        }
    }
    let mean = x_sum / w_sum;
    let mut ss = 0f64;
    for (s, c) in signals.iter().zip(&cover) {
        for (v, &w) in s.iter().zip(c) {
            if w != 0 {
                let d = f64::from(*v) - mean;
                ss += f64::from(w) * d * d;
            }
        }
    }
    let std = (ss / w_sum).sqrt();
    if std.is_nan() || std <= 0.0 {
        return Err(DatasetError::Config(
            "training windows have zero spread".into(),
        ));
    }
    Ok(Scaler { mean, std })
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
