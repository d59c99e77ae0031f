//! AdamW with inspectable state, learning-rate schedules and gradient-norm clipping.
//!
//! Written here rather than taken from candle-nn: its `AdamW` keeps its moments private (a
//! checkpoint could not restore them for a bitwise resume), and candle-nn has neither
//! schedules nor clipping.

use candle_core::{Tensor, Var};

use crate::error::Result;
use wonhee_schema::{Schedule, TrainConfig};

/// AdamW (Loshchilov & Hutter 2019), as PyTorch's `torch.optim.AdamW`:
/// `p -= lr * wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`.
pub struct AdamW {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: usize,
    betas: [f64; 2],
    eps: f64,
    weight_decay: f64,
}

impl AdamW {
    /// An optimizer over named variables (their order is the order of `vars`).
    pub fn new(vars: Vec<(String, Var)>, cfg: &TrainConfig) -> Result<Self> {
        let m = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            m,
            v,
            step: 0,
            betas: cfg.betas,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
        })
    }

    /// The optimised variables.
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Steps taken.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// One update with `grads[i]` for `vars[i]`; a variable whose gradient is `None` is left
    /// untouched (neither decayed nor moved), as PyTorch does for parameters without `.grad`.
    pub fn step(&mut self, grads: &[Option<Tensor>], lr: f64) -> Result<()> {
        self.step += 1;
        let [b1, b2] = self.betas;
        let t = self.step as i32;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let (_, var) = &self.vars[i];
            let m = ((&self.m[i] * b1)? + (g * (1.0 - b1))?)?;
            let v = ((&self.v[i] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let denom = ((&v / c2)?.sqrt()? + self.eps)?;
            let upd = ((&m / c1)? / denom)?;
            let p = var.as_tensor();
            let decayed = (p * (1.0 - lr * self.weight_decay))?;
            var.set(&(decayed - (upd * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// Moments as `(name.m, tensor)`, `(name.v, tensor)` pairs, for checkpoints.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.vars.len());
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.push((format!("{name}.m"), self.m[i].clone()));
            out.push((format!("{name}.v"), self.v[i].clone()));
        }
        out
    }

    /// Restores moments (by name) and the step count.
    pub fn load_state(
        &mut self,
        get: &dyn Fn(&str) -> Option<Tensor>,
        step: usize,
    ) -> std::result::Result<(), String> {
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (suffix, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("{name}.{suffix}");
                let t = get(&key).ok_or_else(|| format!("optimizer state has no `{key}`"))?;
                if t.dims() != var.dims() {
                    return Err(format!(
                        "optimizer state `{key}` has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    ));
                }
                *slot = t.to_device(var.device()).map_err(|e| e.to_string())?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Learning rate at `step` (0-based) of `total` steps.
pub fn learning_rate(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    if step < cfg.warmup_steps {
        return cfg.lr * (step + 1) as f64 / cfg.warmup_steps as f64;
    }
    match cfg.schedule {
        Schedule::Constant => cfg.lr,
        Schedule::Cosine => {
            let span = total.saturating_sub(cfg.warmup_steps).max(1);
            let t = ((step - cfg.warmup_steps) as f64 / span as f64).min(1.0);
            cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
        }
    }
}

/// Global L2 norm of the gradients.
pub fn grad_norm(grads: &[Option<Tensor>]) -> Result<f64> {
    let mut sq = 0f64;
    for g in grads.iter().flatten() {
        sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(sq.sqrt())
}

/// Scales the gradients so that their global norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when it is below 1). Returns the norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut [Option<Tensor>], max_norm: f64) -> Result<f64> {
    let norm = grad_norm(grads)?;
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        for g in grads.iter_mut().flatten() {
            *g = (&*g * factor)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn adamw_matches_hand_computed_steps() {
        // One scalar parameter p = 1, gradient 0.5 then -0.25; lr 0.1, wd 0.1.
        let dev = Device::Cpu;
        let p = Var::from_tensor(&Tensor::new(&[1f32], &dev).unwrap()).unwrap();
        let cfg = TrainConfig {
            weight_decay: 0.1,
            ..TrainConfig::default()
        };
        let mut opt = AdamW::new(vec![("p".into(), p.clone())], &cfg).unwrap();
        let (b1, b2, eps, lr, wd) = (0.9f64, 0.999f64, 1e-8, 0.1, 0.1);
        let (mut pe, mut m, mut v) = (1f64, 0f64, 0f64);
        for (t, g) in [0.5f64, -0.25].into_iter().enumerate() {
            opt.step(&[Some(Tensor::new(&[g as f32], &dev).unwrap())], lr)
                .unwrap();
            pe *= 1.0 - lr * wd;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let mh = m / (1.0 - b1.powi(t as i32 + 1));
            let vh = v / (1.0 - b2.powi(t as i32 + 1));
            pe -= lr * mh / (vh.sqrt() + eps);
            let got = f64::from(p.as_tensor().to_vec1::<f32>().unwrap()[0]);
            assert!((got - pe).abs() < 1e-6, "step {t}: {got} vs {pe}");
        }
    }

    #[test]
    fn schedules() {
        let cfg = TrainConfig {
            lr: 1.0,
            min_lr: 0.1,
            warmup_steps: 10,
            schedule: Schedule::Cosine,
            ..TrainConfig::default()
        };
        assert!((learning_rate(&cfg, 0, 110) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9, 110) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10, 110) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 60, 110) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&cfg, 110, 110) - 0.1).abs() < 1e-12);
        let c = TrainConfig {
            lr: 0.5,
            ..TrainConfig::default()
        };
        assert_eq!(learning_rate(&c, 1000, 10), 0.5);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let dev = Device::Cpu;
        let mut g = vec![
            Some(Tensor::new(&[3f32], &dev).unwrap()),
            None,
            Some(Tensor::new(&[4f32], &dev).unwrap()),
        ];
        let n = clip_grad_norm(&mut g, 1.0).unwrap();
        assert!((n - 5.0).abs() < 1e-6);
        assert!((grad_norm(&g).unwrap() - 1.0).abs() < 1e-5);
        let before = grad_norm(&g).unwrap();
        clip_grad_norm(&mut g, 10.0).unwrap();
        assert_eq!(grad_norm(&g).unwrap(), before);
    }
}
