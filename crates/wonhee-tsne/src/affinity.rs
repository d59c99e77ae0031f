//! Input affinities: per-point Gaussian bandwidths calibrated to the perplexity, then the
//! symmetrized joint distribution `P = (P_cond + P_condᵀ) / 2n` as a sparse matrix.

use rayon::prelude::*;

use crate::knn::Neighbours;

/// Entropy tolerance of the bandwidth search (nats).
const ENTROPY_TOL: f64 = 1e-10;
/// Bisection steps at most per point.
const MAX_STEPS: usize = 200;

/// A sparse row-major matrix (compressed sparse rows).
#[derive(Clone, Debug)]
pub(crate) struct Csr {
    /// Row `i` holds entries `row_ptr[i]..row_ptr[i + 1]`.
    pub row_ptr: Vec<usize>,
    /// Column of each entry (ascending within a row).
    pub col: Vec<u32>,
    /// Value of each entry.
    pub val: Vec<f64>,
}

impl Csr {
    /// Number of rows.
    #[cfg(test)]
    pub fn rows(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Row `i`'s columns and values.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.row_ptr[i]..self.row_ptr[i + 1];
        (&self.col[r.clone()], &self.val[r])
    }
}

/// Fills `p` with `exp(-beta d)` normalized, for the `beta` whose Shannon entropy (nats) is
/// `target`; `d2` ascending. Returns the entropy reached.
pub(crate) fn calibrate_row(d2: &[f64], target: f64, p: &mut [f64]) -> f64 {
    let dmin = d2.first().copied().unwrap_or(0.0);
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut beta = 1.0;
    let mut h = 0.0;
    for _ in 0..MAX_STEPS {
        let (mut sum, mut sdp) = (0.0, 0.0);
        for (o, &d) in p.iter_mut().zip(d2) {
            let dd = d - dmin;
            let e = (-dd * beta).exp();
            *o = e;
            sum += e;
            sdp += dd * e;
        }
        h = sum.ln() + beta * sdp / sum;
        let diff = h - target;
        if diff.abs() < ENTROPY_TOL {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi.is_finite() {
                0.5 * (beta + hi)
            } else {
                beta * 2.0
            };
        } else {
            hi = beta;
            beta = 0.5 * (beta + lo);
        }
    }
    let sum: f64 = p.iter().sum();
    for o in p.iter_mut() {
        *o /= sum;
    }
    h
}

/// Conditional probabilities `p_{j|i}` over each point's neighbours (`n x k`, row-major).
pub(crate) fn conditional(nb: &Neighbours, perplexity: f64) -> Vec<f64> {
    let k = nb.k;
    let target = perplexity.ln();
    let mut p = vec![0f64; nb.d2.len()];
    p.par_chunks_mut(k)
        .zip(nb.d2.par_chunks(k))
        .for_each(|(pr, dr)| {
            calibrate_row(dr, target, pr);
        });
    p
}

/// `P = (P_cond + P_condᵀ) / 2n`: symmetric, summing to one.
pub(crate) fn symmetrize(nb: &Neighbours, cond: &[f64], n: usize) -> Csr {
    let k = nb.k;
    let mut entries: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * n * k);
    for i in 0..n {
        for t in 0..k {
            let (j, p) = (nb.idx[i * k + t], cond[i * k + t]);
            entries.push((i as u32, j, p));
            entries.push((j, i as u32, p));
        }
    }
    // A key occurs at most twice (from i's row and from j's), and a + b == b + a, so the
    // order an unstable sort leaves equal keys in does not change the sums.
    entries.par_sort_unstable_by_key(|e| (e.0, e.1));
    let scale = 0.5 / n as f64;
    let mut row_ptr = vec![0usize; n + 1];
    let mut col = Vec::with_capacity(entries.len());
    let mut val: Vec<f64> = Vec::with_capacity(entries.len());
    let mut last: Option<(u32, u32)> = None;
    for (i, j, p) in entries {
        if last == Some((i, j)) {
            if let Some(v) = val.last_mut() {
                *v += p;
            }
        } else {
            col.push(j);
            val.push(p);
            row_ptr[i as usize + 1] += 1;
            last = Some((i, j));
        }
    }
    for v in &mut val {
        *v *= scale;
    }
    for i in 0..n {
        row_ptr[i + 1] += row_ptr[i];
    }
    Csr { row_ptr, col, val }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::exact_knn;
    use rand::{Rng, SeedableRng};

    fn entropy(p: &[f64]) -> f64 {
        -p.iter()
            .filter(|&&x| x > 0.0)
            .map(|&x| x * x.ln())
            .sum::<f64>()
    }

    #[test]
    fn calibration_hits_the_target_entropy() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (n, dim) = (400, 10);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>() * 3.0).collect();
        for perplexity in [2.0, 10.0, 30.0] {
            let k = (3.0 * perplexity) as usize;
            let nb = exact_knn(&data, n, dim, k);
            let p = conditional(&nb, perplexity);
            for row in p.chunks(k) {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                let h = entropy(row);
                assert!(
                    (h - perplexity.ln()).abs() < 1e-8,
                    "H = {h}, perplexity {perplexity}"
                );
                // Nearer neighbours are at least as likely.
                assert!(row.windows(2).all(|w| w[0] >= w[1]));
            }
        }
    }

    #[test]
    fn calibration_survives_wide_scales_and_duplicates() {
        for scale in [1e-6, 1.0, 1e6] {
            let d2: Vec<f64> = (0..30).map(|i| scale * (1.0 + i as f64)).collect();
            let mut p = vec![0.0; 30];
            let h = calibrate_row(&d2, 5f64.ln(), &mut p);
            assert!((h - 5f64.ln()).abs() < 1e-8, "scale {scale}: H = {h}");
        }
        // All neighbours equidistant: the uniform distribution, no NaN.
        let mut p = vec![0.0; 9];
        calibrate_row(&[4.0; 9], 3f64.ln(), &mut p);
        assert!(p.iter().all(|&x| (x - 1.0 / 9.0).abs() < 1e-12));
    }

    #[test]
    fn symmetrized_p_is_symmetric_and_sums_to_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
        let (n, dim, k) = (200, 4, 15);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let nb = exact_knn(&data, n, dim, k);
        let cond = conditional(&nb, 5.0);
        let p = symmetrize(&nb, &cond, n);
        assert_eq!(p.rows(), n);
        let total: f64 = p.val.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        let get = |i: usize, j: u32| {
            let (c, v) = p.row(i);
            c.binary_search(&j).map(|t| v[t]).unwrap_or(0.0)
        };
        for i in 0..n {
            let (c, v) = p.row(i);
            assert!(c.windows(2).all(|w| w[0] < w[1]));
            for (&j, &x) in c.iter().zip(v) {
                assert_eq!(x, get(j as usize, i as u32));
                // Dense reference: (p_{j|i} + p_{i|j}) / 2n.
                let pji = (0..k)
                    .find(|&t| nb.idx[i * k + t] == j)
                    .map_or(0.0, |t| cond[i * k + t]);
                let pij = (0..k)
                    .find(|&t| nb.idx[j as usize * k + t] == i as u32)
                    .map_or(0.0, |t| cond[j as usize * k + t]);
                assert!((x - (pji + pij) / (2.0 * n as f64)).abs() < 1e-15);
            }
        }
    }
}
