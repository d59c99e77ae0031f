//! Assembling the report: figures, `report.md` and the self-contained `report.html`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use wonhee_eval::Estimate;

use crate::error::{ReportError, Result};
use crate::figures::{self, Figure, Plot};
use crate::load::{DatasetSummary, ReportInputs, RunData, Tsne};

/// The only published figure of the WonHEE paper we compare with: test accuracy on its random
/// 80:20 beat split.
pub const PAPER_ACCURACY: f64 = 0.948;

/// Files written by [`write_report`].
#[derive(Clone, Debug)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Every figure file (PNG and SVG).
    pub figures: Vec<PathBuf>,
}

/// Writes bytes atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ReportError::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| ReportError::io(path, e))?;
    // Temporary files are created owner-only; a report is meant to be read by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| ReportError::io(path, e))?;
    }
    tmp.persist(path)
        .map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}

/// Percentage with 2 decimals.
pub fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// `94.80% (94.10–95.30)`, `–` when undefined.
pub fn pct_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => {
            format!("{} ({:.2}–{:.2})", pct(v), 100.0 * lo, 100.0 * hi)
        }
        (Some(v), ..) => pct(v),
    }
}

/// A number with 4 significant digits (fixed notation).
pub fn sig4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (3 - mag).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}

/// `0.1234 (0.1200–0.1300)`, `–` when undefined.
pub fn num_ci(e: &Estimate) -> String {
    match (e.value, e.lo, e.hi) {
        (None, ..) => "–".into(),
        (Some(v), Some(lo), Some(hi)) => format!("{} ({}–{})", sig4(v), sig4(lo), sig4(hi)),
        (Some(v), ..) => sig4(v),
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_string(), f)
}

/// Class counts of the training side of a dataset: the `train` side, or (record folds) every
/// fold except the run's held-out one.
pub fn train_counts(d: &DatasetSummary, fold: Option<u8>) -> Vec<usize> {
    let s = &d.summary;
    let mut counts = vec![0; s.classes.len()];
    for (side, sum) in &s.splits {
        let use_it = match fold {
            _ if side == "train" => true,
            Some(f) => side.starts_with("fold") && *side != format!("fold{f}"),
            None => false,
        };
        if use_it {
            for (c, n) in counts.iter_mut().zip(&sum.per_class) {
                *c += n;
            }
        }
    }
    counts
}

/// Expected draws per class under the class-balanced sampler over as many draws as there are
/// training windows: equal for every class present, zero for absent ones.
pub fn balanced_counts(before: &[usize]) -> Vec<f64> {
    tempered_counts(before, 1.0)
}

/// Expected draws per class over as many draws as there are training windows when each window
/// is drawn with weight `count^-power` of its class (1: balanced; 0.5: the `sqrt` sampler; 0:
/// uniform, the counts themselves).
pub fn tempered_counts(before: &[usize], power: f64) -> Vec<f64> {
    let total: usize = before.iter().sum();
    let share: Vec<f64> = before
        .iter()
        .map(|&n| {
            if n > 0 {
                (n as f64).powf(1.0 - power)
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = share.iter().sum();
    share
        .iter()
        .map(|s| {
            if sum > 0.0 {
                s / sum * total as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// The sampler's class-weight exponent and its name for captions.
fn sampler_power(s: wonhee_train::SamplerKind) -> (f64, &'static str) {
    match s {
        wonhee_train::SamplerKind::Balanced => (1.0, "the class-balanced sampler"),
        wonhee_train::SamplerKind::Sqrt => (0.5, "the sqrt-tempered sampler"),
        wonhee_train::SamplerKind::Shuffle => (0.0, "shuffling (no re-weighting)"),
    }
}

/// Draws every figure the inputs allow. `text = false` draws them without text (no font).
pub fn make_figures(inputs: &ReportInputs, text: bool) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let mut add = |plot: &dyn Fn(bool) -> Result<Figure>| -> Result<()> {
        out.push(plot(text)?);
        Ok(())
    };
    for (i, (d, labels)) in inputs.datasets().iter().enumerate() {
        let fold = inputs
            .runs
            .iter()
            .find(|r| r.summary.as_ref().is_some_and(|s| s.sha256 == d.sha256))
            .and_then(|r| r.info.dataset.fold);
        let before = train_counts(d, fold);
        let split = d.summary.config.split.name();
        let sampler = inputs
            .runs
            .iter()
            .find(|r| r.summary.as_ref().is_some_and(|s| s.sha256 == d.sha256))
            .map_or(wonhee_train::SamplerKind::Balanced, |r| {
                r.config.train.sampler
            });
        let (power, how) = sampler_power(sampler);
        let p = figures::ClassDistribution {
            title: format!("Class distribution, {split} split: training side"),
            classes: d.summary.classes.clone(),
            before: before.iter().map(|&n| n as f64).collect(),
            after: tempered_counts(&before, power),
        };
        let name = format!("class-distribution-{}", i + 1);
        let caption = format!(
            "Training windows per class of the {split} split (runs: {}) before balancing, and the expected draws per class under {how} (log scale).",
            labels.join(", ")
        );
        add(&|t| figures::render(&p, &name, &caption, t))?;
    }
    for (tsne, what, name) in [
        (&inputs.tsne_raw, "raw windows", "tsne-raw"),
        (&inputs.tsne_embed, "model embeddings", "tsne-embed"),
    ] {
        if let Some(t) = tsne {
            let p = scatter(t, what);
            let caption = format!(
                "t-SNE of {what}: {} points from {}, coloured by class.",
                t.x.len(),
                file_name(&t.path)
            );
            add(&|tx| figures::render(&p, name, &caption, tx))?;
        }
    }
    for r in &inputs.runs {
        if !r.log.train.is_empty() {
            let pick = |f: fn(&crate::load::TrainPoint) -> Option<f64>| -> Vec<(f64, f64)> {
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
                    ("classification (CE)".into(), pick(|p| p.loss_cls)),
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
            add(&|t| figures::render(&p, &name, &caption, t))?;
        }
    }
    let val: Vec<(String, Vec<(f64, f64)>)> = inputs
        .runs
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
    if !val.is_empty() {
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
        add(&|t| figures::render(&p, "val-accuracy", caption, t))?;
    }
    for r in &inputs.runs {
        let Some(m) = &r.metrics else { continue };
        if let Some(c) = &m.classification {
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
            add(&|t| figures::render(&p, &name, &caption, t))?;
        }
        if !m.imputation.is_empty() || !m.forecasting.is_empty() {
            let series = |name: &str, pts: Vec<(f64, Estimate)>| figures::ErrorSeries {
                name: name.into(),
                points: pts,
            };
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
            add(&|t| figures::render(&p, &name, &caption, t))?;
        }
        if let Some(ex) = &r.examples {
            for (task, list) in [
                ("imputation", &ex.imputation),
                ("forecasting", &ex.forecasting),
            ] {
                // The middle K when several are given (370 of 200/370/540).
                let mut ks: Vec<usize> = list.iter().map(|e| e.k).collect();
                ks.sort_unstable();
                ks.dedup();
                let Some(&k) = ks.get(ks.len() / 2) else {
                    continue;
                };
                let Some(e) = list.iter().find(|e| e.k == k) else {
                    continue;
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
                add(&|t| figures::render(&p, &name, &caption, t))?;
            }
        }
    }
    Ok(out)
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

/// Renders `report.md` (figures linked as `figures/<name>.svg`, with PNG links beside).
pub fn markdown(inputs: &ReportInputs, figures: &[Figure]) -> String {
    let mut s = String::new();
    let fig = |s: &mut String, name: &str| {
        if let Some(f) = figures.iter().find(|f| f.name == name) {
            let _ = writeln!(
                s,
                "![{}](figures/{}.svg)\n\n*{}* ([PNG](figures/{}.png))\n",
                f.caption, f.name, f.caption, f.name
            );
        }
    };
    let _ = writeln!(s, "# {}\n", inputs.title);
    s.push_str(
        "Generated by `wonhee report` from the files listed at the end. Every number below is \
         read from those files; nothing is recomputed.\n\n",
    );

    // Headline.
    s.push_str("## Headline\n\n");
    s.push_str("| Run | Split | Feed-forward | Test accuracy (95% CI) | Macro-F1 | Imputation MSE, model / best baseline | Forecast MSE, model / last value |\n");
    s.push_str("|---|---|---|---:|---:|---|---|\n");
    for r in &inputs.runs {
        let c = r.metrics.as_ref().and_then(|m| m.classification.as_ref());
        let imp = r.metrics.as_ref().and_then(|m| mid(&m.imputation, |x| x.k));
        let fc = r
            .metrics
            .as_ref()
            .and_then(|m| mid(&m.forecasting, |x| x.k));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.split(),
            r.ffn(),
            c.map_or("–".into(), |c| pct_ci(&c.accuracy)),
            c.map_or("–".into(), |c| pct_ci(&c.macro_f1)),
            imp.map_or("–".into(), |x| {
                let best = match x.best_baseline.as_deref() {
                    Some("zero") => &x.zero,
                    Some("mean") => &x.mean,
                    _ => &x.linear,
                };
                format!(
                    "K={}: {} / {} ({})",
                    x.k,
                    opt(x.model.mse.value, sig4),
                    opt(best.mse.value, sig4),
                    x.best_baseline.as_deref().unwrap_or("linear")
                )
            }),
            fc.map_or("–".into(), |x| format!(
                "K={}: {} / {}",
                x.k,
                opt(x.model.mse.value, sig4),
                opt(x.last_value.mse.value, sig4)
            )),
        );
    }
    s.push('\n');

    // Published figure.
    s.push_str("## Comparison with the published figure\n\n");
    let _ = writeln!(
        s,
        "The WonHEE paper reports **{}** test accuracy on its random 80:20 split of beats. That is \
         the only published number we have to compare with; the other figures of this report \
         (intervals, per-class rates, imputation and forecasting errors, baselines) have no \
         published counterpart here.\n",
        pct(PAPER_ACCURACY)
    );
    s.push_str("| Source | Split | Test accuracy |\n|---|---|---:|\n");
    let _ = writeln!(
        s,
        "| WonHEE paper | random 80:20 (paper) | {} |",
        pct(PAPER_ACCURACY)
    );
    for r in &inputs.runs {
        if let Some(c) = r.metrics.as_ref().and_then(|m| m.classification.as_ref()) {
            let _ = writeln!(
                s,
                "| this work, {} | {} | {} |",
                r.label,
                r.split(),
                pct_ci(&c.accuracy)
            );
        }
    }
    s.push_str(
        "\nOnly a run on the paper split is comparable with the published number, and that split \
         is optimistic (see the overlap figure below). The inter-patient split (de Chazal's DS1 → \
         DS2) tests on unseen patients and measures what a new patient would see.\n\n",
    );

    // Data.
    s.push_str("## Data and splits\n\n");
    let datasets = inputs.datasets();
    if datasets.is_empty() {
        s.push_str(
            "No dataset summary was found (run.json's `dataset.dir` has no summary.json).\n\n",
        );
    }
    for (i, (d, labels)) in datasets.iter().enumerate() {
        data_section(&mut s, d, labels);
        let mismatched: Vec<&str> = inputs
            .runs
            .iter()
            .filter(|r| {
                r.summary.as_ref().is_some_and(|x| x.sha256 == d.sha256) && !r.summary_matches()
            })
            .map(|r| r.label.as_str())
            .collect();
        if !mismatched.is_empty() {
            let _ = writeln!(
                s,
                "**Warning:** this summary's checksum differs from the one recorded when training {} (the dataset was re-prepared after training).\n",
                mismatched.join(", ")
            );
        }
        fig(&mut s, &format!("class-distribution-{}", i + 1));
    }

    // t-SNE.
    if inputs.tsne_raw.is_some() || inputs.tsne_embed.is_some() {
        s.push_str("## t-SNE\n\n");
        fig(&mut s, "tsne-raw");
        fig(&mut s, "tsne-embed");
    }

    // Model and training.
    s.push_str("## Model and configuration\n\n");
    config_table(&mut s, &inputs.runs);
    s.push_str("## Training\n\n");
    s.push_str("| Run | Device | Steps done / planned | Finished | Training time (s) | Samples/s | Last validation accuracy | Last validation macro-F1 |\n");
    s.push_str("|---|---|---:|---|---:|---:|---:|---:|\n");
    for r in &inputs.runs {
        let last = r.log.val.last();
        let _ = writeln!(
            s,
            "| {} | {} | {} / {} | {} | {:.1} | {:.1} | {} | {} |",
            r.label,
            r.info.device,
            r.info.steps_done,
            r.info.total_steps,
            if r.info.finished { "yes" } else { "no" },
            r.info.train_seconds,
            r.info.samples_per_s,
            opt(last.and_then(|v| v.accuracy), pct),
            opt(last.and_then(|v| v.macro_f1), |v| format!("{v:.4}")),
        );
    }
    s.push('\n');
    for r in &inputs.runs {
        fig(&mut s, &format!("losses-{}", r.slug));
    }
    fig(&mut s, "val-accuracy");

    // Evaluation.
    s.push_str("## Evaluation\n\n");
    s.push_str(
        "Metrics on the held-out side, from each run's metrics.json (schema: \
         docs/metrics-schema.md). Intervals are percentile bootstrap intervals; rates are shown \
         as percentages. Baselines: zero, window mean and linear interpolation for imputation; \
         last value and previous beat for forecasting.\n\n",
    );
    for r in &inputs.runs {
        let _ = writeln!(s, "### {}\n", r.label);
        match &r.metrics {
            None => s.push_str("Not evaluated (no metrics.json; run `wonhee eval`).\n\n"),
            Some(m) => {
                // wonhee-eval's tables, their headings moved two levels down.
                for line in m.to_markdown().lines() {
                    if line.starts_with('#') {
                        let _ = writeln!(s, "##{line}");
                    } else {
                        let _ = writeln!(s, "{line}");
                    }
                }
                s.push('\n');
            }
        }
        fig(&mut s, &format!("confusion-{}", r.slug));
        fig(&mut s, &format!("mse-vs-k-{}", r.slug));
        fig(&mut s, &format!("imputation-example-{}", r.slug));
        fig(&mut s, &format!("forecasting-example-{}", r.slug));
    }

    // Pipeline.
    if let Some(st) = &inputs.stages {
        s.push_str("## Pipeline stages\n\n");
        if let Some(p) = &st.profile {
            let _ = writeln!(s, "Profile: `{p}`.");
        }
        if let Some(d) = &st.device {
            let _ = writeln!(s, "Device: `{d}`.");
        }
        s.push_str("\n| Stage | Seconds | Reused |\n|---|---:|---|\n");
        for x in &st.stages {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {} |",
                x.name,
                x.seconds,
                if x.cached { "yes" } else { "no" }
            );
        }
        let total: f64 = st.stages.iter().map(|x| x.seconds).sum();
        let _ = writeln!(s, "| total | {total:.1} | |\n");
    }

    // Inputs.
    s.push_str("## Input files\n\n");
    for r in &inputs.runs {
        let _ = writeln!(s, "- run {}: `{}`", r.label, r.dir.display());
    }
    for (d, _) in &datasets {
        let _ = writeln!(
            s,
            "- dataset summary: `{}` (SHA-256 `{}`)",
            d.path.display(),
            d.sha256
        );
    }
    for t in [&inputs.tsne_raw, &inputs.tsne_embed].into_iter().flatten() {
        let _ = writeln!(s, "- t-SNE: `{}`", t.path.display());
    }
    s
}

/// The middle entry by K (370 of 200/370/540).
fn mid<T>(v: &[T], k: impl Fn(&T) -> usize) -> Option<&T> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by_key(|&i| k(&v[i]));
    idx.get(idx.len() / 2).map(|&i| &v[i])
}

fn data_section(s: &mut String, d: &DatasetSummary, labels: &[&str]) {
    let sum = &d.summary;
    let cfg = &sum.config;
    let _ = writeln!(
        s,
        "### {} split (runs: {})\n",
        cfg.split.name(),
        labels.join(", ")
    );
    let _ = writeln!(
        s,
        "{} records, {} windows of {} points at {} Hz centred on each beat, lead {}, classes {}.\n",
        sum.records.len(),
        sum.n_windows,
        cfg.window,
        cfg.fs,
        cfg.lead,
        sum.classes.join(", ")
    );
    let _ = write!(s, "| Side | Records | Windows |");
    for c in &sum.classes {
        let _ = write!(s, " {c} |");
    }
    s.push_str("\n|---|---:|---:|");
    for _ in &sum.classes {
        s.push_str("---:|");
    }
    s.push('\n');
    for (side, x) in &sum.splits {
        let _ = write!(s, "| {side} | {} | {} |", x.records.len(), x.windows);
        for n in &x.per_class {
            let _ = write!(s, " {n} |");
        }
        s.push('\n');
    }
    let _ = write!(
        s,
        "| dropped beats (window does not fit) | | {} |",
        sum.dropped.total()
    );
    for c in &sum.classes {
        let _ = write!(s, " {} |", sum.dropped.0.get(c).copied().unwrap_or(0));
    }
    s.push_str("\n\n");
    if sum.lead_fallbacks.is_empty() {
        let _ = writeln!(s, "Every record has lead {}.", cfg.lead);
    } else {
        let _ = writeln!(
            s,
            "Records without lead {} (signal 0 used instead): {}.",
            cfg.lead,
            sum.lead_fallbacks.join(", ")
        );
    }
    if !sum.excluded_records.is_empty() {
        let _ = writeln!(
            s,
            "Records left out by the split: {}.",
            sum.excluded_records.join(", ")
        );
    }
    let o = &sum.overlap;
    let _ = writeln!(
        s,
        "\n**Overlap.** Of the {} evaluation windows, {} ({}) share at least one point with a \
         training window of the same record, {} share at least half their points with one \
         training window, and on average an evaluation window shares {} of its points with its \
         closest training window.",
        o.eval_windows,
        o.overlapping_a_training_window,
        pct(o.fraction_overlapping),
        o.sharing_at_least_half,
        pct(o.mean_shared_fraction)
    );
    if matches!(cfg.split, wonhee_dataset::SplitKind::Paper { .. }) {
        s.push_str(
            "Under the paper's random beat split, neighbouring beats of one patient land on both \
             sides, so the model is tested on signal it has largely seen during training: \
             accuracy on this split is optimistic and does not measure performance on new \
             patients.\n\n",
        );
    } else {
        s.push_str(
            "Training and evaluation records are disjoint on this split, so no evaluation window \
             can overlap a training window.\n\n",
        );
    }
}

fn config_table(s: &mut String, runs: &[RunData]) {
    let _ = write!(s, "| Setting |");
    for r in runs {
        let _ = write!(s, " {} |", r.label);
    }
    s.push_str("\n|---|");
    for _ in runs {
        s.push_str("---|");
    }
    s.push('\n');
    type Row = (&'static str, fn(&RunData) -> String);
    let rows: [Row; 20] = [
        ("parameters", |r| r.info.parameters.to_string()),
        ("feed-forward", |r| {
            let m = &r.config.model;
            match m.ffn {
                wonhee_model::FfnKind::Swiglu => format!("SwiGLU ×{}", m.ffn_mult),
                wonhee_model::FfnKind::SoftMoe => format!(
                    "Soft-MoE, {} experts × {} slots",
                    m.n_experts, m.slots_per_expert
                ),
            }
        }),
        ("window / patch", |r| {
            format!("{} / {}", r.config.model.seq_len, r.config.model.patch)
        }),
        ("hidden size", |r| r.config.model.d_model.to_string()),
        ("heads", |r| r.config.model.n_heads.to_string()),
        ("encoder blocks / head blocks", |r| {
            format!(
                "{} / {}",
                r.config.model.n_layers, r.config.model.head_layers
            )
        }),
        ("classes", |r| r.info.dataset.classes.join(", ")),
        ("missing points enter as", |r| {
            format!("{:?}", r.config.model.missing_input)
        }),
        ("imputation base", |r| {
            format!("{:?}", r.config.model.impute_base)
        }),
        ("dropout", |r| r.config.model.dropout.to_string()),
        ("batch size", |r| r.config.train.batch_size.to_string()),
        ("epochs", |r| r.config.train.epochs.to_string()),
        ("max steps", |r| {
            r.config
                .train
                .max_steps
                .map_or("–".into(), |n| n.to_string())
        }),
        ("learning rate", |r| r.config.train.lr.to_string()),
        ("weight decay", |r| r.config.train.weight_decay.to_string()),
        ("schedule", |r| format!("{:?}", r.config.train.schedule)),
        ("loss combination", |r| {
            format!("{:?}", r.config.train.combine)
        }),
        ("sampler", |r| format!("{:?}", r.config.train.sampler)),
        ("hidden points per window", |r| {
            format!("{}–{}", r.config.train.mask_min, r.config.train.mask_max)
        }),
        ("train / validation windows, seed", |r| {
            format!(
                "{} / {}, {}",
                r.info.dataset.n_train, r.info.dataset.n_val, r.config.train.seed
            )
        }),
    ];
    for (name, f) in rows {
        let _ = write!(s, "| {name} |");
        for r in runs {
            let _ = write!(s, " {} |", f(r));
        }
        s.push('\n');
    }
    s.push('\n');
}

/// Largest SVG inlined as is in the HTML; larger figures (big scatter plots) are inlined as
/// base64 PNG.
const MAX_INLINE_SVG: usize = 400_000;

/// Renders the Markdown as one self-contained HTML page: figures inlined (SVG, or PNG as a
/// data URI when the SVG is large), minimal CSS.
pub fn html(title: &str, markdown: &str, figures: &[Figure]) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
    let mut events = Vec::new();
    let mut in_image = false;
    for ev in parser {
        match ev {
            Event::Start(Tag::Image { dest_url, .. }) => {
                in_image = true;
                let name = dest_url
                    .strip_prefix("figures/")
                    .and_then(|n| n.strip_suffix(".svg"))
                    .unwrap_or("");
                let inline = figures.iter().find(|f| f.name == name).map(|f| {
                    if f.svg.len() <= MAX_INLINE_SVG {
                        format!("<div class=\"fig\">{}</div>", strip_xml_decl(&f.svg))
                    } else {
                        format!(
                            "<div class=\"fig\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></div>",
                            escape(&f.caption),
                            base64(&f.png)
                        )
                    }
                });
                events.push(Event::InlineHtml(inline.unwrap_or_default().into()));
            }
            Event::End(TagEnd::Image) => in_image = false,
            _ if in_image => {}
            other => events.push(other),
        }
    }
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events.into_iter());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

const CSS: &str = "body{font-family:-apple-system,'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}
code{background:#f3f3f3;padding:0 .2em}
.fig svg,.fig img{max-width:100%;height:auto}
h1,h2{border-bottom:1px solid #ddd}
";

fn strip_xml_decl(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648, padded); a dozen lines, for the one data URI.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(A[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes the report into `out`: `figures/*.svg` and `figures/*.png`, `report.md` and
/// `report.html`, each file atomically. Missing fonts only remove text from the figures.
pub fn write_report(inputs: &ReportInputs, out: &Path) -> Result<Written> {
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| ReportError::io(&fig_dir, e))?;
    let text = figures::load_font().is_some();
    let figs = make_figures(inputs, text)?;
    let mut paths = Vec::new();
    for f in &figs {
        for (ext, bytes) in [("svg", f.svg.as_bytes()), ("png", f.png.as_slice())] {
            let p = fig_dir.join(format!("{}.{ext}", f.name));
            write_atomic(&p, bytes)?;
            paths.push(p);
        }
        tracing::info!("figure {}", f.name);
    }
    let md = markdown(inputs, &figs);
    let md_path = out.join("report.md");
    write_atomic(&md_path, md.as_bytes())?;
    let html_path = out.join("report.html");
    write_atomic(&html_path, html(&inputs.title, &md, &figs).as_bytes())?;
    Ok(Written {
        markdown: md_path,
        html: html_path,
        figures: paths,
    })
}

/// Draws one plot to `dir/name.svg` and `dir/name.png` (atomically).
pub fn write_figure(plot: &impl Plot, dir: &Path, name: &str, caption: &str) -> Result<Figure> {
    let f = figures::render(plot, name, caption, figures::load_font().is_some())?;
    write_atomic(&dir.join(format!("{name}.svg")), f.svg.as_bytes())?;
    write_atomic(&dir.join(format!("{name}.png")), &f.png)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn tempered_counts_follow_the_root_of_the_class_size() {
        let c = tempered_counts(&[900, 100, 0], 0.5);
        assert!((c[0] - 750.0).abs() < 1e-9 && (c[1] - 250.0).abs() < 1e-9 && c[2] == 0.0);
        assert_eq!(tempered_counts(&[3, 1], 0.0), [3.0, 1.0]);
    }

    #[test]
    fn balanced_counts_are_equal_over_present_classes() {
        let got = balanced_counts(&[90, 6, 0, 4]);
        let want = [100.0 / 3.0, 100.0 / 3.0, 0.0, 100.0 / 3.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(sig4(0.123456), "0.1235");
        assert_eq!(pct(0.948), "94.80%");
        let e = Estimate {
            value: Some(0.5),
            lo: Some(0.25),
            hi: Some(0.75),
        };
        assert_eq!(pct_ci(&e), "50.00% (25.00–75.00)");
        assert_eq!(num_ci(&e), "0.5000 (0.2500–0.7500)");
    }

    #[test]
    fn html_inlines_figures_and_escapes() {
        let f = Figure {
            name: "a".into(),
            caption: "c".into(),
            svg: "<?xml version=\"1.0\"?><svg id=\"x\"></svg>".into(),
            png: vec![1, 2, 3],
        };
        let h = html(
            "T <1>",
            "# T\n\n![c](figures/a.svg)\n\n| a | b |\n|---|---|\n| 1 | <2> |\n",
            &[f],
        );
        assert!(h.contains("<svg id=\"x\"></svg>") && !h.contains("<?xml"));
        assert!(h.contains("<table>") && h.contains("&lt;2&gt;"));
        assert!(h.contains("<title>T &lt;1&gt;</title>"));
        assert!(
            !h.contains("figures/a.svg"),
            "image replaced by its inline SVG"
        );
    }
}
