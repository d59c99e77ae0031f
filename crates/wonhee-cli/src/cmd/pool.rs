//! `wonhee pool METRICS... --out FILE`: the classification of several evaluations on disjoint
//! held-out sets (the folds of a cross-validation) pooled into one report, scored as
//! `wonhee eval` scores one.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use wonhee_eval::{Bootstrap, Metrics, classification_report_from_confusion};

/// Arguments of `wonhee pool`.
#[derive(clap::Args)]
pub struct Args {
    /// `metrics.json` files from `wonhee eval` (their held-out windows must not overlap, as the
    /// folds of a cross-validation).
    #[arg(required = true)]
    metrics: Vec<PathBuf>,
    /// Pooled classification report (JSON, the `classification` object of metrics.json).
    #[arg(long)]
    out: PathBuf,
    /// Also write the Markdown tables here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Print the Markdown tables to stdout.
    #[arg(long)]
    print: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let mut names: Option<Vec<String>> = None;
    let mut confusion: Vec<Vec<u64>> = Vec::new();
    let mut per_record = Vec::new();
    for path in &args.metrics {
        let m = Metrics::read_json(path)?;
        let c = m
            .classification
            .with_context(|| format!("{}: has no classification results", path.display()))?;
        let k = c.class_names.len();
        if c.confusion.len() != k || c.confusion.iter().any(|r| r.len() != k) {
            bail!(
                "{}: classification.confusion is not {k} x {k} (one row and column per class)",
                path.display()
            );
        }
        for r in &c.per_record {
            if r.confusion.len() != k || r.confusion.iter().any(|row| row.len() != k) {
                bail!(
                    "{}: per_record confusion of record {} is not {k} x {k}",
                    path.display(),
                    r.record
                );
            }
        }
        match &names {
            None => {
                names = Some(c.class_names.clone());
                confusion = c.confusion.clone();
            }
            Some(n) if *n != c.class_names => bail!(
                "{}: class names {:?} differ from {:?} of {}",
                path.display(),
                c.class_names,
                n,
                args.metrics[0].display()
            ),
            Some(_) => {
                for (a, b) in confusion.iter_mut().zip(&c.confusion) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                }
            }
        }
        per_record.extend(c.per_record);
    }
    let names = names.context("no metrics files given")?;
    let mut report =
        classification_report_from_confusion(&confusion, &names, &Bootstrap::new(0, 0))?;
    report.per_record = per_record;
    let md = format!(
        "Pooled over {} evaluations ({}).\n\n{}",
        args.metrics.len(),
        args.metrics
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        report.to_markdown()
    );
    wonhee_fs::write_atomic(&args.out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    if let Some(path) = &args.markdown {
        wonhee_fs::write_atomic(path, md.as_bytes())?;
    }
    if args.print {
        println!("{md}");
    }
    Ok(())
}
