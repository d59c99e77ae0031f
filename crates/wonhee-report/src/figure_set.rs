//! Which figures a report has: one function per figure, each turning the inputs into a
//! [`crate::figures`] plot with its file name and caption. [`make_figures`] draws them all, in
//! the order the report shows them.

use std::path::Path;

use wonhee_eval::{ClassificationReport, Estimate, Metrics};
use wonhee_schema::{Example, Examples, SamplerKind, TrainPoint};

use crate::error::Result;
use crate::figures::{self, Figure};
use crate::format::pct;
use crate::load::{DatasetSummary, ReportInputs, RunData, Tsne};
use crate::sampling::{sampler_caption, sampler_counts, train_counts};

/// Draws every figure the inputs allow. `text = false` draws them without text (no font).
///
/// Order: class distributions (one per dataset), t-SNE of raw windows and of embeddings,
/// training losses per run, validation accuracy of all runs, then per evaluated run its
/// confusion matrix, its misclassified beats per record (runs whose metrics have a per-record
/// confusion), MSE against K and the imputation and forecasting examples.
pub fn make_figures(inputs: &ReportInputs, text: bool) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for (i, (d, labels)) in inputs.datasets().iter().enumerate() {
        out.push(class_distribution(inputs, i, d, labels, text)?);
    }
    for (tsne, what, name) in [
        (&inputs.tsne_raw, "raw windows", "tsne-raw"),
        (&inputs.tsne_embed, "model embeddings", "tsne-embed"),
    ] {
        if let Some(t) = tsne {
            out.push(tsne_figure(t, what, name, text)?);
        }
    }
    for r in inputs.runs.iter().filter(|r| !r.log.train.is_empty()) {
        out.push(losses(r, text)?);
    }
    if let Some(f) = val_accuracy(&inputs.runs, text)? {
        out.push(f);
    }
    for r in &inputs.runs {
        let Some(m) = &r.metrics else { continue };
        if let Some(c) = &m.classification {
            out.push(confusion(r, c, text)?);
            if let Some(f) = record_errors(r, c, text)? {
                out.push(f);
            }
        }
        if !m.imputation.is_empty() || !m.forecasting.is_empty() {
            out.push(mse_vs_k(r, m, text)?);
        }
        if let Some(ex) = &r.examples {
            for (task, list) in [
                ("imputation", &ex.imputation),
                ("forecasting", &ex.forecasting),
            ] {
                if let Some(f) = example(r, ex, task, list, text)? {
                    out.push(f);
                }
            }
        }
    }
    Ok(out)
}

/// `class-distribution-<i+1>`: the training side's windows per class of dataset `d`, and the
/// expected draws per class under the sampler of the first run that used it.
fn class_distribution(
    inputs: &ReportInputs,
    i: usize,
    d: &DatasetSummary,
    labels: &[&str],
    text: bool,
) -> Result<Figure> {
    let first_run = inputs
        .runs
        .iter()
        .find(|r| r.summary.as_ref().is_some_and(|s| s.sha256 == d.sha256));
    let fold = first_run.and_then(|r| r.info.dataset.fold);
    let sampler = first_run.map_or(SamplerKind::Balanced, |r| r.config.train.sampler);
    let before = train_counts(d, fold);
    let split = d.summary.config.split.name();
    let p = figures::ClassDistribution {
        title: format!("Class distribution, {split} split: training side"),
        classes: d.summary.classes.clone(),
        before: before.iter().map(|&n| n as f64).collect(),
        after: sampler_counts(&before, sampler),
    };
    let name = format!("class-distribution-{}", i + 1);
    let caption = format!(
        "Training windows per class of the {split} split (runs: {}) before balancing, and the expected draws per class under {} (log scale).",
        labels.join(", "),
        sampler_caption(sampler)
    );
    figures::render(&p, &name, &caption, text)
}

/// `tsne-raw` or `tsne-embed`: a t-SNE scatter plot coloured by class.
fn tsne_figure(t: &Tsne, what: &str, name: &str, text: bool) -> Result<Figure> {
    let p = scatter(t, what);
    let caption = format!(
        "t-SNE of {what}: {} points from {}, coloured by class.",
        t.x.len(),
        file_name(&t.path)
    );
    figures::render(&p, name, &caption, text)
}

/// `losses-<run>`: the three training losses over steps (log scale).
fn losses(r: &RunData, text: bool) -> Result<Figure> {
    let pick = |f: fn(&TrainPoint) -> Option<f64>| -> Vec<(f64, f64)> {
        r.log
            .train
            .iter()
            .filter_map(|p| f(p).map(|v| (p.step as f64, v)))
            .collect()
    };
    let p = figures::Curves {
        title: format!("Training losses, {}", r.label),
        x_desc: "step".into(),
        y_desc: "loss (log scale)".into(),
        log_y: true,
        smooth: (r.log.train.len() / 50).max(1),
        series: vec![
            ("classification".into(), pick(|p| p.loss_cls)),
            ("imputation (MSE)".into(), pick(|p| p.loss_imp)),
            ("forecasting (MSE)".into(), pick(|p| p.loss_fc)),
        ],
        markers: false,
    };
    let name = format!("losses-{}", r.slug);
    let caption = format!(
        "Training losses of the three tasks over steps, {} (faint: every step; bold: moving average).",
        r.label
    );
    figures::render(&p, &name, &caption, text)
}

/// `val-accuracy`: validation accuracy over steps, one curve per run with validations; `None`
/// when no run has any.
fn val_accuracy(runs: &[RunData], text: bool) -> Result<Option<Figure>> {
    let val: Vec<(String, Vec<(f64, f64)>)> = runs
        .iter()
        .filter(|r| !r.log.val.is_empty())
        .map(|r| {
            let pts = r
                .log
                .val
                .iter()
                .filter_map(|v| v.accuracy.map(|a| (v.step as f64, 100.0 * a)))
                .collect();
            (r.label.clone(), pts)
        })
        .collect();
    if val.is_empty() {
        return Ok(None);
    }
    let p = figures::Curves {
        title: "Validation accuracy".into(),
        x_desc: "step".into(),
        y_desc: "accuracy (%)".into(),
        log_y: false,
        smooth: 1,
        series: val,
        markers: true,
    };
    let caption = "Validation accuracy over training steps, all runs.";
    figures::render(&p, "val-accuracy", caption, text).map(Some)
}

/// `confusion-<run>`: the test confusion matrix.
fn confusion(r: &RunData, c: &ClassificationReport, text: bool) -> Result<Figure> {
    let p = figures::Confusion {
        title: format!("Confusion matrix, {}", r.label),
        classes: c.class_names.clone(),
        matrix: c.confusion.clone(),
    };
    let name = format!("confusion-{}", r.slug);
    let caption = format!(
        "Test confusion matrix, {} (rows: true class, columns: predicted; colour: share of the row; numbers: counts).",
        r.label
    );
    figures::render(&p, &name, &caption, text)
}

/// The AAMI classes whose misclassified beats the per-record figure counts.
const ERROR_CLASSES: [&str; 4] = ["N", "S", "V", "F"];

/// Misclassified N/S/V/F beats of each record, split by true class.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RecordErrorCounts {
    /// The classes of [`ERROR_CLASSES`] found in the class names: name and index.
    pub classes: Vec<(String, usize)>,
    /// Record names, in the metrics' order.
    pub records: Vec<String>,
    /// `counts[record][class]`: beats of that true class predicted as any other class.
    pub counts: Vec<Vec<u64>>,
}

/// Counts, from `c.per_record`, the beats whose true class is N, S, V or F and whose predicted
/// class differs (a beat predicted as Q counts; Q beats do not). `None` without a per-record
/// confusion or without any of N, S, V, F in the class names. Cells missing from a malformed
/// confusion count as 0.
pub(crate) fn record_error_counts(c: &ClassificationReport) -> Option<RecordErrorCounts> {
    if c.per_record.is_empty() {
        return None;
    }
    let classes: Vec<(String, usize)> = ERROR_CLASSES
        .iter()
        .filter_map(|&k| {
            let i = c.class_names.iter().position(|n| n == k)?;
            Some((k.to_string(), i))
        })
        .collect();
    if classes.is_empty() {
        return None;
    }
    let counts = c
        .per_record
        .iter()
        .map(|r| {
            classes
                .iter()
                .map(|&(_, t)| {
                    r.confusion.get(t).map_or(0, |row| {
                        row.iter()
                            .enumerate()
                            .filter(|&(p, _)| p != t)
                            .map(|(_, &v)| v)
                            .sum()
                    })
                })
                .collect()
        })
        .collect();
    Some(RecordErrorCounts {
        classes,
        records: c.per_record.iter().map(|r| r.record.clone()).collect(),
        counts,
    })
}

/// How many records with the most errors the caption names.
const TOP_RECORDS: usize = 5;

/// The caption's summary of `e`: the total, and which records carry the most errors.
fn record_errors_summary(e: &RecordErrorCounts) -> String {
    let mut totals: Vec<(&str, u64)> = e
        .records
        .iter()
        .zip(&e.counts)
        .map(|(r, c)| (r.as_str(), c.iter().sum()))
        .collect();
    let total: u64 = totals.iter().map(|t| t.1).sum();
    if total == 0 {
        return "No record has such a beat.".into();
    }
    // Stable: ties keep the metrics' order.
    totals.sort_by_key(|t| std::cmp::Reverse(t.1));
    let top: Vec<(&str, u64)> = totals
        .into_iter()
        .filter(|t| t.1 > 0)
        .take(TOP_RECORDS)
        .collect();
    let carried: u64 = top.iter().map(|t| t.1).sum();
    let names: Vec<String> = top.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    format!(
        "{total} such beats in {} record{}; the {} with the most ({}) carry {} of them.",
        e.records.len(),
        if e.records.len() == 1 { "" } else { "s" },
        top.len(),
        names.join(", "),
        pct(carried as f64 / total as f64)
    )
}

/// `record-errors-<run>`: misclassified N/S/V/F beats of each test record, stacked by true
/// class; `None` when the metrics have no per-record confusion.
fn record_errors(r: &RunData, c: &ClassificationReport, text: bool) -> Result<Option<Figure>> {
    let Some(e) = record_error_counts(c) else {
        return Ok(None);
    };
    let names: Vec<&str> = e.classes.iter().map(|(n, _)| n.as_str()).collect();
    let caption = format!(
        "Misclassified beats per test record, {}: beats whose true class is {} and whose predicted class is any other one (Q included), stacked by true class; beats of other true classes (Q) are not counted. {}",
        r.label,
        names.join(", "),
        record_errors_summary(&e)
    );
    let p = figures::RecordErrors {
        title: format!("Misclassified beats per record, {}", r.label),
        x_desc: "misclassified beats".into(),
        records: e.records,
        classes: e.classes,
        counts: e.counts,
    };
    let name = format!("record-errors-{}", r.slug);
    figures::render(&p, &name, &caption, text).map(Some)
}

/// One series of points `(K, estimate)`.
fn series(name: &str, points: Vec<(f64, Estimate)>) -> figures::ErrorSeries {
    figures::ErrorSeries {
        name: name.into(),
        points,
    }
}

/// `mse-vs-k-<run>`: imputation and forecasting MSE against K, model and baselines, one panel
/// per task evaluated.
fn mse_vs_k(r: &RunData, m: &Metrics, text: bool) -> Result<Figure> {
    let imp = &m.imputation;
    let fc = &m.forecasting;
    let k = |k: usize| k as f64;
    let mut panels = Vec::new();
    if !imp.is_empty() {
        panels.push((
            "Imputation".to_string(),
            vec![
                series("model", imp.iter().map(|r| (k(r.k), r.model.mse)).collect()),
                series("zero", imp.iter().map(|r| (k(r.k), r.zero.mse)).collect()),
                series("mean", imp.iter().map(|r| (k(r.k), r.mean.mse)).collect()),
                series(
                    "linear",
                    imp.iter().map(|r| (k(r.k), r.linear.mse)).collect(),
                ),
            ],
        ));
    }
    if !fc.is_empty() {
        panels.push((
            "Forecasting".to_string(),
            vec![
                series("model", fc.iter().map(|r| (k(r.k), r.model.mse)).collect()),
                series(
                    "last value",
                    fc.iter().map(|r| (k(r.k), r.last_value.mse)).collect(),
                ),
                series(
                    "previous beat",
                    fc.iter().map(|r| (k(r.k), r.previous_beat.mse)).collect(),
                ),
            ],
        ));
    }
    let p = figures::ErrorVsK {
        title: format!("MSE against K, {}", r.label),
        panels,
        y_desc: "MSE (standardized units²)".into(),
    };
    let name = format!("mse-vs-k-{}", r.slug);
    let caption = format!(
        "Imputation and forecasting MSE on hidden points against K, model and baselines, {} (error bars: bootstrap intervals).",
        r.label
    );
    figures::render(&p, &name, &caption, text)
}

/// The example shown for a task: the first one with the middle K when several are given (370
/// of 200/370/540); `None` for an empty list.
fn middle_example(list: &[Example]) -> Option<&Example> {
    let mut ks: Vec<usize> = list.iter().map(|e| e.k).collect();
    ks.sort_unstable();
    ks.dedup();
    let &k = ks.get(ks.len() / 2)?;
    list.iter().find(|e| e.k == k)
}

/// `<task>-example-<run>`: one test window with the model's and the baseline's outputs;
/// `None` when the task has no example.
fn example(
    r: &RunData,
    ex: &Examples,
    task: &str,
    list: &[Example],
    text: bool,
) -> Result<Option<Figure>> {
    let Some(e) = middle_example(list) else {
        return Ok(None);
    };
    let p = figures::ExampleWindow {
        title: format!(
            "{} example, {}: record {}, beat {} ({}), K = {}",
            capitalize(task),
            r.label,
            e.record,
            e.sample,
            e.class,
            e.k
        ),
        rate_hz: ex.rate_hz,
        truth: e.truth.clone(),
        hidden: e.hidden.clone(),
        pred: e.pred.clone(),
        baseline_name: e.baseline_name.clone(),
        baseline: e.baseline.clone(),
    };
    let name = format!("{task}-example-{}", r.slug);
    let caption = format!(
        "{} example on a test window, {}: record {}, beat at sample {} (class {}), {} hidden points; grey: truth, black: observed points, red: model, green: baseline `{}`.",
        capitalize(task),
        r.label,
        e.record,
        e.sample,
        e.class,
        e.k,
        e.baseline_name
    );
    figures::render(&p, &name, &caption, text).map(Some)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// Legend order of the class labels; other labels follow, sorted.
const CLASS_ORDER: [&str; 6] = ["N", "S", "V", "F", "Q", "P"];

fn scatter(t: &Tsne, what: &str) -> figures::Scatter {
    let label = t
        .label
        .clone()
        .unwrap_or_else(|| vec!["all".to_string(); t.x.len()]);
    let mut order: Vec<String> = label.clone();
    order.sort_by_key(|l| {
        (
            CLASS_ORDER
                .iter()
                .position(|c| c == l)
                .unwrap_or(CLASS_ORDER.len()),
            l.clone(),
        )
    });
    order.dedup();
    figures::Scatter {
        title: format!("t-SNE of {what}"),
        x: t.x.clone(),
        y: t.y.clone(),
        label,
        order,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use wonhee_eval::{Bootstrap, classification_report};

    use super::*;

    /// `(true, predicted, count)` cells of a confusion.
    type Cells<'a> = &'a [(u8, u8, usize)];

    /// A report over N, S, V, F, Q whose records hold the given cells.
    fn report(records: &[(&str, Cells<'_>)]) -> ClassificationReport {
        let names: Vec<String> = ["N", "S", "V", "F", "Q"].map(String::from).to_vec();
        let (mut t, mut p, mut g) = (Vec::new(), Vec::new(), Vec::new());
        for (gi, (_, cells)) in records.iter().enumerate() {
            for &(a, b, n) in *cells {
                t.extend(std::iter::repeat_n(a, n));
                p.extend(std::iter::repeat_n(b, n));
                g.extend(std::iter::repeat_n(gi as u32, n));
            }
        }
        let recs: Vec<String> = records.iter().map(|r| r.0.to_string()).collect();
        classification_report(&t, &p, &names, Some(&g), &Bootstrap::new(0, 0))
            .unwrap()
            .with_groups(&t, &p, &g, &recs)
            .unwrap()
    }

    fn three_records() -> ClassificationReport {
        report(&[
            // 232: 4 S as N, 1 N as S, 1 N as Q; 3 Q as N are not counted.
            (
                "232",
                &[(0, 0, 10), (1, 0, 4), (0, 1, 1), (0, 4, 1), (4, 0, 3)],
            ),
            ("100", &[(0, 0, 5)]),
            // 222: 2 V as F, 1 F as V.
            ("222", &[(0, 0, 3), (2, 3, 2), (3, 2, 1)]),
        ])
    }

    #[test]
    fn record_errors_count_nsvf_misses_by_true_class() {
        let e = record_error_counts(&three_records()).unwrap();
        assert_eq!(e.records, ["232", "100", "222"]);
        let classes: Vec<(&str, usize)> = e.classes.iter().map(|(n, i)| (n.as_str(), *i)).collect();
        assert_eq!(classes, [("N", 0), ("S", 1), ("V", 2), ("F", 3)]);
        assert_eq!(
            e.counts,
            vec![vec![2, 4, 0, 0], vec![0, 0, 0, 0], vec![0, 0, 2, 1]]
        );
        assert_eq!(
            record_errors_summary(&e),
            "9 such beats in 3 records; the 2 with the most (232: 6, 222: 3) carry 100.00% of them."
        );
    }

    #[test]
    fn record_errors_need_a_per_record_confusion_and_aami_classes() {
        let mut c = three_records();
        let mut other = c.clone();
        other.class_names = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert!(record_error_counts(&other).is_none());
        // A malformed confusion (rows missing) counts its missing cells as 0, no panic.
        c.per_record[2].confusion.truncate(3);
        let e = record_error_counts(&c).unwrap();
        assert_eq!(e.counts[2], vec![0, 0, 2, 0]);
        c.per_record.clear();
        assert!(record_error_counts(&c).is_none());
    }

    #[test]
    fn record_errors_summary_without_errors() {
        let e = record_error_counts(&report(&[("100", &[(0, 0, 5)])])).unwrap();
        assert_eq!(record_errors_summary(&e), "No record has such a beat.");
    }
}
