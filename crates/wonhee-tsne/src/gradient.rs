//! The t-SNE gradient: exact attraction over the sparse `P`, Barnes-Hut repulsion.
//!
//! Convention (openTSNE's): the gradient of the KL divergence without its factor 4,
//! `gᵢ = a Σⱼ pᵢⱼ wᵢⱼ (yᵢ - yⱼ) - Σⱼ wᵢⱼ² (yᵢ - yⱼ) / Z`, with `wᵢⱼ = 1 / (1 + |yᵢ - yⱼ|²)`,
//! `Z = Σ_{k≠l} w_kl` and `a` the exaggeration.

use rayon::prelude::*;

use crate::affinity::Csr;
use crate::quadtree::QuadTree;

/// Points per parallel task (fixed, so no result depends on the number of threads).
const CHUNK: usize = 256;

/// Writes the gradient at `y` into `grad`; returns the KL divergence `KL(P || Q)` of the
/// unexaggerated `P` when `want_kl`.
pub(crate) fn gradient(
    p: &Csr,
    y: &[[f64; 2]],
    theta: f64,
    exaggeration: f64,
    grad: &mut [[f64; 2]],
    want_kl: bool,
) -> Option<f64> {
    let n = y.len();
    let tree = QuadTree::new(y, theta);
    // Repulsion, in the tree's order (neighbouring tasks walk similar paths).
    let mut rep = vec![[0f64; 3]; n];
    rep.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        let mut stack = Vec::with_capacity(256);
        for (s, o) in out.iter_mut().enumerate() {
            *o = tree.repulsion(c * CHUNK + s, &mut stack);
        }
    });
    let z: f64 = rep.iter().map(|r| r[2]).sum();
    let mut rep_by_point = vec![[0f64; 2]; n];
    for (r, &i) in rep.iter().zip(&tree.perm) {
        rep_by_point[i as usize] = [r[0], r[1]];
    }
    let inv_z = 1.0 / z;
    // Attraction and the sum; KL terms per chunk, added in order.
    let kl_parts: Vec<f64> = grad
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(c, g)| {
            let mut kl = 0.0;
            for (s, gi) in g.iter_mut().enumerate() {
                let i = c * CHUNK + s;
                let yi = y[i];
                let (cols, vals) = p.row(i);
                let (mut ax, mut ay) = (0.0, 0.0);
                for (&j, &pij) in cols.iter().zip(vals) {
                    let yj = y[j as usize];
                    let (dx, dy) = (yi[0] - yj[0], yi[1] - yj[1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    let pw = pij * w;
                    ax += pw * dx;
                    ay += pw * dy;
                    if want_kl && pij > 0.0 {
                        kl += pij * (pij / (w * inv_z)).ln();
                    }
                }
                let r = rep_by_point[i];
                *gi = [
                    exaggeration * ax - r[0] * inv_z,
                    exaggeration * ay - r[1] * inv_z,
                ];
            }
            kl
        })
        .collect();
    want_kl.then(|| kl_parts.iter().sum())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::affinity::{conditional, symmetrize};
    use crate::knn::exact_knn;
    use rand::{Rng, SeedableRng};

    /// Dense float64 reference: `dC/dyᵢ = 4 Σⱼ (a pᵢⱼ - qᵢⱼ) wᵢⱼ (yᵢ - yⱼ)` and the KL divergence.
    fn brute_force(pd: &[f64], y: &[[f64; 2]], a: f64) -> (Vec<[f64; 2]>, f64) {
        let n = y.len();
        let w = |i: usize, j: usize| {
            let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
            1.0 / (1.0 + dx * dx + dy * dy)
        };
        let mut z = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    z += w(i, j);
                }
            }
        }
        let mut g = vec![[0.0; 2]; n];
        let mut kl = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let (wij, pij) = (w(i, j), pd[i * n + j]);
                let q = wij / z;
                let f = 4.0 * (a * pij - q) * wij;
                g[i][0] += f * (y[i][0] - y[j][0]);
                g[i][1] += f * (y[i][1] - y[j][1]);
                if pij > 0.0 {
                    kl += pij * (pij / q).ln();
                }
            }
        }
        (g, kl)
    }

    pub(crate) fn fixture(n: usize, seed: u64) -> (Csr, Vec<[f64; 2]>) {
        let dim = 5;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let nb = exact_knn(&data, n, dim, 12);
        let p = symmetrize(&nb, &conditional(&nb, 4.0), n);
        let y: Vec<[f64; 2]> = (0..n)
            .map(|_| [rng.random::<f64>() * 4.0, rng.random::<f64>() * 4.0])
            .collect();
        (p, y)
    }

    #[test]
    fn theta_zero_is_the_exact_gradient() {
        let n = 150;
        let (p, mut y) = fixture(n, 11);
        // Two coincident points exercise the shared-leaf path.
        y[7] = y[3];
        let mut dense = vec![0.0; n * n];
        for i in 0..n {
            let (c, v) = p.row(i);
            for (&j, &x) in c.iter().zip(v) {
                dense[i * n + j as usize] = x;
            }
        }
        for a in [1.0, 12.0] {
            let mut g = vec![[0.0; 2]; n];
            let kl = gradient(&p, &y, 0.0, a, &mut g, true).unwrap();
            let (want, want_kl) = brute_force(&dense, &y, a);
            let scale = want
                .iter()
                .map(|v| v[0].abs().max(v[1].abs()))
                .fold(0.0, f64::max);
            for (got, want) in g.iter().zip(&want) {
                for d in 0..2 {
                    assert!(
                        (4.0 * got[d] - want[d]).abs() < 1e-12 * scale,
                        "{got:?} vs {want:?}"
                    );
                }
            }
            assert!((kl - want_kl).abs() < 1e-12 * want_kl.abs().max(1.0));
        }
    }

    #[test]
    fn barnes_hut_is_close_to_exact() {
        let n = 400;
        let (p, y) = fixture(n, 12);
        let mut exact = vec![[0.0; 2]; n];
        let mut bh = vec![[0.0; 2]; n];
        gradient(&p, &y, 0.0, 1.0, &mut exact, false);
        gradient(&p, &y, 0.5, 1.0, &mut bh, false);
        let num: f64 = exact
            .iter()
            .zip(&bh)
            .map(|(a, b)| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2))
            .sum();
        let den: f64 = exact.iter().map(|a| a[0] * a[0] + a[1] * a[1]).sum();
        let rel = (num / den).sqrt();
        assert!(rel < 0.02 && rel > 0.0, "relative error {rel}");
    }
}
