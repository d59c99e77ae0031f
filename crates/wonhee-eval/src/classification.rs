//! Classification metrics from a confusion matrix, with window or cluster (group) bootstrap
//! intervals, and the AAMI EC57 gross statistics.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::bootstrap::{Bootstrap, BootstrapInfo, Estimate, Unit, Units, dense_groups, intervals};
use crate::{EvalError, Result};

/// Metrics of one class, one-vs-rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub name: String,
    /// Windows whose true class is this one (TP + FN).
    pub support: u64,
    /// Windows predicted as this class (TP + FP).
    pub predicted: u64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
    /// Se = recall = TP / (TP + FN); `None` without support.
    pub sensitivity: Estimate,
    /// +P = precision = TP / (TP + FP); `None` without predictions of the class.
    pub positive_predictivity: Estimate,
    /// TN / (TN + FP); `None` when every window belongs to the class.
    pub specificity: Estimate,
    /// FPR = FP / (FP + TN) = 1 - specificity; same `None` rule.
    pub fpr: Estimate,
    /// F1 = 2 TP / (2 TP + FP + FN); `None` when the class is neither true nor predicted.
    pub f1: Estimate,
}

/// One row (N, S, V or F) of the AAMI EC57 gross statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AamiClass {
    /// Class name (`N`, `S`, `V` or `F`).
    pub name: String,
    /// Beats of this true class.
    pub beats: u64,
    /// True positives.
    pub tp: u64,
    /// False negatives (including beats predicted as an excluded class).
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// False positives among the evaluated (N, S, V, F) beats.
    pub fp: u64,
    /// True negatives among the evaluated beats.
    pub tn: u64,
    /// Se = TP / (TP + FN).
    pub sensitivity: Estimate,
    /// +P = TP / (TP + FP).
    pub positive_predictivity: Estimate,
    /// FPR = FP / (FP + TN).
    pub fpr: Estimate,
}

/// AAMI EC57 gross statistics: Se, +P and FPR of N, S, V and F from the confusion matrix summed
/// over all records. Beats whose true class is not one of N, S, V, F (Q, and P in the 6-class
/// scheme) are left out, as AAMI recommends; an N/S/V/F beat predicted as such a class is a miss
/// (FN of its class, FP of none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AamiGross {
    /// Evaluated beats (true class N, S, V or F).
    pub n_beats: u64,
    /// Beats left out because their true class is not N, S, V or F.
    pub excluded: u64,
    /// Evaluated beats predicted as a left-out class (counted as misses).
    pub predicted_excluded: u64,
    /// Fraction of evaluated beats classified correctly.
    pub accuracy: Estimate,
    /// Mean F1 of N, S, V and F (each from its TP, FN and FP above).
    #[serde(default)]
    pub macro_f1: Estimate,
    /// Cohen's kappa of the 4 x 4 N/S/V/F confusion (beats predicted as a left-out class are
    /// not in it).
    #[serde(default)]
    pub kappa: Estimate,
    /// The jκ index of Mondéjar-Guerra et al. (Biomed. Signal Process. Control 47, 2019):
    /// `κ / 2 + j / 8`, `j = Se_S + +P_S + Se_V + +P_V` (fractions); 1 for a perfect classifier.
    #[serde(default)]
    pub jkappa: Estimate,
    /// Rows N, S, V, F.
    pub classes: Vec<AamiClass>,
}

/// Classification metrics with bootstrap intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Number of windows (beats).
    pub n: u64,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// How the intervals were obtained.
    pub bootstrap: BootstrapInfo,
    /// Fraction of windows classified correctly.
    pub accuracy: Estimate,
    /// Mean sensitivity over classes with support.
    pub balanced_accuracy: Estimate,
    /// Mean F1 over classes that are true or predicted at least once.
    pub macro_f1: Estimate,
    /// One entry per class, in label order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[t][p]`: windows of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<u64>>,
    /// AAMI EC57 gross statistics; `None` unless the class names include N, S, V and F.
    pub aami: Option<AamiGross>,
    /// The confusion of each record (or other group), when the caller adds it
    /// ([`ClassificationReport::with_groups`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_record: Vec<GroupConfusion>,
}

/// The confusion matrix of one record's windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupConfusion {
    /// Record name.
    pub record: String,
    /// Windows of the record.
    pub n: u64,
    /// `confusion[t][p]`, as [`ClassificationReport::confusion`].
    pub confusion: Vec<Vec<u64>>,
}

/// Positions of N, S, V, F in the class names.
fn aami_indices(names: &[String]) -> Option<[usize; 4]> {
    let find = |n: &str| names.iter().position(|s| s == n);
    Some([find("N")?, find("S")?, find("V")?, find("F")?])
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn mean_defined(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (s, n) = xs.flatten().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Number of scalars [`scalars`] computes.
fn n_scalars(c: usize, aami: bool) -> usize {
    3 + 5 * c + if aami { 4 * 3 + 4 } else { 0 }
}

/// Every scalar of the report, from a (possibly resampled) `c x c` confusion matrix stored
/// row-major as f64 counts. Order: accuracy, balanced accuracy, macro-F1; per class (Se, +P,
/// specificity, FPR, F1); if `aami`, per N/S/V/F (Se, +P, FPR), the AAMI accuracy, macro-F1,
/// Cohen's kappa and jκ.
fn scalars(m: &[f64], c: usize, aami: Option<[usize; 4]>) -> Vec<Option<f64>> {
    let n: f64 = m.iter().sum();
    let row = |t: usize| m[t * c..(t + 1) * c].iter().sum::<f64>();
    let col = |p: usize| (0..c).map(|t| m[t * c + p]).sum::<f64>();
    let mut out = Vec::with_capacity(n_scalars(c, aami.is_some()));
    let mut per = Vec::with_capacity(5 * c);
    let mut correct = 0.0;
    for k in 0..c {
        let tp = m[k * c + k];
        correct += tp;
        let (support, predicted) = (row(k), col(k));
        let (fn_, fp) = (support - tp, predicted - tp);
        let tn = n - tp - fn_ - fp;
        per.push(ratio(tp, support));
        per.push(ratio(tp, predicted));
        per.push(ratio(tn, tn + fp));
        per.push(ratio(fp, tn + fp));
        per.push(ratio(2.0 * tp, 2.0 * tp + fp + fn_));
    }
    out.push(ratio(correct, n));
    out.push(mean_defined((0..c).map(|k| per[5 * k])));
    out.push(mean_defined((0..c).map(|k| per[5 * k + 4])));
    out.extend(per);
    if let Some(idx) = aami {
        let n4: f64 = idx.iter().map(|&t| row(t)).sum();
        let mut correct4 = 0.0;
        let mut f1 = Vec::with_capacity(4);
        let mut se_ppv = Vec::with_capacity(4);
        for &k in &idx {
            let tp = m[k * c + k];
            correct4 += tp;
            let fn_ = row(k) - tp;
            let fp: f64 = idx.iter().filter(|&&t| t != k).map(|&t| m[t * c + k]).sum();
            let tn = n4 - tp - fn_ - fp;
            let (se, ppv) = (ratio(tp, tp + fn_), ratio(tp, tp + fp));
            out.push(se);
            out.push(ppv);
            out.push(ratio(fp, fp + tn));
            f1.push(ratio(2.0 * tp, 2.0 * tp + fp + fn_));
            se_ppv.push((se, ppv));
        }
        out.push(ratio(correct4, n4));
        out.push(mean_defined(f1.into_iter()));
        let kappa = cohen_kappa(m, c, &idx);
        out.push(kappa);
        // j index over S (idx[1]) and V (idx[2]); undefined parts count as 0.
        let j: f64 = [se_ppv[1], se_ppv[2]]
            .iter()
            .map(|(a, b)| a.unwrap_or(0.0) + b.unwrap_or(0.0))
            .sum();
        out.push(kappa.map(|k| k / 2.0 + j / 8.0));
    }
    out
}

/// Cohen's kappa of the confusion restricted to the classes at `idx` (rows and columns).
fn cohen_kappa(m: &[f64], c: usize, idx: &[usize]) -> Option<f64> {
    let cell = |t: usize, p: usize| m[t * c + p];
    let n: f64 = idx
        .iter()
        .flat_map(|&t| idx.iter().map(move |&p| (t, p)))
        .map(|(t, p)| cell(t, p))
        .sum();
    if n <= 0.0 {
        return None;
    }
    let po = idx.iter().map(|&k| cell(k, k)).sum::<f64>() / n;
    let pe = idx
        .iter()
        .map(|&k| {
            let r: f64 = idx.iter().map(|&p| cell(k, p)).sum();
            let col: f64 = idx.iter().map(|&t| cell(t, k)).sum();
            r * col
        })
        .sum::<f64>()
        / (n * n);
    ratio(po - pe, 1.0 - pe)
}

/// Accuracy, balanced accuracy, macro-F1, per-class Se, +P, specificity, FPR and F1, the
/// confusion matrix and (for AAMI class names) the EC57 gross statistics, each with a
/// percentile bootstrap interval.
///
/// `y_true`/`y_pred` are class indices into `class_names`. With `groups` (one id per window,
/// e.g. the record), resamples draw whole groups (cluster bootstrap, the honest choice when
/// windows of a record are correlated, as in the inter-patient split); without, single windows.
/// Ratios with a zero denominator are `None`; see [`ClassMetrics`].
pub fn classification_report(
    y_true: &[u8],
    y_pred: &[u8],
    class_names: &[String],
    groups: Option<&[u32]>,
    boot: &Bootstrap,
) -> Result<ClassificationReport> {
    boot.validate()?;
    let c = class_names.len();
    check_inputs(y_true, y_pred, c, groups)?;
    let (rows, weights, unit, n_units) = resampling_units(y_true, y_pred, c, groups);
    Ok(report_from_units(
        class_names,
        &rows,
        weights.as_deref(),
        unit,
        n_units,
        boot,
    ))
}

/// The report of a confusion matrix (`confusion[t][p]`, one row and column per class name),
/// as [`classification_report`] gives for the windows it counts, with window-bootstrap
/// intervals: for pooling evaluations whose windows are gone (the folds of a
/// cross-validation).
pub fn classification_report_from_confusion(
    confusion: &[Vec<u64>],
    class_names: &[String],
    boot: &Bootstrap,
) -> Result<ClassificationReport> {
    boot.validate()?;
    let c = class_names.len();
    if c == 0 {
        return Err(EvalError::InvalidParameter("no class names given".into()));
    }
    if confusion.len() != c || confusion.iter().any(|r| r.len() != c) {
        return Err(EvalError::InvalidParameter(format!(
            "the confusion matrix is not {c} x {c} (one row and column per class name)"
        )));
    }
    let cells = c * c;
    let counts: Vec<u64> = confusion.iter().flatten().copied().collect();
    let mut rows = vec![0.0; cells * cells];
    for i in 0..cells {
        rows[i * cells + i] = 1.0;
    }
    let n: u64 = counts.iter().sum();
    Ok(report_from_units(
        class_names,
        &rows,
        Some(&counts),
        Unit::Window,
        n,
        boot,
    ))
}

/// The report from bootstrap units (rows of `c * c` confusion cells, see
/// [`resampling_units`]).
fn report_from_units(
    class_names: &[String],
    rows: &[f64],
    weights: Option<&[u64]>,
    unit: Unit,
    n_units: u64,
    boot: &Bootstrap,
) -> ClassificationReport {
    let c = class_names.len();
    let aami = aami_indices(class_names);
    let units = Units {
        rows,
        dim: c * c,
        weights,
    };
    let total = units.total();
    let point = scalars(&total, c, aami);
    let ci = intervals(boot, &units, point.len(), |m| scalars(m, c, aami));
    let est = |i: usize| Estimate::new(point[i], ci[i]);

    let confusion: Vec<Vec<u64>> = (0..c)
        .map(|t| (0..c).map(|p| total[t * c + p] as u64).collect())
        .collect();
    let n: u64 = confusion.iter().flatten().sum();
    let per_class = per_class_metrics(&confusion, class_names, n, &est);
    let aami = aami.map(|idx| aami_gross(idx, &confusion, class_names, n, &est));
    ClassificationReport {
        n,
        class_names: class_names.to_vec(),
        bootstrap: BootstrapInfo {
            unit,
            resamples: boot.resamples,
            seed: boot.seed,
            level: boot.level,
            n_units,
        },
        accuracy: est(0),
        balanced_accuracy: est(1),
        macro_f1: est(2),
        per_class,
        confusion,
        aami,
        per_record: Vec::new(),
    }
}

/// Checks the inputs of [`classification_report`]: at least one class (`c`), `y_pred` and
/// `groups` as long as `y_true`, and every label below `c`.
fn check_inputs(y_true: &[u8], y_pred: &[u8], c: usize, groups: Option<&[u32]>) -> Result<()> {
    if c == 0 {
        return Err(EvalError::InvalidParameter("no class names given".into()));
    }
    if y_pred.len() != y_true.len() {
        return Err(EvalError::LengthMismatch {
            what: "y_pred (vs y_true)".into(),
            expected: y_true.len(),
            got: y_pred.len(),
        });
    }
    if let Some(g) = groups
        && g.len() != y_true.len()
    {
        return Err(EvalError::LengthMismatch {
            what: "groups (vs y_true)".into(),
            expected: y_true.len(),
            got: g.len(),
        });
    }
    for (what, ys) in [("y_true", y_true), ("y_pred", y_pred)] {
        if let Some(i) = ys.iter().position(|&y| usize::from(y) >= c) {
            return Err(EvalError::InvalidLabel {
                what,
                index: i,
                label: ys[i],
                n_classes: c,
            });
        }
    }
    Ok(())
}

/// The bootstrap units, as rows of `c * c` confusion cells: without `groups`, one row per
/// confusion cell (window bootstrap; weight = the cell's count); with them, one confusion
/// matrix per group. Returns the rows, the weights, the unit kind and the number of units.
fn resampling_units(
    y_true: &[u8],
    y_pred: &[u8],
    c: usize,
    groups: Option<&[u32]>,
) -> (Vec<f64>, Option<Vec<u64>>, Unit, u64) {
    let cells = c * c;
    match groups {
        None => {
            let mut counts = vec![0u64; cells];
            for (&t, &p) in y_true.iter().zip(y_pred) {
                counts[usize::from(t) * c + usize::from(p)] += 1;
            }
            let mut rows = vec![0.0; cells * cells];
            for i in 0..cells {
                rows[i * cells + i] = 1.0;
            }
            (rows, Some(counts), Unit::Window, y_true.len() as u64)
        }
        Some(g) => {
            let (dense, n_groups) = dense_groups(g);
            let mut rows = vec![0.0; n_groups * cells];
            for ((&t, &p), &gi) in y_true.iter().zip(y_pred).zip(&dense) {
                rows[gi * cells + usize::from(t) * c + usize::from(p)] += 1.0;
            }
            (rows, None, Unit::Group, n_groups as u64)
        }
    }
}

/// One-vs-rest counts of every class from `confusion` (of `n` windows), with the estimates
/// `est` gives for the scalars of [`scalars`].
fn per_class_metrics(
    confusion: &[Vec<u64>],
    class_names: &[String],
    n: u64,
    est: &impl Fn(usize) -> Estimate,
) -> Vec<ClassMetrics> {
    (0..class_names.len())
        .map(|k| {
            let tp = confusion[k][k];
            let support: u64 = confusion[k].iter().sum();
            let predicted: u64 = confusion.iter().map(|r| r[k]).sum();
            let b = 3 + 5 * k;
            ClassMetrics {
                name: class_names[k].clone(),
                support,
                predicted,
                tp,
                fp: predicted - tp,
                fn_: support - tp,
                tn: n + tp - support - predicted,
                sensitivity: est(b),
                positive_predictivity: est(b + 1),
                specificity: est(b + 2),
                fpr: est(b + 3),
                f1: est(b + 4),
            }
        })
        .collect()
}

/// The AAMI gross statistics of the classes at `idx` (N, S, V, F) from `confusion` (of `n`
/// windows), with the estimates `est` gives for the scalars of [`scalars`].
fn aami_gross(
    idx: [usize; 4],
    confusion: &[Vec<u64>],
    class_names: &[String],
    n: u64,
    est: &impl Fn(usize) -> Estimate,
) -> AamiGross {
    let c = class_names.len();
    let base = 3 + 5 * c;
    let n_beats: u64 = idx.iter().map(|&t| confusion[t].iter().sum::<u64>()).sum();
    let predicted_excluded: u64 = idx
        .iter()
        .map(|&t| {
            (0..c)
                .filter(|p| !idx.contains(p))
                .map(|p| confusion[t][p])
                .sum::<u64>()
        })
        .sum();
    let classes = idx
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            let tp = confusion[k][k];
            let beats: u64 = confusion[k].iter().sum();
            let fp: u64 = idx
                .iter()
                .filter(|&&t| t != k)
                .map(|&t| confusion[t][k])
                .sum();
            AamiClass {
                name: class_names[k].clone(),
                beats,
                tp,
                fn_: beats - tp,
                fp,
                tn: n_beats - beats - fp,
                sensitivity: est(base + 3 * j),
                positive_predictivity: est(base + 3 * j + 1),
                fpr: est(base + 3 * j + 2),
            }
        })
        .collect();
    AamiGross {
        n_beats,
        excluded: n - n_beats,
        predicted_excluded,
        accuracy: est(base + 12),
        macro_f1: est(base + 13),
        kappa: est(base + 14),
        jkappa: est(base + 15),
        classes,
    }
}

/// `98.76%`, or `–` when undefined.
pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{:.2}%", 100.0 * v))
}

/// `98.76% (98.50–99.00)`; the interval part is left out when absent.
pub(crate) fn pct_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => {
            format!("{:.2}% ({:.2}–{:.2})", 100.0 * v, 100.0 * lo, 100.0 * hi)
        }
        (Some(v), ..) => pct(Some(v)),
    }
}

/// `0.876 (0.850–0.900)`; the interval part is left out when absent.
pub(crate) fn num_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => format!("{v:.3} ({lo:.3}–{hi:.3})"),
        (Some(v), ..) => format!("{v:.3}"),
    }
}

impl ClassificationReport {
    /// Adds the per-record table: `groups[i]` is the index into `names` of window `i`'s record,
    /// for the same `y_true` and `y_pred` as the report. Records without windows are left out.
    pub fn with_groups(
        mut self,
        y_true: &[u8],
        y_pred: &[u8],
        groups: &[u32],
        names: &[String],
    ) -> Result<Self> {
        let c = self.class_names.len();
        check_inputs(y_true, y_pred, c, Some(groups))?;
        let mut per: Vec<GroupConfusion> = names
            .iter()
            .map(|r| GroupConfusion {
                record: r.clone(),
                n: 0,
                confusion: vec![vec![0; c]; c],
            })
            .collect();
        for ((&t, &p), &g) in y_true.iter().zip(y_pred).zip(groups) {
            let row = per.get_mut(g as usize).ok_or_else(|| {
                EvalError::InvalidParameter(format!(
                    "group {g} has no name ({} names)",
                    names.len()
                ))
            })?;
            row.n += 1;
            row.confusion[usize::from(t)][usize::from(p)] += 1;
        }
        self.per_record = per.into_iter().filter(|r| r.n > 0).collect();
        Ok(self)
    }

    /// The per-record table in Markdown (beats, accuracy, and Se / +P of N, S, V, F as
    /// counts, AAMI-style: Q rows left out), or an empty string without one.
    pub fn per_record_markdown(&self) -> String {
        let Some(idx) = aami_indices(&self.class_names) else {
            return String::new();
        };
        if self.per_record.is_empty() {
            return String::new();
        }
        let mut s = String::from(
            "| Record | Beats | Accuracy | N Se | S beats | S Se | S +P | V beats | V Se | V +P | F beats | F Se |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let c = self.class_names.len();
        for r in &self.per_record {
            let m = &r.confusion;
            if m.len() != c || m.iter().any(|row| row.len() != c) {
                let _ = writeln!(
                    s,
                    "| {} | malformed confusion | | | | | | | | | | |",
                    r.record
                );
                continue;
            }
            let beats: u64 = idx.iter().map(|&t| m[t].iter().sum::<u64>()).sum();
            let correct: u64 = idx.iter().map(|&k| m[k][k]).sum();
            let se = |k: usize| ratio(m[k][k] as f64, m[k].iter().sum::<u64>() as f64);
            let ppv = |k: usize| {
                let col: u64 = idx.iter().map(|&t| m[t][k]).sum();
                ratio(m[k][k] as f64, col as f64)
            };
            let n_of = |k: usize| m[k].iter().sum::<u64>();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.record,
                beats,
                pct(ratio(correct as f64, beats as f64)),
                pct(se(idx[0])),
                n_of(idx[1]),
                pct(se(idx[1])),
                pct(ppv(idx[1])),
                n_of(idx[2]),
                pct(se(idx[2])),
                pct(ppv(idx[2])),
                n_of(idx[3]),
                pct(se(idx[3])),
            );
        }
        s
    }

    /// Markdown: summary with intervals, per-class table, confusion matrix and, when present,
    /// the AAMI gross statistics.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let b = &self.bootstrap;
        let unit = match b.unit {
            Unit::Window => "windows",
            Unit::Group => "groups",
        };
        let _ = writeln!(
            s,
            "{} windows. Intervals: {:.0}% percentile bootstrap, {} resamples of {} {} (seed {}).\n",
            self.n,
            100.0 * b.level,
            b.resamples,
            b.n_units,
            unit,
            b.seed
        );
        let _ = writeln!(
            s,
            "| Metric | Value ({:.0}% CI) |\n|---|---|",
            100.0 * b.level
        );
        for (name, e) in [
            ("Accuracy", &self.accuracy),
            ("Balanced accuracy", &self.balanced_accuracy),
            ("Macro-F1", &self.macro_f1),
        ] {
            let _ = writeln!(s, "| {name} | {} |", pct_ci(e));
        }
        s.push_str(
            "\n| Class | Support | Predicted | Se | +P | Specificity | FPR | F1 |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for k in &self.per_class {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                k.name,
                k.support,
                k.predicted,
                pct_ci(&k.sensitivity),
                pct_ci(&k.positive_predictivity),
                pct_ci(&k.specificity),
                pct_ci(&k.fpr),
                pct_ci(&k.f1)
            );
        }
        s.push_str("\nConfusion matrix (rows = true class, columns = predicted class):\n\n");
        s.push_str("| true \\ predicted |");
        for n in &self.class_names {
            let _ = write!(s, " {n} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.class_names.len()));
        s.push('\n');
        for (name, row) in self.class_names.iter().zip(&self.confusion) {
            let _ = write!(s, "| **{name}** |");
            for v in row {
                let _ = write!(s, " {v} |");
            }
            s.push('\n');
        }
        if let Some(a) = &self.aami {
            s.push('\n');
            s.push_str(&a.to_markdown());
        }
        let per = self.per_record_markdown();
        if !per.is_empty() {
            s.push_str("\nPer record (N, S, V, F beats only; +P within the record):\n\n");
            s.push_str(&per);
        }
        s
    }
}

impl AamiGross {
    /// The AAMI EC57 gross statistics table (rates in percent, intervals in parentheses).
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "AAMI EC57 gross statistics (N, S, V, F; confusion summed over all records):\n\n\
             | Class | Beats | TP | FN | FP | Se | +P | FPR |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for c in &self.classes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                c.name,
                c.beats,
                c.tp,
                c.fn_,
                c.fp,
                pct_ci(&c.sensitivity),
                pct_ci(&c.positive_predictivity),
                pct_ci(&c.fpr)
            );
        }
        let tp: u64 = self.classes.iter().map(|c| c.tp).sum();
        let _ = writeln!(
            s,
            "| **Total** | {} | {} | {} | {} | accuracy {} | | |",
            self.n_beats,
            tp,
            self.n_beats - tp,
            self.n_beats - tp - self.predicted_excluded,
            pct_ci(&self.accuracy)
        );
        let _ = writeln!(
            s,
            "\nmacro-F1 (N, S, V, F) {}; Cohen's κ {}; jκ {}.",
            num_ci(&self.macro_f1),
            num_ci(&self.kappa),
            num_ci(&self.jkappa)
        );
        let _ = writeln!(
            s,
            "\nLeft out: {} beats of other true classes (Q). {} N/S/V/F beats predicted as a left-out class count as misses.",
            self.excluded, self.predicted_excluded
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    /// Expands a confusion matrix into label vectors.
    fn labels(m: &[&[u64]]) -> (Vec<u8>, Vec<u8>) {
        let (mut t, mut p) = (Vec::new(), Vec::new());
        for (i, row) in m.iter().enumerate() {
            for (j, &n) in row.iter().enumerate() {
                for _ in 0..n {
                    t.push(i as u8);
                    p.push(j as u8);
                }
            }
        }
        (t, p)
    }

    #[test]
    fn hand_computed_three_class_matrix() {
        // true\pred  A  B  C
        //   A        5  1  0
        //   B        2  3  1
        //   C        0  0  4
        let (t, p) = labels(&[&[5, 1, 0], &[2, 3, 1], &[0, 0, 4]]);
        let r = classification_report(
            &t,
            &p,
            &names(&["A", "B", "C"]),
            None,
            &Bootstrap::new(0, 0),
        )
        .unwrap();
        assert_eq!(r.n, 16);
        assert_eq!(
            r.confusion,
            vec![vec![5, 1, 0], vec![2, 3, 1], vec![0, 0, 4]]
        );
        assert!(close(r.accuracy.value, 12.0 / 16.0));
        // recalls 5/6, 3/6, 4/4
        assert!(close(
            r.balanced_accuracy.value,
            (5.0 / 6.0 + 0.5 + 1.0) / 3.0
        ));
        // F1: A 10/(10+2+1)=10/13, B 6/(6+1+3)=0.6, C 8/(8+1+0)=8/9
        assert!(close(
            r.macro_f1.value,
            (10.0 / 13.0 + 0.6 + 8.0 / 9.0) / 3.0
        ));
        let a = &r.per_class[0];
        assert_eq!(
            (a.tp, a.fp, a.fn_, a.tn, a.support, a.predicted),
            (5, 2, 1, 8, 6, 7)
        );
        assert!(close(a.sensitivity.value, 5.0 / 6.0));
        assert!(close(a.positive_predictivity.value, 5.0 / 7.0));
        assert!(close(a.specificity.value, 8.0 / 10.0));
        assert!(close(a.fpr.value, 2.0 / 10.0));
        let c = &r.per_class[2];
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (4, 1, 0, 11));
        assert!(close(c.positive_predictivity.value, 0.8));
        assert!(close(c.specificity.value, 11.0 / 12.0));
        assert!(r.aami.is_none(), "no AAMI table without N, S, V, F");
        assert!(
            r.accuracy.lo.is_none() && r.accuracy.hi.is_none(),
            "0 resamples"
        );
    }

    #[test]
    fn degenerate_cases_are_none_not_nan() {
        // Class 1 never true and never predicted; class 2 true but never predicted.
        let (t, p) = labels(&[&[3, 0, 0], &[0, 0, 0], &[2, 0, 0]]);
        let r = classification_report(
            &t,
            &p,
            &names(&["a", "b", "c"]),
            None,
            &Bootstrap::new(50, 1),
        )
        .unwrap();
        let b = &r.per_class[1];
        assert_eq!(b.sensitivity.value, None);
        assert_eq!(b.positive_predictivity.value, None);
        assert_eq!(b.f1.value, None);
        assert!(close(b.specificity.value, 1.0));
        let c = &r.per_class[2];
        assert!(close(c.sensitivity.value, 0.0));
        assert_eq!(c.positive_predictivity.value, None);
        assert!(close(c.f1.value, 0.0));
        // Balanced accuracy over classes with support (a: 1, c: 0); macro-F1 over a and c.
        assert!(close(r.balanced_accuracy.value, 0.5));
        assert!(close(r.macro_f1.value, (6.0 / 8.0 + 0.0) / 2.0));
        // Class a is everything predicted: its FPR = 2/2, specificity of c... every window
        // predicted a: a's +P = 3/5.
        assert!(close(r.per_class[0].positive_predictivity.value, 0.6));
        assert!(close(r.per_class[0].fpr.value, 1.0));
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("NaN") && !json.contains("nan"));
    }

    #[test]
    fn single_class_everything_correct() {
        let t = vec![0u8; 10];
        let r =
            classification_report(&t, &t, &names(&["only"]), None, &Bootstrap::new(20, 0)).unwrap();
        assert!(close(r.accuracy.value, 1.0));
        let k = &r.per_class[0];
        assert_eq!(
            k.specificity.value, None,
            "no negatives: specificity undefined"
        );
        assert_eq!(k.fpr.value, None);
        assert_eq!(r.accuracy.lo, Some(1.0));
        assert_eq!(r.accuracy.hi, Some(1.0));
    }

    #[test]
    fn empty_input_gives_undefined_metrics() {
        let r = classification_report(&[], &[], &names(&["a", "b"]), None, &Bootstrap::default())
            .unwrap();
        assert_eq!(r.n, 0);
        assert_eq!(r.accuracy, Estimate::default());
        assert_eq!(r.macro_f1.value, None);
    }

    #[test]
    fn aami_gross_excludes_q_rows_and_counts_q_predictions_as_misses() {
        // N S V F Q
        let m: [&[u64]; 5] = [
            &[90, 2, 1, 0, 2], // N: 2 predicted Q -> misses
            &[3, 7, 0, 0, 0],
            &[1, 0, 18, 1, 0],
            &[0, 0, 2, 3, 0],
            &[0, 0, 5, 0, 4], // Q: excluded, so its 5 V predictions are not FP of V
        ];
        let (t, p) = labels(&m);
        let r = classification_report(
            &t,
            &p,
            &names(&["N", "S", "V", "F", "Q"]),
            None,
            &Bootstrap::new(0, 0),
        )
        .unwrap();
        let a = r.aami.as_ref().unwrap();
        assert_eq!(a.n_beats, 95 + 10 + 20 + 5);
        assert_eq!(a.excluded, 9);
        assert_eq!(a.predicted_excluded, 2);
        let n = &a.classes[0];
        assert_eq!((n.beats, n.tp, n.fn_, n.fp), (95, 90, 5, 4));
        assert_eq!(n.tn, 130 - 95 - 4);
        assert!(close(n.sensitivity.value, 90.0 / 95.0));
        assert!(close(n.positive_predictivity.value, 90.0 / 94.0));
        let v = &a.classes[2];
        assert_eq!((v.tp, v.fp, v.fn_), (18, 3, 2));
        assert!(close(v.positive_predictivity.value, 18.0 / 21.0));
        assert!(close(v.fpr.value, 3.0 / (130.0 - 20.0)));
        // The per-class +P of V (all windows) does count the Q beats.
        assert!(close(
            r.per_class[2].positive_predictivity.value,
            18.0 / 26.0
        ));
        assert!(close(a.accuracy.value, (90.0 + 7.0 + 18.0 + 3.0) / 130.0));
        let md = a.to_markdown();
        assert!(md.contains("| V | 20 | 18 | 2 | 3 | 90.00% |"), "{md}");
    }

    #[test]
    fn kappa_macro_f1_and_jkappa_of_the_four_aami_classes() {
        // Expected values from a float64 numpy computation of the textbook formulas.
        let m: [&[u64]; 4] = [
            &[50, 2, 3, 0],
            &[5, 10, 0, 0],
            &[2, 0, 20, 1],
            &[0, 0, 1, 2],
        ];
        let (t, p) = labels(&m);
        let r = classification_report(
            &t,
            &p,
            &names(&["N", "S", "V", "F"]),
            None,
            &Bootstrap::new(50, 1),
        )
        .unwrap();
        let a = r.aami.as_ref().unwrap();
        assert!(close(a.kappa.value, 0.748314606741573), "{:?}", a.kappa);
        assert!(
            close(a.macro_f1.value, 0.787832095012946),
            "{:?}",
            a.macro_f1
        );
        assert!(close(a.jkappa.value, 0.7745196222113662), "{:?}", a.jkappa);
        assert!(a.kappa.lo.is_some_and(|lo| lo <= 0.7483) && a.kappa.hi.is_some());
        let md = a.to_markdown();
        assert!(md.contains("Cohen's κ 0.748 ("), "{md}");
        // Perfect agreement: kappa 1, jκ 1.
        let m: [&[u64]; 4] = [&[5, 0, 0, 0], &[0, 3, 0, 0], &[0, 0, 4, 0], &[0, 0, 0, 2]];
        let (t, p) = labels(&m);
        let r = classification_report(
            &t,
            &p,
            &names(&["N", "S", "V", "F"]),
            None,
            &Bootstrap::new(0, 0),
        )
        .unwrap();
        let a = r.aami.unwrap();
        assert!(
            close(a.kappa.value, 1.0) && close(a.jkappa.value, 1.0),
            "{a:?}"
        );
    }

    #[test]
    fn a_confusion_gives_the_report_of_its_windows() {
        let n = names(&["N", "S", "V", "F", "Q"]);
        let t = [0u8, 0, 1, 2, 0, 1, 1, 4, 3];
        let p = [0u8, 2, 1, 2, 0, 0, 1, 2, 3];
        let boot = Bootstrap::new(40, 3);
        let want = classification_report(&t, &p, &n, None, &boot).unwrap();
        let got = classification_report_from_confusion(&want.confusion, &n, &boot).unwrap();
        assert_eq!(got, want);
        assert!(classification_report_from_confusion(&want.confusion[..4], &n, &boot).is_err());
    }

    #[test]
    fn per_record_table_splits_the_confusion_by_record() {
        let n = names(&["N", "S", "V", "F", "Q"]);
        let t = [0u8, 0, 1, 2, 0, 1, 1, 4];
        let p = [0u8, 2, 1, 2, 0, 0, 1, 2];
        let g = [0u32, 0, 0, 0, 2, 2, 2, 2];
        let recs = names(&["100", "101", "102"]);
        let r = classification_report(&t, &p, &n, Some(&g), &Bootstrap::new(0, 0))
            .unwrap()
            .with_groups(&t, &p, &g, &recs)
            .unwrap();
        // Record 101 has no windows and is left out.
        let names: Vec<&str> = r.per_record.iter().map(|x| x.record.as_str()).collect();
        assert_eq!(names, ["100", "102"]);
        assert_eq!(r.per_record[0].n, 4);
        assert_eq!(r.per_record[0].confusion[0], vec![1, 0, 1, 0, 0]);
        assert_eq!(r.per_record[1].confusion[4][2], 1);
        // The rows sum to the whole confusion.
        let mut sum = vec![vec![0u64; 5]; 5];
        for x in &r.per_record {
            for (a, b) in sum.iter_mut().zip(&x.confusion) {
                for (u, v) in a.iter_mut().zip(b) {
                    *u += v;
                }
            }
        }
        assert_eq!(sum, r.confusion);
        let md = r.to_markdown();
        // Record 102: N 1/1, S 1 of 2 (+P 1/1), the Q beat left out: 2 of 3 right.
        assert!(
            md.contains("| 102 | 3 | 66.67% | 100.00% | 2 | 50.00% | 100.00% |"),
            "{md}"
        );
        assert!(r.clone().with_groups(&t, &p, &g, &recs[..2]).is_err());
    }

    #[test]
    fn label_out_of_range_and_length_mismatch_are_errors() {
        let n = names(&["a", "b"]);
        let e = classification_report(&[0, 2], &[0, 1], &n, None, &Bootstrap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("y_true[1] = 2"), "{e}");
        let e = classification_report(&[0, 1], &[0], &n, None, &Bootstrap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("y_pred"), "{e}");
        let e = classification_report(&[0, 1], &[0, 1], &n, Some(&[1]), &Bootstrap::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("groups"), "{e}");
    }
}
