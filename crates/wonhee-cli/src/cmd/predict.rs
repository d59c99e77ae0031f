//! `wonhee predict INPUT --out FILE [--run RUN] [--beats detect|atr|ANNOTATOR] [--lead L] [--fs HZ]`:
//! classify every beat of any ECG (a WFDB record, a CSV or an EDF/EDF+ file, at any rate):
//! beats detected (`wonhee-detect`) or read from an annotation file, the lead processed as the
//! training data was, the shipped model (`models/wonhee-ds1`) unless `--run` names another.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::prelude::{Column, DataFrame};
use wonhee_train::{BeatClass, Run, classify_beats};
use wonhee_wfdb::{Annotation, Annotations, symbol_code};

use crate::cmd::detect::MethodArg;
use crate::output::{self, TableFormat};

/// The model shipped in the repository, relative to the workspace root.
pub const SHIPPED_MODEL: &str = "models/wonhee-ds1";

/// Arguments of `wonhee predict`.
#[derive(clap::Args)]
pub struct Args {
    /// The ECG: a WFDB record (path without extension, or its .hea), a CSV (one column per
    /// lead, an optional first `time` column in seconds) or an EDF/EDF+ file.
    input: PathBuf,
    /// Output: `.csv` or `.parquet` for a table
    /// (`sample,time_s,pred_class,p_<class>...,padded`, plus `symbol,true_class` with
    /// annotated beats); any other name is written as a WFDB annotation file whose symbols are
    /// the predicted classes (N, S as `A`, V, F, Q).
    #[arg(long)]
    out: PathBuf,
    /// Trained run folder (default: the shipped model, `models/wonhee-ds1`, or `$WONHEE_MODEL`).
    #[arg(long)]
    run: Option<PathBuf>,
    /// Beats to classify: `detect` (find them, the default) or the annotator of a WFDB record's
    /// reference annotations (e.g. `atr`).
    #[arg(long, default_value = "detect")]
    beats: String,
    /// Lead, by name or 0-based index (default: the model's lead, MLII, when present, else
    /// lead 0 with a warning).
    #[arg(long)]
    lead: Option<String>,
    /// Second lead, by name or 0-based index, for a model that reads one (`second_lead` or
    /// `lead2_context`); default: V1, V2, V5 or V4 (the second leads of MIT-BIH, V1 first) when
    /// present at the lead's rate, else the first other lead at that rate.
    #[arg(long)]
    second_lead: Option<String>,
    /// Sampling rate (Hz) of a CSV without a time column.
    #[arg(long)]
    fs: Option<f64>,
    /// Detection method (with `--beats detect`).
    #[arg(long, value_enum, default_value = "elgendi")]
    method: MethodArg,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

/// The shipped model's folder: `$WONHEE_MODEL`, else `models/wonhee-ds1` of this checkout.
pub fn shipped_model() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("WONHEE_MODEL") {
        return Ok(PathBuf::from(p));
    }
    let root = wonhee_fs::workspace_root(Path::new(env!("CARGO_MANIFEST_DIR")));
    let dir = root.join(SHIPPED_MODEL);
    if !dir.is_dir() {
        bail!(
            "no --run given and the shipped model is not at {} (set WONHEE_MODEL or pass --run)",
            dir.display()
        );
    }
    Ok(dir)
}

/// The second lead for a model that reads one: the recording's first lead other than
/// `index`, at the same rate and length; none (with a warning) when it has no such lead.
fn second_lead<'a>(
    run: &Run,
    rec: &'a wonhee_input::Recording,
    index: usize,
    sel: Option<&str>,
) -> Result<Option<&'a [f32]>> {
    let m = run.model.config();
    if !(m.second_lead || m.lead2_context) {
        return Ok(None);
    }
    let first = &rec.leads[index];
    let usable = |i: usize| {
        let l = &rec.leads[i];
        i != index && l.fs == first.fs && l.samples.len() == first.samples.len()
    };
    let chosen = match sel {
        Some(s) => {
            let i = rec.lead_index(Some(s))?.0;
            if !usable(i) {
                bail!(
                    "{}: --second-lead `{s}` is the lead itself or has another rate or length \
                     than `{}`",
                    rec.path.display(),
                    first.name
                );
            }
            Some(i)
        }
        None => SECOND_LEADS
            .iter()
            .find_map(|name| rec.find_lead(name).filter(|&i| usable(i)))
            .or_else(|| (0..rec.leads.len()).find(|&i| usable(i))),
    };
    match chosen {
        Some(i) => {
            tracing::info!("second lead: `{}`", rec.leads[i].name);
            Ok(Some(rec.leads[i].samples.as_slice()))
        }
        None => {
            let what = match (m.second_lead, m.lead2_context) {
                (true, true) => "a flat second lead, every beat typical there",
                (true, false) => "a flat second lead",
                _ => "every beat typical in the second lead",
            };
            tracing::warn!(
                "{}: the model reads a second lead and the input has no other lead at {} Hz \
                 beside `{}`; classifying with {what}, which the model was not trained on",
                rec.path.display(),
                first.fs,
                first.name
            );
            Ok(None)
        }
    }
}

/// The leads tried first as the second lead, in order: those of MIT-BIH (V1 in 20 of the 22
/// DS1 records the shipped profiles are trained on).
const SECOND_LEADS: [&str; 4] = ["V1", "V2", "V5", "V4"];

/// A reference beat: sample, symbol and class index.
struct Reference {
    sample: i64,
    symbol: String,
    class: u8,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let table = TableFormat::from_path(&args.out).ok();
    let device = wonhee_model::device::parse_device(&args.device)?;
    let run_dir = match &args.run {
        Some(r) => r.clone(),
        None => shipped_model()?,
    };
    let run = Run::open(&run_dir, &device)?;
    let opts = wonhee_input::ReadOptions { fs: args.fs };
    let rec = wonhee_input::open(&args.input, &opts)?;
    // The model's own lead by name unless --lead says otherwise; another one works, with a
    // warning.
    let model_lead = &run.info.dataset.prepare.lead;
    let index = match (&args.lead, rec.find_lead(model_lead), rec.leads.first()) {
        (Some(sel), _, _) => rec.lead_index(Some(sel))?.0,
        (None, Some(i), _) => i,
        (None, None, Some(first)) => {
            tracing::warn!(
                "{}: no lead {model_lead} (the model's); using lead 0 (`{}`)",
                rec.path.display(),
                first.name
            );
            0
        }
        (None, None, None) => bail!("{}: no leads", rec.path.display()),
    };
    let lead = &rec.leads[index];
    let fs = lead.fs;
    let second = second_lead(&run, &rec, index, args.second_lead.as_deref())?;
    let (samples, reference) = if args.beats == "detect" {
        let beats = crate::cmd::detect::detect_lead(&rec.path, lead, args.method)?;
        (beats.iter().map(|&b| b as i64).collect::<Vec<_>>(), None)
    } else {
        let refs = reference_beats(&rec, &args.beats, &run)?;
        (refs.iter().map(|r| r.sample).collect(), Some(refs))
    };
    if samples.is_empty() {
        bail!("{}: no beats to classify", rec.path.display());
    }
    let bar = crate::cmd::progress(samples.len() as u64, "classifying");
    let found = classify_beats(
        &run,
        &lead.samples,
        second,
        fs,
        &samples,
        args.batch,
        &rec.path,
        &|done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let classes = &run.info.dataset.classes;
    match table {
        Some(_) => write_table(&args.out, &found, reference.as_deref(), classes, fs)?,
        None => write_annotations(&args.out, &found, classes)?,
    }
    summarize(&found, reference.as_deref(), classes, &lead.name, &args.out);
    Ok(())
}

/// The beats of the WFDB record `rec` annotated by `annotator` that have a class.
fn reference_beats(
    rec: &wonhee_input::Recording,
    annotator: &str,
    run: &Run,
) -> Result<Vec<Reference>> {
    if rec.format != wonhee_input::InputFormat::Wfdb {
        bail!(
            "{}: --beats {annotator} reads a WFDB annotation file; this input is not a WFDB record (use --beats detect)",
            rec.path.display()
        );
    }
    let wfdb = wonhee_wfdb::Record::open(&rec.path)?;
    let ann = wfdb.annotations(annotator)?;
    let cfg = &run.info.dataset.prepare;
    Ok(ann
        .annotations
        .iter()
        .filter_map(|a| {
            let symbol = ann.symbol_of(a);
            cfg.classes.label(symbol).map(|class| Reference {
                sample: a.sample,
                symbol: symbol.to_owned(),
                class,
            })
        })
        .collect())
}

fn write_table(
    path: &Path,
    found: &[BeatClass],
    reference: Option<&[Reference]>,
    classes: &[String],
    fs: f64,
) -> Result<()> {
    let name = |c: usize| classes.get(c).map_or("?", String::as_str);
    let mut cols = vec![
        Column::new(
            "sample".into(),
            found.iter().map(|b| b.sample).collect::<Vec<_>>(),
        ),
        Column::new(
            "time_s".into(),
            found
                .iter()
                .map(|b| b.sample as f64 / fs)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "pred_class".into(),
            found.iter().map(|b| name(b.class)).collect::<Vec<_>>(),
        ),
    ];
    for (c, class) in classes.iter().enumerate() {
        cols.push(Column::new(
            format!("p_{class}").into(),
            found
                .iter()
                .map(|b| b.probs.get(c).copied().unwrap_or(f32::NAN))
                .collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "padded".into(),
        found.iter().map(|b| b.padded).collect::<Vec<_>>(),
    ));
    if let Some(r) = reference {
        cols.push(Column::new(
            "symbol".into(),
            r.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "true_class".into(),
            r.iter()
                .map(|r| name(usize::from(r.class)))
                .collect::<Vec<_>>(),
        ));
    }
    let mut df = DataFrame::new(found.len(), cols)?;
    output::write_table(path, &mut df)
}

/// The WFDB symbol that shows class `name` in viewers: S as `A` (atrial premature), paced
/// beats as `/`, the others as themselves.
pub fn class_symbol(name: &str) -> &str {
    match name {
        "S" => "A",
        "P" => "/",
        other => other,
    }
}

fn write_annotations(path: &Path, found: &[BeatClass], classes: &[String]) -> Result<()> {
    let codes: Vec<u8> = classes
        .iter()
        .map(|c| {
            symbol_code(class_symbol(c))
                .with_context(|| format!("no WFDB annotation code for class {c}"))
        })
        .collect::<Result<_>>()?;
    let anns: Vec<Annotation> = found
        .iter()
        .map(|b| Annotation::new(b.sample, codes.get(b.class).copied().unwrap_or(0)))
        .collect();
    let bytes = Annotations::encode(&anns, path)?;
    wonhee_fs::write_atomic(path, &bytes)?;
    Ok(())
}

fn summarize(
    found: &[BeatClass],
    reference: Option<&[Reference]>,
    classes: &[String],
    lead: &str,
    out: &Path,
) {
    let mut counts = vec![0usize; classes.len()];
    for b in found {
        if let Some(c) = counts.get_mut(b.class) {
            *c += 1;
        }
    }
    let per_class: Vec<String> = classes
        .iter()
        .zip(&counts)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let agree = reference.map(|r| {
        let same = found
            .iter()
            .zip(r)
            .filter(|(b, r)| b.class == usize::from(r.class))
            .count();
        format!(
            ", {:.2}% agree with the annotations",
            100.0 * same as f64 / found.len() as f64
        )
    });
    eprintln!(
        "{} beats of {lead} ({}){} -> {}",
        found.len(),
        per_class.join(", "),
        agree.unwrap_or_default(),
        out.display()
    );
}
