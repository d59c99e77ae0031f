//! `wonhee info INPUT [--json]`: a WFDB record (or a folder of them), a CSV or an EDF/EDF+
//! file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use wonhee_wfdb::{Annotations, Record};

/// Arguments of `wonhee info`.
#[derive(clap::Args)]
pub struct Args {
    /// Record path without extension (e.g. ../shared/data/mitdb/100) or its .hea file; a folder
    /// means every record listed in its RECORDS file.
    record: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Annotators to count (default: atr, when the file exists).
    #[arg(long = "annotator")]
    annotators: Vec<String>,
    /// Sampling rate (Hz) of a CSV without a time column.
    #[arg(long)]
    fs: Option<f64>,
}

/// JSON shape of a CSV or EDF input's summary.
#[derive(Serialize)]
struct InputInfo {
    path: String,
    format: &'static str,
    leads: Vec<LeadInfo>,
}

#[derive(Serialize)]
struct LeadInfo {
    name: String,
    unit: String,
    fs: f64,
    samples: usize,
    duration_s: f64,
    missing: usize,
}

/// [`run`] for a CSV or EDF input.
fn info_any(args: &Args) -> Result<()> {
    let rec = wonhee_input::open(&args.record, &wonhee_input::ReadOptions { fs: args.fs })?;
    let info = InputInfo {
        path: rec.path.display().to_string(),
        format: match rec.format {
            wonhee_input::InputFormat::Csv => "csv",
            wonhee_input::InputFormat::Edf => "edf",
            wonhee_input::InputFormat::Wfdb => "wfdb",
        },
        leads: rec
            .leads
            .iter()
            .map(|l| LeadInfo {
                name: l.name.clone(),
                unit: l.unit.clone(),
                fs: l.fs,
                samples: l.samples.len(),
                duration_s: l.samples.len() as f64 / l.fs,
                missing: l.samples.iter().filter(|v| !v.is_finite()).count(),
            })
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("{} ({})", info.path, info.format);
    for l in &info.leads {
        println!(
            "  {:<12} {:>8} Hz {:>10} samples {:>10.1} s  unit `{}`{}",
            l.name,
            l.fs,
            l.samples,
            l.duration_s,
            l.unit,
            if l.missing > 0 {
                format!(", {} missing", l.missing)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// JSON shape of one record's summary.
#[derive(Serialize)]
pub struct Info {
    record: String,
    fs: f64,
    n_sig: usize,
    sig_len: Option<u64>,
    duration_s: Option<f64>,
    /// Counter frequency and base counter value, when the header gives them.
    counter_freq: Option<f64>,
    base_counter: Option<f64>,
    /// Base time and date as written in the header (`HH:MM:SS`, `DD/MM/YYYY`).
    base_time: Option<String>,
    base_date: Option<String>,
    signals: Vec<SignalInfo>,
    /// Segments of a multi-segment record (`~`: null), in header order; empty otherwise.
    segments: Vec<SegmentInfo>,
    comments: Vec<String>,
    annotations: BTreeMap<String, AnnotationInfo>,
}

#[derive(Serialize)]
struct SegmentInfo {
    name: String,
    len: u64,
}

#[derive(Serialize)]
struct SignalInfo {
    file: String,
    fmt: u16,
    /// Samples per frame; the signal's rate is `fs` times this.
    samples_per_frame: u32,
    skew: u32,
    gain: f64,
    baseline: i32,
    adc_zero: i32,
    adc_res: u32,
    units: String,
    description: String,
}

#[derive(Serialize)]
struct AnnotationInfo {
    count: usize,
    symbols: BTreeMap<String, usize>,
}

/// Summarises one record.
pub fn info(path: &Path, annotators: &[String]) -> Result<Info> {
    let rec = Record::open(path)?;
    let h = rec.header();
    let explicit = !annotators.is_empty();
    let names: Vec<String> = if explicit {
        annotators.to_vec()
    } else {
        vec!["atr".to_owned()]
    };
    let mut annotations = BTreeMap::new();
    for a in names {
        let file = rec.file_path(&a);
        if !explicit && !file.exists() {
            continue;
        }
        let ann = Annotations::open(rec.dir().join(rec.name()), &a)?;
        annotations.insert(
            a,
            AnnotationInfo {
                count: ann.len(),
                symbols: ann.symbol_counts().into_iter().collect(),
            },
        );
    }
    // Inferred from the signal file's size when the header does not say (as wfdb-python).
    let sig_len = rec.samples_per_signal()?;
    Ok(Info {
        record: h.name.clone(),
        fs: h.fs,
        n_sig: h.n_sig(),
        sig_len,
        duration_s: sig_len.map(|n| n as f64 / h.fs),
        counter_freq: h.counter_freq,
        base_counter: h.base_counter,
        base_time: h.base_time.clone(),
        base_date: h.base_date.clone(),
        signals: h
            .signals
            .iter()
            .map(|s| SignalInfo {
                file: s.file_name.clone(),
                fmt: s.format.code(),
                samples_per_frame: s.samples_per_frame,
                skew: s.skew,
                gain: s.gain,
                baseline: s.baseline,
                adc_zero: s.adc_zero,
                adc_res: s.adc_res,
                units: s.units.clone(),
                description: s.description.clone(),
            })
            .collect(),
        segments: h
            .segments
            .iter()
            .map(|s| SegmentInfo {
                name: s.name.clone(),
                len: s.len,
            })
            .collect(),
        comments: h.comments.clone(),
        annotations,
    })
}

fn print_text(i: &Info) {
    let dur = i
        .duration_s
        .map(|d| format!(" ({:.1} s)", d))
        .unwrap_or_default();
    // The length counts frames: samples only where each signal has one per frame.
    let unit = if i.signals.iter().all(|s| s.samples_per_frame == 1) {
        "samples"
    } else {
        "frames"
    };
    println!(
        "record {}: {} signal(s) at {} Hz, {} {unit}{dur}",
        i.record,
        i.n_sig,
        i.fs,
        i.sig_len.map_or("?".to_owned(), |n| n.to_string())
    );
    if !i.segments.is_empty() {
        let segs: Vec<String> = i
            .segments
            .iter()
            .map(|s| format!("{} {}", s.name, s.len))
            .collect();
        println!("  {} segments: {}", i.segments.len(), segs.join(", "));
    }
    for (k, s) in i.signals.iter().enumerate() {
        // Only what differs from one sample per frame at the record's rate, unskewed.
        let mut layout = String::new();
        if s.samples_per_frame != 1 {
            layout += &format!(
                " x{} ({} Hz)",
                s.samples_per_frame,
                i.fs * f64::from(s.samples_per_frame)
            );
        }
        if s.skew != 0 {
            layout += &format!(" skew {}", s.skew);
        }
        println!(
            "  signal {k}: {:<6} file {} format {}{layout} gain {} baseline {} adc_zero {} units {}",
            s.description, s.file, s.fmt, s.gain, s.baseline, s.adc_zero, s.units
        );
    }
    for c in &i.comments {
        println!("  # {c}");
    }
    for (name, a) in &i.annotations {
        let syms: Vec<String> = a.symbols.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!("  {name}: {} annotations  {}", a.count, syms.join(" "));
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    if !args.record.is_dir() && wonhee_input::sniff(&args.record) != wonhee_input::InputFormat::Wfdb
    {
        return info_any(&args);
    }
    if args.record.is_dir() {
        let list = args.record.join("RECORDS");
        let text = std::fs::read_to_string(&list)
            .with_context(|| format!("{}: cannot read the record list", list.display()))?;
        let names: Vec<&str> = text.split_whitespace().collect();
        let bar = crate::cmd::progress(names.len() as u64, "reading records");
        let mut all = Vec::with_capacity(names.len());
        for n in names {
            all.push(info(&args.record.join(n), &args.annotators)?);
            bar.inc(1);
        }
        bar.finish_and_clear();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
        } else {
            all.iter().for_each(print_text);
        }
        return Ok(());
    }
    let i = info(&args.record, &args.annotators)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&i)?);
    } else {
        print_text(&i);
    }
    Ok(())
}
