//! Initial embeddings: the first two principal components (scaled as openTSNE does) or a
//! seeded Gaussian.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Standard deviation of the first coordinate of an initial embedding.
pub(crate) const INIT_STD: f64 = 1e-4;
/// Rows per parallel chunk of the covariance sum (fixed, so sums do not depend on threads).
const CHUNK: usize = 256;

/// One standard normal draw (Box-Muller).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` points drawn from an isotropic Gaussian with standard deviation [`INIT_STD`].
pub(crate) fn random_init(n: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| [INIT_STD * normal(&mut rng), INIT_STD * normal(&mut rng)])
        .collect()
}

/// Column means and the covariance matrix (`dim x dim`, row-major) of `data`.
fn covariance(data: &[f32], n: usize, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let partial: Vec<Vec<f64>> = data
        .par_chunks(CHUNK * dim)
        .map(|block| {
            let mut c = vec![0f64; dim * dim];
            let mut x = vec![0f64; dim];
            for row in block.chunks_exact(dim) {
                for ((xi, &r), m) in x.iter_mut().zip(row).zip(&mean) {
                    *xi = f64::from(r) - m;
                }
                for a in 0..dim {
                    let xa = x[a];
                    for (cab, xb) in c[a * dim + a..(a + 1) * dim].iter_mut().zip(&x[a..]) {
                        *cab += xa * xb;
                    }
                }
            }
            c
        })
        .collect();
    let mut cov = vec![0f64; dim * dim];
    for c in &partial {
        for (t, v) in cov.iter_mut().zip(c) {
            *t += v;
        }
    }
    for a in 0..dim {
        for b in a..dim {
            let v = cov[a * dim + b] / (n as f64 - 1.0).max(1.0);
            cov[a * dim + b] = v;
            cov[b * dim + a] = v;
        }
    }
    (mean, cov)
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: eigenvalues
/// (descending) and eigenvectors as columns of a row-major `m x m` matrix.
fn jacobi_eigen(mut a: Vec<f64>, m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; m * m];
    for i in 0..m {
        v[i * m + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * m + j] * a[i * m + j])
            .sum();
        let diag: f64 = (0..m).map(|i| a[i * m + i] * a[i * m + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[p * m + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let (akp, akq) = (a[k * m + p], a[k * m + q]);
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for k in 0..m {
                    let (apk, aqk) = (a[p * m + k], a[q * m + k]);
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for k in 0..m {
                    let (vkp, vkq) = (v[k * m + p], v[k * m + q]);
                    v[k * m + p] = c * vkp - s * vkq;
                    v[k * m + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&x, &y| a[y * m + y].total_cmp(&a[x * m + x]).then(x.cmp(&y)));
    let vals = order.iter().map(|&i| a[i * m + i]).collect();
    let mut vecs = vec![0f64; m * m];
    for (c, &i) in order.iter().enumerate() {
        for r in 0..m {
            vecs[r * m + c] = v[r * m + i];
        }
    }
    (vals, vecs)
}

/// Orthonormalizes the `q` columns of `v` (`dim x q`, row-major) by modified Gram-Schmidt.
fn orthonormalize(v: &mut [f64], dim: usize, q: usize) {
    for c in 0..q {
        for p in 0..c {
            let dot: f64 = (0..dim).map(|r| v[r * q + c] * v[r * q + p]).sum();
            for r in 0..dim {
                v[r * q + c] -= dot * v[r * q + p];
            }
        }
        let norm = (0..dim)
            .map(|r| v[r * q + c] * v[r * q + c])
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for r in 0..dim {
                v[r * q + c] /= norm;
            }
        }
    }
}

/// The two leading eigenvectors of the symmetric `dim x dim` matrix `cov` (as two columns,
/// each with its largest-magnitude entry positive), by subspace iteration with a
/// Rayleigh-Ritz step (Jacobi on the small projected matrix).
fn leading_two(cov: &[f64], dim: usize) -> [Vec<f64>; 2] {
    let q = dim.min(8);
    let mut rng = ChaCha8Rng::seed_from_u64(0x7053_4e45);
    let mut v: Vec<f64> = (0..dim * q).map(|_| normal(&mut rng)).collect();
    orthonormalize(&mut v, dim, q);
    let mut w = vec![0f64; dim * q];
    let mut prev = [vec![0f64; dim], vec![0f64; dim]];
    let mut out = [vec![0f64; dim], vec![0f64; dim]];
    for it in 0..1000 {
        // w = cov v
        w.iter_mut().for_each(|x| *x = 0.0);
        for r in 0..dim {
            for (k, &c) in cov[r * dim..(r + 1) * dim].iter().enumerate() {
                for j in 0..q {
                    w[r * q + j] += c * v[k * q + j];
                }
            }
        }
        // Rayleigh-Ritz: h = vᵀ w, rotate v by h's eigenvectors.
        let mut h = vec![0f64; q * q];
        for a in 0..q {
            for b in 0..q {
                h[a * q + b] = (0..dim).map(|r| v[r * q + a] * w[r * q + b]).sum();
            }
        }
        for a in 0..q {
            for b in a + 1..q {
                let s = 0.5 * (h[a * q + b] + h[b * q + a]);
                h[a * q + b] = s;
                h[b * q + a] = s;
            }
        }
        let (_, e) = jacobi_eigen(h, q);
        for (c, o) in out.iter_mut().enumerate() {
            for (r, x) in o.iter_mut().enumerate() {
                *x = (0..q).map(|j| v[r * q + j] * e[j * q + c]).sum();
            }
            let big = o
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                o.iter_mut().for_each(|x| *x = -*x);
            }
        }
        let change = out
            .iter()
            .zip(&prev)
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        if it > 0 && change < 1e-12 {
            break;
        }
        prev.clone_from(&out);
        v.copy_from_slice(&w);
        orthonormalize(&mut v, dim, q);
    }
    out
}

/// The data projected on its first two principal components, scaled so the first coordinate
/// has standard deviation [`INIT_STD`], plus Gaussian jitter of 1% of that (seeded), as
/// openTSNE's default initialization. `None` when the data has no spread.
pub(crate) fn pca_init(data: &[f32], n: usize, dim: usize, seed: u64) -> Option<Vec<[f64; 2]>> {
    let (mean, cov) = covariance(data, n, dim);
    let [e0, e1] = leading_two(&cov, dim);
    let mut y: Vec<[f64; 2]> = data
        .par_chunks(dim)
        .map(|row| {
            let (mut a, mut b) = (0.0, 0.0);
            for ((&x, m), (u, v)) in row.iter().zip(&mean).zip(e0.iter().zip(&e1)) {
                let c = f64::from(x) - m;
                a += c * u;
                b += c * v;
            }
            [a, b]
        })
        .collect();
    let m0 = y.iter().map(|p| p[0]).sum::<f64>() / n as f64;
    let sd = (y.iter().map(|p| (p[0] - m0).powi(2)).sum::<f64>() / n as f64).sqrt();
    if !(sd.is_finite() && sd > 0.0) {
        return None;
    }
    let scale = INIT_STD / sd;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in &mut y {
        p[0] = p[0] * scale + 0.01 * INIT_STD * normal(&mut rng);
        p[1] = p[1] * scale + 0.01 * INIT_STD * normal(&mut rng);
    }
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_principal_axes() {
        // Points spread mostly along (1, 1, 0, 0) then (0, 0, 1, -1), plus noise.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n, dim) = (2000, 4);
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let (a, b) = (5.0 * normal(&mut rng), 2.0 * normal(&mut rng));
            let e = |rng: &mut ChaCha8Rng| 0.1 * normal(rng);
            data.extend(
                [
                    a + e(&mut rng),
                    a + e(&mut rng),
                    b + e(&mut rng),
                    -b + e(&mut rng),
                ]
                .map(|x| x as f32),
            );
        }
        let (_, cov) = covariance(&data, n, dim);
        let [e0, e1] = leading_two(&cov, dim);
        let s = 0.5f64.sqrt();
        for (got, want) in e0.iter().zip([s, s, 0.0, 0.0]) {
            assert!((got - want).abs() < 0.01, "{e0:?}");
        }
        // (The sign follows the largest entry, which noise decides here.)
        let sign = e1[2].signum();
        for (got, want) in e1.iter().zip([0.0, 0.0, s, -s]) {
            assert!((sign * got - want).abs() < 0.01, "{e1:?}");
        }
        // Against Jacobi on the whole matrix.
        let (vals, vecs) = jacobi_eigen(cov.clone(), dim);
        assert!(vals[0] > vals[1] && vals[1] > vals[2]);
        let dot: f64 = (0..dim).map(|r| vecs[r * dim] * e0[r]).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-9);
        let y = pca_init(&data, n, dim, 1).unwrap();
        let sd = (y.iter().map(|p| p[0] * p[0]).sum::<f64>() / n as f64).sqrt();
        assert!((sd / INIT_STD - 1.0).abs() < 0.01, "{sd}");
    }

    #[test]
    fn flat_data_has_no_pca_init() {
        assert!(pca_init(&[1.0; 40], 10, 4, 0).is_none());
    }
}
