//! PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020).

use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;

/// A task's gradient: one optional tensor per variable.
pub type TaskGrads = Vec<Option<Tensor>>;

fn dot(a: &TaskGrads, b: &TaskGrads) -> Result<f64> {
    let mut s = 0f64;
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            s += f64::from((x * y)?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    Ok(s)
}

/// `a - c * b`, variable by variable.
fn sub_scaled(a: &TaskGrads, b: &TaskGrads, c: f64) -> Result<TaskGrads> {
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => Ok(Some((x - (y * c)?)?)),
            (Some(x), None) => Ok(Some(x.clone())),
            (None, Some(y)) => Ok(Some((y * (-c))?)),
            (None, None) => Ok(None),
        })
        .collect()
}

/// Sum of per-task gradients, variable by variable.
pub fn sum(tasks: &[TaskGrads]) -> Result<TaskGrads> {
    let n = tasks.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            let mut acc: Option<Tensor> = None;
            for t in tasks {
                if let Some(g) = &t[i] {
                    acc = Some(match acc {
                        None => g.clone(),
                        Some(a) => (a + g)?,
                    });
                }
            }
            Ok(acc)
        })
        .collect()
}

/// PCGrad: for each task (in order), for each other task in a random order, remove the
/// component of the task's gradient along the other's original gradient when their dot
/// product is negative; then sum the projected gradients. Returns the combined gradient and the
/// number of projections made.
pub fn pcgrad(tasks: &[TaskGrads], rng: &mut ChaCha8Rng) -> Result<(TaskGrads, usize)> {
    let norms: Vec<f64> = tasks.iter().map(|t| dot(t, t)).collect::<Result<_>>()?;
    let mut projected = Vec::with_capacity(tasks.len());
    let mut n_proj = 0;
    for (i, gi) in tasks.iter().enumerate() {
        let mut g = gi.clone();
        let mut others: Vec<usize> = (0..tasks.len()).filter(|&j| j != i).collect();
        others.shuffle(rng);
        for j in others {
            if norms[j] <= 0.0 {
                continue;
            }
            let d = dot(&g, &tasks[j])?;
            if d < 0.0 {
                g = sub_scaled(&g, &tasks[j], d / norms[j])?;
                n_proj += 1;
            }
        }
        projected.push(g);
    }
    Ok((sum(&projected)?, n_proj))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use rand::SeedableRng;

    use super::*;

    fn g(v: &[f32]) -> TaskGrads {
        vec![Some(Tensor::new(v, &Device::Cpu).unwrap())]
    }

    fn vals(t: &TaskGrads) -> Vec<f32> {
        t[0].as_ref().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn conflicting_gradients_are_projected() {
        // Yu et al.'s two-task picture: g1 = (1, 0), g2 = (-1, 1) conflict (dot -1).
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (out, n) = pcgrad(&[g(&[1.0, 0.0]), g(&[-1.0, 1.0])], &mut rng).unwrap();
        assert_eq!(n, 2);
        // g1' = g1 - (-1/2) g2 = (0.5, 0.5); g2' = g2 - (-1/1) g1 = (0, 1); sum (0.5, 1.5).
        let v = vals(&out);
        assert!(
            (v[0] - 0.5).abs() < 1e-6 && (v[1] - 1.5).abs() < 1e-6,
            "{v:?}"
        );
        // Projected gradients no longer conflict with the other task.
        let (out, n) = pcgrad(&[g(&[1.0, 0.0]), g(&[0.0, 1.0])], &mut rng).unwrap();
        assert_eq!(n, 0);
        assert_eq!(vals(&out), vec![1.0, 1.0]);
    }

    #[test]
    fn missing_gradients_are_handled() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let a = vec![Some(Tensor::new(&[1f32], &Device::Cpu).unwrap()), None];
        let b = vec![None, Some(Tensor::new(&[2f32], &Device::Cpu).unwrap())];
        let (out, n) = pcgrad(&[a, b], &mut rng).unwrap();
        assert_eq!(n, 0);
        assert_eq!(
            out[0].as_ref().unwrap().to_vec1::<f32>().unwrap(),
            vec![1.0]
        );
        assert_eq!(
            out[1].as_ref().unwrap().to_vec1::<f32>().unwrap(),
            vec![2.0]
        );
    }
}
