//! Evaluation of a trained run on its dataset's held-out side (`wonhee eval`).
//!
//! Classification runs on every held-out window. Imputation and forecasting run at each K of
//! the [`EvalProtocol`] (200, 370, 540) on the same windows and masks as the baselines of
//! `wonhee-eval`; the imputation mask of a window depends only on (seed, K, window index), so a
//! window can be re-imputed outside this function with exactly the same hidden points.

use candle_core::Tensor;
use wonhee_dataset::{Dataset, Side, SplitKind};
use wonhee_eval::{
    Bootstrap, ClassificationReport, EvalProtocol, ForecastEval, ForecastReport, ImputationEval,
    ImputationReport, Metrics, classification_report, linear_fill, previous_beat,
};
use wonhee_model::WonHee;
use wonhee_schema::{Example, Examples};
use wonhee_signal::Scaler;

use crate::batch::{check_beat_inputs, lead2_batch, rhythm_batch};
use crate::error::{Result, TrainError};
use crate::infer::{forecast_batch, impute_batch, observed_only};
use crate::run::Run;

/// Settings of [`evaluate`].
pub struct EvalOptions<'a> {
    /// Windows per forward pass.
    pub batch: usize,
    /// Masks (seed and K values) of imputation and forecasting.
    pub protocol: EvalProtocol,
    /// Bootstrap intervals.
    pub bootstrap: Bootstrap,
    /// Evaluate imputation/forecasting on at most this many held-out windows (an evenly spaced
    /// subset); classification always uses all of them. `None` = all.
    pub max_regression_windows: Option<usize>,
    /// Examples per task written to `examples.json` (for the report's figures).
    pub examples: usize,
    /// Called with (windows done, windows total) per task pass.
    pub progress: &'a (dyn Fn(&str, usize, usize) + Sync),
}

impl Default for EvalOptions<'_> {
    fn default() -> Self {
        Self {
            batch: 256,
            protocol: EvalProtocol::new(2024),
            bootstrap: Bootstrap::new(1000, 0),
            max_regression_windows: None,
            examples: 3,
            progress: &|_, _, _| {},
        }
    }
}

/// The held-out side of `ds` for this run: the test side, or the run's held-out fold.
pub fn eval_side(run: &Run) -> Side {
    match run.info.dataset.fold {
        Some(k) => Side::Fold(k),
        None => Side::Test,
    }
}

/// Checks that `ds` is the dataset the run was trained on (same preparation settings).
pub fn check_dataset(run: &Run, ds: &Dataset) -> Result<()> {
    let s = ds.summary();
    if s.config != run.info.dataset.prepare {
        return Err(TrainError::run(
            ds.dir(),
            format!(
                "prepared with other settings than the run's dataset ({}); evaluate on the \
                 dataset the run was trained on",
                run.info.dataset.dir
            ),
        ));
    }
    if s.classes != run.info.dataset.classes {
        return Err(TrainError::run(
            ds.dir(),
            "class names differ from the run's".to_string(),
        ));
    }
    check_beat_inputs(run.model.config(), ds)
}

/// The RR interval (samples at the window rate) before each window's beat: the distance to the
/// previous window's centre in the same record, or 0 when there is none.
fn rr_intervals(ds: &Dataset) -> Vec<usize> {
    let (rec, c) = (ds.window_records(), ds.centres());
    (0..ds.len())
        .map(|i| {
            if i > 0 && rec[i - 1] == rec[i] && c[i] > c[i - 1] {
                (c[i] - c[i - 1]) as usize
            } else {
                0
            }
        })
        .collect()
}

/// The classification logits of every window of `idx`, row-major `[idx.len(), n_classes]`,
/// in batches of `x.len() / window_len` windows filled through `x`; `progress` gets the windows
/// done.
pub(crate) fn class_logits(
    model: &WonHee,
    ds: &Dataset,
    idx: &[usize],
    scaler: &Scaler,
    x: &mut [f32],
    progress: &dyn Fn(usize),
) -> Result<Vec<f32>> {
    let l = ds.window_len();
    let batch = (x.len() / l).max(1);
    if x.len() < l {
        return Err(TrainError::Config(format!(
            "batch buffer of {} values holds no window of {l}",
            x.len()
        )));
    }
    let dev = model.device();
    let k = model.config().n_classes;
    let mut logits = Vec::with_capacity(idx.len() * k);
    for (j, chunk) in idx.chunks(batch).enumerate() {
        let b = chunk.len();
        ds.fill_batch(chunk, scaler, &mut x[..b * l])?;
        let xt = Tensor::from_slice(&x[..b * l], (b, l), dev)?;
        let rt = rhythm_batch(model.config(), ds, chunk, dev)?;
        let x2 = lead2_batch(model.config(), ds, chunk, dev)?;
        let out = model.forward_classify_leads(&xt, x2.as_ref(), rt.as_ref(), false)?;
        logits.extend(out.flatten_all()?.to_vec1::<f32>()?);
        progress((j * batch + b).min(idx.len()));
    }
    Ok(logits)
}

/// The index of the largest value of each row of `k` values (the first one on ties).
pub(crate) fn argmax_rows(values: &[f32], k: usize) -> Vec<u8> {
    values
        .chunks(k.max(1))
        .map(|row| {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best as u8
        })
        .collect()
}

/// The predicted class of every window of `idx` (argmax of the model's logits); see
/// [`class_logits`].
pub(crate) fn predicted_classes(
    model: &WonHee,
    ds: &Dataset,
    idx: &[usize],
    scaler: &Scaler,
    x: &mut [f32],
    progress: &dyn Fn(usize),
) -> Result<Vec<u8>> {
    let logits = class_logits(model, ds, idx, scaler, x, progress)?;
    Ok(argmax_rows(&logits, model.config().n_classes))
}

/// Per-window class probabilities of a run on its held-out side (`wonhee eval --predictions`):
/// what ensembles and calibration are built from.
#[derive(Debug, Clone)]
pub struct WindowPredictions {
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// Dataset window index of each row.
    pub windows: Vec<usize>,
    /// Record name of each row.
    pub records: Vec<String>,
    /// Window centre (sample at the prepared rate) of each row.
    pub centres: Vec<i64>,
    /// Reference label of each row.
    pub y_true: Vec<u8>,
    /// Softmax probabilities, row-major `[rows, classes]`.
    pub probabilities: Vec<f32>,
}

impl WindowPredictions {
    /// The predicted class of each row (largest probability).
    pub fn predicted(&self) -> Vec<u8> {
        argmax_rows(&self.probabilities, self.class_names.len())
    }

    /// The table as CSV: `window,record,centre,true_class,pred_class,p_<class>...`.
    pub fn to_csv(&self) -> String {
        let k = self.class_names.len();
        let mut out = String::from("window,record,centre,true_class,pred_class");
        for c in &self.class_names {
            out.push_str(",p_");
            out.push_str(c);
        }
        out.push('\n');
        let pred = self.predicted();
        for (r, row) in self.probabilities.chunks(k).enumerate() {
            use std::fmt::Write as _;
            let _ = write!(
                out,
                "{},{},{},{},{}",
                self.windows[r],
                self.records[r],
                self.centres[r],
                self.class_names[usize::from(self.y_true[r])],
                self.class_names[usize::from(pred[r])]
            );
            for p in row {
                let _ = write!(out, ",{p:.6}");
            }
            out.push('\n');
        }
        out
    }
}

/// Class probabilities of every window on the held-out side of `ds` for `run` (the windows and
/// order that [`evaluate`] classifies); `progress` gets (windows done, total).
pub fn predict_windows(
    run: &Run,
    ds: &Dataset,
    batch: usize,
    progress: &dyn Fn(usize, usize),
) -> Result<WindowPredictions> {
    check_dataset(run, ds)?;
    let idx = ds.indices(eval_side(run));
    let l = ds.window_len();
    let mut x = vec![0f32; batch.max(1) * l];
    let scaler = run.info.dataset.scaler;
    let n = idx.len();
    let logits = class_logits(&run.model, ds, &idx, &scaler, &mut x, &|d| progress(d, n))?;
    // The same softmax as `classify_beats` (`wonhee predict`'s p_ columns).
    let k = run.model.config().n_classes;
    let logits = Tensor::from_vec(logits, (n, k), &candle_core::Device::Cpu)?;
    let p = candle_nn::ops::softmax(&logits, candle_core::D::Minus1)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let rec = ds.window_records();
    Ok(WindowPredictions {
        class_names: ds.class_names().to_vec(),
        records: idx
            .iter()
            .map(|&i| ds.records()[usize::from(rec[i])].clone())
            .collect(),
        centres: idx.iter().map(|&i| ds.centres()[i]).collect(),
        y_true: idx.iter().map(|&i| ds.labels()[i]).collect(),
        windows: idx,
        probabilities: p,
    })
}

/// The classification report of predictions `y_pred` for windows `idx`; with `by_record`,
/// records are the bootstrap unit and the report has a per-record table.
pub(crate) fn windows_report(
    ds: &Dataset,
    idx: &[usize],
    y_pred: &[u8],
    by_record: bool,
    boot: &Bootstrap,
) -> Result<ClassificationReport> {
    let y_true: Vec<u8> = idx.iter().map(|&i| ds.labels()[i]).collect();
    let groups: Vec<u32> = idx
        .iter()
        .map(|&i| u32::from(ds.window_records()[i]))
        .collect();
    let report = classification_report(
        &y_true,
        y_pred,
        ds.class_names(),
        by_record.then_some(groups.as_slice()),
        boot,
    )?;
    Ok(if by_record {
        report.with_groups(&y_true, y_pred, &groups, ds.records())?
    } else {
        report
    })
}

/// What every pass of [`evaluate`] shares.
struct Pass<'a> {
    run: &'a Run,
    ds: &'a Dataset,
    opts: &'a EvalOptions<'a>,
    scaler: Scaler,
    l: usize,
    batch: usize,
    /// Whole records are the bootstrap unit when the split is by record, where beats of one
    /// record are strongly correlated; single windows for the paper's per-beat split.
    by_record: bool,
}

impl Pass<'_> {
    /// The bootstrap group of window `i`, when groups are records.
    fn group(&self, i: usize) -> Option<u32> {
        self.by_record
            .then(|| u32::from(self.ds.window_records()[i]))
    }

    /// mV per standardized unit of window `i`: its record's std (physical units) times the
    /// scaler's std.
    fn scale(&self, i: usize) -> f64 {
        let r = usize::from(self.ds.window_records()[i]);
        self.ds.summary().records[r].zscore.std * self.scaler.std
    }

    /// Classification of every window of `idx`.
    fn classify(&self, idx: &[usize], x: &mut [f32]) -> Result<ClassificationReport> {
        let ds = self.ds;
        let y_pred = predicted_classes(&self.run.model, ds, idx, &self.scaler, x, &|n| {
            (self.opts.progress)("classification", n, idx.len())
        })?;
        windows_report(ds, idx, &y_pred, self.by_record, &self.opts.bootstrap)
    }

    /// An example for the report: window `i` with `k` hidden points.
    #[allow(clippy::too_many_arguments)]
    fn example(
        &self,
        i: usize,
        k: usize,
        truth: &[f32],
        hidden: &[bool],
        pred: &[f32],
        baseline_name: &str,
        baseline: Vec<f32>,
    ) -> Example {
        let ds = self.ds;
        Example {
            k,
            record: ds.records()[usize::from(ds.window_records()[i])].clone(),
            sample: ds.samples()[i],
            class: ds.class_names()[usize::from(ds.labels()[i])].clone(),
            truth: truth.to_vec(),
            hidden: hidden.to_vec(),
            pred: pred.to_vec(),
            baseline_name: baseline_name.to_string(),
            baseline,
        }
    }

    /// Imputation and forecasting with `k` hidden points on windows `reg`; with `examples`,
    /// the first windows' outputs are added to it.
    fn regress(
        &self,
        reg: &[usize],
        k: usize,
        rr: &[usize],
        x: &mut [f32],
        mut examples: Option<&mut Examples>,
    ) -> Result<(ImputationReport, ForecastReport)> {
        let (ds, model, l, protocol) = (self.ds, &self.run.model, self.l, &self.opts.protocol);
        let mut imp = ImputationEval::new(k);
        let mut fc = ForecastEval::new(k);
        let fmask = protocol.forecast_mask(l, k)?;
        for (done, chunk) in reg.chunks(self.batch).enumerate() {
            let b = chunk.len();
            ds.fill_batch(chunk, &self.scaler, &mut x[..b * l])?;
            let truth = &x[..b * l];
            let imasks = chunk
                .iter()
                .map(|&i| protocol.imputation_mask(l, k, i as u64))
                .collect::<wonhee_eval::Result<Vec<_>>>()?;
            let fmasks = vec![fmask.clone(); b];
            let pi = impute_batch(model, &observed_only(truth, &imasks, l), &imasks, l)?;
            let pf = forecast_batch(model, &observed_only(truth, &fmasks, l), &fmasks, l)?;
            let row = |v: &[f32], j: usize| v[j * l..(j + 1) * l].to_vec();
            for (j, &i) in chunk.iter().enumerate() {
                let (w, s, g) = (
                    &truth[j * l..(j + 1) * l],
                    Some(self.scale(i)),
                    self.group(i),
                );
                imp.push(w, &imasks[j], &row(&pi, j), s, g)?;
                fc.push(w, &fmask, &row(&pf, j), rr[i], s, g)?;
            }
            if let Some(ex) = examples.as_deref_mut().filter(|_| done == 0) {
                for j in 0..self.opts.examples.min(b) {
                    let (w, i) = (&truth[j * l..(j + 1) * l], chunk[j]);
                    let lin = linear_fill(w, &imasks[j])?;
                    let pred = row(&pi, j);
                    ex.imputation
                        .push(self.example(i, k, w, &imasks[j], &pred, "linear", lin));
                    let (beat, _) = previous_beat(w, &fmask, rr[i])?;
                    let pred = row(&pf, j);
                    ex.forecasting.push(self.example(
                        i,
                        k,
                        w,
                        &fmask,
                        &pred,
                        "previous_beat",
                        beat,
                    ));
                }
            }
            let n = (done * self.batch + b).min(reg.len());
            (self.opts.progress)(&format!("imputation+forecasting K={k}"), n, reg.len());
        }
        Ok((
            imp.finish(&self.opts.bootstrap)?,
            fc.finish(&self.opts.bootstrap)?,
        ))
    }
}

/// Evaluates `run` on the held-out side of `ds`: classification, imputation and forecasting
/// next to their baselines. Returns `metrics.json`'s contents and report examples.
pub fn evaluate(run: &Run, ds: &Dataset, opts: &EvalOptions) -> Result<(Metrics, Examples)> {
    check_dataset(run, ds)?;
    let side = eval_side(run);
    let idx = ds.indices(side);
    if idx.is_empty() {
        return Err(TrainError::run(
            ds.dir(),
            format!("no windows on the {} side", side.name()),
        ));
    }
    let pass = Pass {
        run,
        ds,
        opts,
        scaler: run.info.dataset.scaler,
        l: ds.window_len(),
        batch: opts.batch.max(1),
        by_record: !matches!(ds.summary().config.split, SplitKind::Paper { .. }),
    };
    let mut x = vec![0f32; pass.batch * pass.l];
    let mut metrics = Metrics::new();
    metrics.classification = Some(pass.classify(&idx, &mut x)?);

    // Imputation and forecasting on an evenly spaced subset.
    let reg: Vec<usize> = match opts.max_regression_windows {
        Some(m) if m < idx.len() && m > 0 => (0..m).map(|j| idx[j * idx.len() / m]).collect(),
        _ => idx.clone(),
    };
    let rr = rr_intervals(ds);
    let mut examples = Examples {
        window_len: pass.l,
        rate_hz: f64::from(ds.summary().config.fs),
        imputation: Vec::new(),
        forecasting: Vec::new(),
    };
    // Examples from the first batch at the middle K (370 in the default protocol).
    let example_k = opts.protocol.ks.get(opts.protocol.ks.len() / 2).copied();
    for &k in &opts.protocol.ks {
        let ex = (example_k == Some(k)).then_some(&mut examples);
        let (imp, fc) = pass.regress(&reg, k, &rr, &mut x, ex)?;
        metrics.imputation.push(imp);
        metrics.forecasting.push(fc);
    }
    let m = &mut metrics.meta;
    m.insert("run".into(), run.dir.display().to_string().into());
    m.insert("dataset".into(), ds.dir().display().to_string().into());
    m.insert("split".into(), ds.summary().config.split.name().into());
    m.insert("side".into(), side.name().into());
    m.insert("windows".into(), idx.len().into());
    m.insert("regression_windows".into(), reg.len().into());
    m.insert("mask_seed".into(), opts.protocol.seed.into());
    m.insert(
        "device".into(),
        crate::device_name(run.model.device()).into(),
    );
    m.insert("parameters".into(), run.info.parameters.into());
    Ok((metrics, examples))
}
