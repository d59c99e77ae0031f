//! Validation during training: a seeded, class-stratified share of the training side, scored
//! on all three tasks with fixed masks so successive validations are comparable.

use candle_core::Tensor;
use rand::Rng;
use serde::{Deserialize, Serialize};
use wonhee_dataset::{Dataset, Side};
use wonhee_eval::{random_mask, trailing_mask};
use wonhee_model::WonHee;
use wonhee_schema::RunConfig;
use wonhee_signal::Scaler;

use crate::batch::{lead2_batch, rhythm_batch, stream};
use crate::error::Result;

/// Validation figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValReport {
    /// Step after which it was computed.
    pub step: usize,
    /// Classification accuracy.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Mean cross-entropy.
    pub cls_loss: f64,
    /// Imputation MSE on hidden points (K = 370, fixed masks).
    pub imp_mse: f64,
    /// Forecasting MSE on hidden points (trailing K = 370).
    pub fc_mse: f64,
}

/// Train and validation window indices: the validation windows are a seeded, class-stratified
/// share of the training side (at most `val_max`), removed from training.
pub fn train_val_split(ds: &Dataset, cfg: &RunConfig) -> (Vec<usize>, Vec<usize>) {
    let t = &cfg.train;
    let on_train_side = |s: Side| match (t.fold, s) {
        (Some(k), Side::Fold(f)) => f != k,
        (None, Side::Train) => true,
        _ => false,
    };
    let all: Vec<usize> = (0..ds.len())
        .filter(|&i| on_train_side(ds.sides()[i]))
        .collect();
    let n_val = ((all.len() as f64 * t.val_fraction).round() as usize).min(t.val_max);
    if n_val == 0 {
        return (all, Vec::new());
    }
    let mut rng = stream(t.seed, 11);
    let mut val = Vec::with_capacity(n_val);
    for c in 0..ds.class_names().len() {
        let mut idx: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| usize::from(ds.labels()[i]) == c)
            .collect();
        let take =
            ((idx.len() as f64 * n_val as f64 / all.len() as f64).round() as usize).min(idx.len());
        for i in 0..take {
            let j = rng.random_range(i..idx.len());
            idx.swap(i, j);
        }
        val.extend_from_slice(&idx[..take]);
    }
    val.sort_unstable();
    let train = all
        .into_iter()
        .filter(|i| val.binary_search(i).is_err())
        .collect();
    (train, val)
}

/// Sums over the validation windows.
#[derive(Default)]
struct Totals {
    cross_entropy: f64,
    imp_se: f64,
    fc_se: f64,
    imp_points: f64,
    fc_points: f64,
}

/// Evaluation-mode figures on `idx` (classification, plus imputation and forecasting with
/// hidden K = 370 and masks fixed by `seed`, so successive validations are comparable).
pub fn validate(
    model: &WonHee,
    ds: &Dataset,
    idx: &[usize],
    scaler: &Scaler,
    seed: u64,
    batch: usize,
) -> Result<ValReport> {
    let dev = model.device().clone();
    let l = ds.window_len();
    let n_classes = ds.class_names().len();
    let k = 370.min(l - 1);
    let mut rng = stream(seed, 21);
    let mut conf = vec![vec![0u64; n_classes]; n_classes];
    let mut sums = Totals::default();
    for chunk in idx.chunks(batch.max(1)) {
        let b = chunk.len();
        let mut x = vec![0f32; b * l];
        ds.fill_batch(chunk, scaler, &mut x)?;
        let xt = Tensor::from_vec(x, (b, l), &dev)?;
        let rt = rhythm_batch(model.config(), ds, chunk, &dev)?;
        let x2 = lead2_batch(model.config(), ds, chunk, &dev)?;
        let logits = model.forward_classify_leads(&xt, x2.as_ref(), rt.as_ref(), false)?;
        let labels: Vec<u32> = chunk.iter().map(|&i| u32::from(ds.labels()[i])).collect();
        let lt = Tensor::from_vec(labels.clone(), b, &dev)?;
        let ce = candle_nn::loss::cross_entropy(&logits, &lt)?.to_scalar::<f32>()?;
        sums.cross_entropy += f64::from(ce) * b as f64;
        let pred = logits.argmax(1)?.to_vec1::<u32>()?;
        for (t, p) in labels.iter().zip(&pred) {
            conf[*t as usize][*p as usize] += 1;
        }
        let mut im = Vec::with_capacity(b * l);
        for _ in 0..b {
            im.extend(
                random_mask(l, k, &mut rng)?
                    .into_iter()
                    .map(|h| f32::from(u8::from(h))),
            );
        }
        let im = Tensor::from_vec(im, (b, l), &dev)?;
        let fm: Vec<f32> = trailing_mask(l, k)?
            .into_iter()
            .map(|h| f32::from(u8::from(h)))
            .collect();
        let fm = Tensor::from_vec(fm.repeat(b), (b, l), &dev)?;
        let rec = model.forward_impute(&xt, &im, false)?;
        sums.imp_se += f64::from(((rec - &xt)?.sqr()? * &im)?.sum_all()?.to_scalar::<f32>()?);
        sums.imp_points += (b * k) as f64;
        let fc = model.forward_forecast(&xt, &fm, false)?;
        sums.fc_se += f64::from(((fc - &xt)?.sqr()? * &fm)?.sum_all()?.to_scalar::<f32>()?);
        sums.fc_points += (b * k) as f64;
    }
    let n = idx.len().max(1) as f64;
    let correct: u64 = (0..n_classes).map(|c| conf[c][c]).sum();
    Ok(ValReport {
        step: 0,
        accuracy: correct as f64 / n,
        macro_f1: macro_f1(&conf),
        cls_loss: sums.cross_entropy / n,
        imp_mse: sums.imp_se / sums.imp_points.max(1.0),
        fc_mse: sums.fc_se / sums.fc_points.max(1.0),
    })
}

/// Mean F1 over the classes present (rows: true class, columns: predicted).
fn macro_f1(conf: &[Vec<u64>]) -> f64 {
    let f1s: Vec<f64> = (0..conf.len())
        .filter_map(|c| {
            let tp = conf[c][c] as f64;
            let support = conf[c].iter().sum::<u64>() as f64;
            let predicted = conf.iter().map(|row| row[c]).sum::<u64>() as f64;
            (support > 0.0).then(|| {
                if tp > 0.0 {
                    2.0 * tp / (support + predicted)
                } else {
                    0.0
                }
            })
        })
        .collect();
    if f1s.is_empty() {
        0.0
    } else {
        f1s.iter().sum::<f64>() / f1s.len() as f64
    }
}
