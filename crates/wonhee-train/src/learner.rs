//! The training step: the three task passes, their gradients combined, clipped and applied by
//! AdamW. What `wonhee bench train` times is [`Learner::step`] itself.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand_chacha::ChaCha8Rng;
use wonhee_model::{DropoutState, WonHee};
use wonhee_schema::{Combine, RunConfig, TrainConfig};

use crate::batch::{Batch, PCGRAD_SALT, stream, stream_at};
use crate::error::{Result, TrainError};
use crate::optim::{AdamW, clip_grad_norm, grad_norm};
use crate::pcgrad::{TaskGrads, pcgrad, sum};

/// Task names, in loss order.
pub const TASKS: [&str; 3] = ["classification", "imputation", "forecasting"];

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// Classification loss (cross-entropy, or the focal loss when `focal_gamma` > 0),
    /// imputation MSE and forecasting MSE (before weighting).
    pub losses: [f32; 3],
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// PCGrad projections made.
    pub projections: usize,
}

/// The model, its variables and optimizer, and the PCGrad stream: everything a training step
/// changes.
pub struct Learner {
    train: TrainConfig,
    varmap: VarMap,
    vars: Vec<(String, Var)>,
    model: WonHee,
    opt: AdamW,
    pcgrad: ChaCha8Rng,
}

impl Learner {
    /// A freshly initialised model (seeded by `cfg.train.seed`) on `dev`, with its optimizer.
    pub fn new(cfg: &RunConfig, dev: &Device) -> Result<Self> {
        let seed = cfg.train.seed;
        let varmap = wonhee_model::init_varmap(&cfg.model, seed, dev)?;
        let model = WonHee::new(
            &cfg.model,
            VarBuilder::from_varmap(&varmap, DType::F32, dev),
        )?;
        model.seed_dropout(seed ^ 0xD0);
        let mut vars: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let opt = AdamW::new(vars.clone(), &cfg.train)?;
        Ok(Self {
            train: cfg.train.clone(),
            varmap,
            vars,
            model,
            opt,
            pcgrad: stream(seed, PCGRAD_SALT),
        })
    }

    /// A model starting from the weights of `weights` (a trained run's variables, same model
    /// configuration) with a fresh optimizer; dropout and PCGrad are seeded by
    /// `cfg.train.seed`. The start of fine-tuning (`wonhee adapt`).
    pub fn from_weights(cfg: &RunConfig, weights: &VarMap, dev: &Device) -> Result<Self> {
        let learner = Self::new(cfg, dev)?;
        let src = weights.data().lock().unwrap_or_else(|e| e.into_inner());
        for (name, var) in &learner.vars {
            let w = src.get(name).ok_or_else(|| {
                TrainError::Config(format!("the weights have no tensor named {name}"))
            })?;
            if w.shape() != var.shape() {
                return Err(TrainError::Config(format!(
                    "tensor {name} has shape {:?} in the weights, {:?} in the model",
                    w.shape().dims(),
                    var.shape().dims()
                )));
            }
            var.set(&w.as_tensor().to_device(dev)?)?;
        }
        drop(src);
        Ok(learner)
    }

    /// The model.
    pub fn model(&self) -> &WonHee {
        &self.model
    }

    /// The variables behind the model.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// One optimizer step on `batch` at learning rate `lr`; `step` (1-based) names the step in
    /// errors. Each task runs forward, loss and backward on its own (one graph alive at a
    /// time); the weighted task gradients are summed (or combined by PCGrad), clipped, applied.
    pub fn step(&mut self, batch: &Batch, lr: f64, step: usize) -> Result<StepOutcome> {
        let [wc, wi, wf] = self.train.task_weights;
        let m = &self.model;
        let logits = m.forward_classify_leads(
            &batch.x_in,
            batch.lead2.as_ref(),
            batch.rhythm.as_ref(),
            true,
        )?;
        let loss = focal_cross_entropy(&logits, &batch.labels, self.train.focal_gamma)?;
        drop(logits);
        let (lc, gc) = self.task_grads(loss, wc, step, TASKS[0])?;
        let rec = self
            .model
            .forward_impute(&batch.x_in, &batch.imp_mask, true)?;
        let loss = masked_mse(&rec, &batch.x, &batch.imp_mask)?;
        drop(rec);
        let (li, gi) = self.task_grads(loss, wi, step, TASKS[1])?;
        let fc = self
            .model
            .forward_forecast(&batch.x_in, &batch.fc_mask, true)?;
        let loss = masked_mse(&fc, &batch.x, &batch.fc_mask)?;
        drop(fc);
        let (lf, gf) = self.task_grads(loss, wf, step, TASKS[2])?;

        let (mut grads, projections) = match self.train.combine {
            Combine::Sum => (sum(&[gc, gi, gf])?, 0),
            Combine::Pcgrad => pcgrad(&[gc, gi, gf], &mut self.pcgrad)?,
        };
        let gnorm = match self.train.grad_clip {
            Some(c) => clip_grad_norm(&mut grads, c)?,
            None => grad_norm(&grads)?,
        };
        if !gnorm.is_finite() {
            return Err(TrainError::NonFinite {
                step,
                task: "gradient norm",
                value: gnorm as f32,
            });
        }
        self.opt.step(&grads, lr)?;
        Ok(StepOutcome {
            losses: [lc, li, lf],
            grad_norm: gnorm,
            projections,
        })
    }

    /// The loss's value (checked finite) and the gradients of `weight * loss`.
    fn task_grads(
        &self,
        loss: Tensor,
        weight: f64,
        step: usize,
        task: &'static str,
    ) -> Result<(f32, TaskGrads)> {
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(TrainError::NonFinite { step, task, value });
        }
        let store = (loss * weight)?.backward()?;
        let grads = self
            .vars
            .iter()
            .map(|(_, v)| store.get(v.as_tensor()).cloned())
            .collect();
        Ok((value, grads))
    }

    /// The optimizer (its moments are checkpointed).
    pub(crate) fn optimizer(&self) -> &AdamW {
        &self.opt
    }

    /// Mutable optimizer, for restoring a checkpoint.
    pub(crate) fn optimizer_mut(&mut self) -> &mut AdamW {
        &mut self.opt
    }

    /// Position of the PCGrad stream.
    pub(crate) fn pcgrad_pos(&self) -> u128 {
        self.pcgrad.get_word_pos()
    }

    /// The dropout generator's state.
    pub(crate) fn dropout_state(&self) -> DropoutState {
        self.model.dropout_state()
    }

    /// Restores the random streams a step draws from (PCGrad order, dropout).
    pub(crate) fn restore_streams(&mut self, pcgrad_pos: u128, dropout: DropoutState) {
        self.pcgrad = stream_at(self.train.seed, PCGRAD_SALT, pcgrad_pos);
        self.model.set_dropout_state(dropout);
    }
}

/// Mean focal loss (Lin et al. 2017) of `logits` `[b, classes]` against `labels` `[b]`:
/// `-(1 - p)^gamma ln p`, `p` the softmax probability of the true class. `gamma = 0` is
/// candle's cross-entropy itself (the same graph, the same bits).
pub fn focal_cross_entropy(logits: &Tensor, labels: &Tensor, gamma: f64) -> Result<Tensor> {
    if gamma == 0.0 {
        return Ok(candle_nn::loss::cross_entropy(logits, labels)?);
    }
    let logp = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    let lp = logp.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?;
    // (1 - p)^gamma as exp(gamma ln(1 - p)), kept away from ln 0 when p rounds to 1.
    let rest = lp.exp()?.affine(-1.0, 1.0)?.clamp(1e-12f32, 1f32)?;
    let w = (rest.log()? * gamma)?.exp()?;
    Ok((w * lp)?.mean_all()?.neg()?)
}

/// Masked mean squared error: mean of `(pred - target)^2` over positions where `mask` is 1.
pub fn masked_mse(pred: &Tensor, target: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let d = (pred - target)?.sqr()?;
    let num = (d * mask)?.sum_all()?;
    let den = mask.sum_all()?;
    Ok(num.broadcast_div(&den)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The focal loss in float64 by hand, and its derivative by central differences.
    fn focal_f64(z: &[Vec<f64>], y: &[usize], gamma: f64) -> f64 {
        let mut total = 0.0;
        for (row, &t) in z.iter().zip(y) {
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let lp = row[t] - lse;
            total -= (1.0 - lp.exp()).powf(gamma) * lp;
        }
        total / z.len() as f64
    }

    #[test]
    fn focal_loss_matches_float64_and_its_gradient() {
        let z = vec![
            vec![2.0, -1.0, 0.5],
            vec![-0.3, 0.8, 0.1],
            vec![0.0, 0.0, 4.0],
            vec![1.5, 1.4, -2.0],
        ];
        let y = [0usize, 2, 2, 1];
        let dev = Device::Cpu;
        let flat: Vec<f32> = z.iter().flatten().map(|&v| v as f32).collect();
        let labels = Tensor::new(&[0u32, 2, 2, 1], &dev).unwrap();
        for gamma in [0.0, 0.5, 2.0] {
            let var = Var::from_vec(flat.clone(), (4, 3), &dev).unwrap();
            let loss = focal_cross_entropy(var.as_tensor(), &labels, gamma).unwrap();
            let got = f64::from(loss.to_scalar::<f32>().unwrap());
            let want = focal_f64(&z, &y, gamma);
            assert!((got - want).abs() < 1e-5, "gamma {gamma}: {got} vs {want}");
            let grad = loss.backward().unwrap();
            let g = grad
                .get(var.as_tensor())
                .expect("a gradient for the logits");
            let g: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            for (k, gk) in g.iter().enumerate() {
                let (r, c, h) = (k / 3, k % 3, 1e-5);
                let (mut up, mut down) = (z.clone(), z.clone());
                up[r][c] += h;
                down[r][c] -= h;
                let fd = (focal_f64(&up, &y, gamma) - focal_f64(&down, &y, gamma)) / (2.0 * h);
                assert!(
                    (f64::from(*gk) - fd).abs() < 1e-4,
                    "gamma {gamma} [{r},{c}]: {gk} vs {fd}"
                );
            }
        }
        // The focal path at a vanishing gamma agrees with candle's cross-entropy.
        let t = Tensor::from_vec(flat, (4, 3), &dev).unwrap();
        let ce = candle_nn::loss::cross_entropy(&t, &labels).unwrap();
        let tiny = focal_cross_entropy(&t, &labels, 1e-9).unwrap();
        let (ce, tiny) = (
            ce.to_scalar::<f32>().unwrap(),
            tiny.to_scalar::<f32>().unwrap(),
        );
        assert!((ce - tiny).abs() < 1e-6, "{ce} vs {tiny}");
    }

    #[test]
    fn focal_loss_of_a_saturated_logit_is_finite_with_a_finite_gradient() {
        let dev = Device::Cpu;
        // p rounds to 1 in f32 for the first row: 1 - p is 0 and clamped.
        let var = Var::from_vec(vec![0f32, 0., 40., 1., -1., 0.5], (2, 3), &dev).unwrap();
        let labels = Tensor::new(&[2u32, 0], &dev).unwrap();
        for gamma in [0.5, 2.0] {
            let loss = focal_cross_entropy(var.as_tensor(), &labels, gamma).unwrap();
            assert!(loss.to_scalar::<f32>().unwrap().is_finite());
            let grad = loss.backward().unwrap();
            let g: Vec<f32> = grad
                .get(var.as_tensor())
                .expect("a gradient")
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(g.iter().all(|v| v.is_finite()), "gamma {gamma}: {g:?}");
            assert!(g[3..].iter().any(|v| *v != 0.0));
        }
    }
}
