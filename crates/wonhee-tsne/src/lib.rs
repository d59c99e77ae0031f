//! Barnes-Hut t-SNE (van der Maaten 2014) for WonHEE-rs's figures, with the metrics that
//! judge an embedding.
//!
//! ```
//! use wonhee_tsne::{Tsne, knn_accuracy};
//!
//! // Two well separated Gaussian blobs in 10-D, 60 points each.
//! let (n, dim) = (120, 10);
//! let data: Vec<f32> = (0..n * dim)
//!     .map(|v| {
//!         let (i, f) = (v / dim, v % dim);
//!         let centre = if i < 60 { 0.0 } else { 8.0 };
//!         centre + ((i * 31 + f * 17) % 23) as f32 / 23.0
//!     })
//!     .collect();
//! let labels: Vec<u8> = (0..n).map(|i| u8::from(i >= 60)).collect();
//! let tsne = Tsne { perplexity: 10.0, iterations: 300, ..Tsne::default() };
//! let y = tsne.fit(&data, n, dim)?;
//! assert_eq!(y.len(), n);
//! assert_eq!(knn_accuracy(&y, &labels, 10)?, 1.0);
//! # Ok::<(), wonhee_tsne::TsneError>(())
//! ```
//!
//! What it does, in order:
//! 1. Exact `k = ⌊3 · perplexity⌋` nearest neighbours of every point (squared Euclidean;
//!    brute force, blocked and parallel).
//! 2. Per point, a binary search for the Gaussian bandwidth whose conditional distribution
//!    over those neighbours has perplexity `perplexity` (entropy within 1e-10 nats); then
//!    `P = (P_cond + P_condᵀ) / 2n`.
//! 3. Initial embedding: the first two principal components scaled to standard deviation
//!    1e-4 plus 1% seeded jitter (openTSNE's default), or a seeded Gaussian ([`Init`]).
//! 4. Gradient descent with momentum and per-coordinate gains (+0.2 / ×0.8, at least 0.01),
//!    steps longer than 5 clipped per point, the embedding re-centred each iteration:
//!    `early_exaggeration` (12) on `P` for the first 250 iterations with momentum 0.5, then
//!    momentum 0.8. The repulsion is estimated on a quadtree (Barnes-Hut, `theta` 0.5).
//!
//! The learning rate (openTSNE's convention: it multiplies the gradient *without* the factor 4
//! of the KL derivative, so scikit-learn's rate `r` is `4r` here) defaults to openTSNE's
//! `'auto'`: `n / exaggeration` of the current phase, i.e. `n / 12` while exaggerating and `n`
//! after.
//!
//! **Determinism.** Every parallel loop works on fixed-size chunks whose results are combined
//! in a fixed order, so the same data, parameters and seed give bit-identical coordinates on
//! any number of threads (on the same CPU and build).
//!
//! **Why our own and not the `bhtsne` crate** (0.7.13; read, not benchmarked): it reports bad
//! input (e.g. ragged neighbour lists) by panicking, and its parallel sums (rayon `sum`) are
//! split by the thread pool, so results can change with the number of threads. This crate
//! returns errors and is bit-identical across thread counts. Speed and quality against
//! openTSNE: `docs/bench/tsne.md`.

mod affinity;
mod error;
mod gradient;
mod knn;
mod metrics;
mod pca;
mod quadtree;

use std::time::Instant;

pub use error::{Result, TsneError};
pub use metrics::{embedding_neighbours, knn_accuracy, trustworthiness};

/// How the embedding starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Init {
    /// First two principal components, scaled to standard deviation 1e-4, with 1% jitter
    /// (falls back to [`Init::Random`] when the data has no spread).
    #[default]
    Pca,
    /// Isotropic Gaussian with standard deviation 1e-4.
    Random,
}

/// Where an optimisation stands, passed to the progress callback after every iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Iterations done.
    pub iteration: usize,
    /// Iterations in all.
    pub iterations: usize,
    /// `KL(P || Q)` (of the unexaggerated `P`) every 50 iterations and after the last.
    pub kl_divergence: Option<f64>,
}

/// Barnes-Hut t-SNE into two dimensions. Build with struct-update syntax over
/// [`Tsne::default`].
#[derive(Clone, Debug, PartialEq)]
pub struct Tsne {
    /// Effective number of neighbours (≥ 1); `⌊3 · perplexity⌋` neighbours enter `P`.
    pub perplexity: f64,
    /// Barnes-Hut accuracy: a cell is summarized when `side / distance < theta`; 0 is exact
    /// (`O(n²)` per iteration).
    pub theta: f64,
    /// Iterations in all, the early-exaggeration phase included.
    pub iterations: usize,
    /// Iterations with early exaggeration.
    pub early_exaggeration_iterations: usize,
    /// Factor on `P` during the early phase.
    pub early_exaggeration: f64,
    /// Factor on `P` afterwards (1 is plain t-SNE).
    pub exaggeration: f64,
    /// Step size; `None` is `n / exaggeration` of the current phase (openTSNE's `'auto'`).
    pub learning_rate: Option<f64>,
    /// Momentum during early exaggeration.
    pub momentum: f64,
    /// Momentum afterwards.
    pub final_momentum: f64,
    /// Initial embedding.
    pub init: Init,
    /// Seed of the initial embedding's random draws.
    pub seed: u64,
}

impl Default for Tsne {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            theta: 0.5,
            iterations: 750,
            early_exaggeration_iterations: 250,
            early_exaggeration: 12.0,
            exaggeration: 1.0,
            learning_rate: None,
            momentum: 0.5,
            final_momentum: 0.8,
            init: Init::Pca,
            seed: 0,
        }
    }
}

/// Longest step a point may take in one iteration.
const MAX_STEP: f64 = 5.0;
/// Smallest gain.
const MIN_GAIN: f64 = 0.01;
/// KL divergence reported every this many iterations.
const KL_EVERY: usize = 50;

/// Checks every value of `data` (`n x dim`) is finite.
pub(crate) fn check_finite_data(data: &[f32], dim: usize) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => Err(TsneError::NonFinite {
            point: at / dim,
            feature: at % dim,
            value: f64::from(data[at]),
        }),
    }
}

impl Tsne {
    /// Neighbours per point that `P` uses for this perplexity.
    pub fn neighbours(&self) -> usize {
        (3.0 * self.perplexity).floor() as usize
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64| Err(TsneError::Param(format!("{what} = {v}")));
        if !(self.perplexity.is_finite() && self.perplexity >= 1.0) {
            return bad("perplexity must be at least 1, not", self.perplexity);
        }
        if !(self.theta.is_finite() && self.theta >= 0.0) {
            return bad("theta must be finite and non-negative, not", self.theta);
        }
        if !(self.early_exaggeration.is_finite() && self.early_exaggeration > 0.0) {
            return bad(
                "early_exaggeration must be positive, not",
                self.early_exaggeration,
            );
        }
        if !(self.exaggeration.is_finite() && self.exaggeration > 0.0) {
            return bad("exaggeration must be positive, not", self.exaggeration);
        }
        if let Some(lr) = self.learning_rate
            && !(lr.is_finite() && lr > 0.0)
        {
            return bad("learning_rate must be positive, not", lr);
        }
        for (what, m) in [
            ("momentum", self.momentum),
            ("final_momentum", self.final_momentum),
        ] {
            if !(0.0..1.0).contains(&m) {
                return bad(&format!("{what} must be in [0, 1), not"), m);
            }
        }
        Ok(())
    }

    /// Embeds the `n` rows of `data` (`n x dim`, row-major) in two dimensions.
    pub fn fit(&self, data: &[f32], n: usize, dim: usize) -> Result<Vec<[f64; 2]>> {
        self.fit_with_progress(data, n, dim, |_| {})
    }

    /// [`Tsne::fit`], calling `progress` after every iteration.
    pub fn fit_with_progress<F: FnMut(&Progress)>(
        &self,
        data: &[f32],
        n: usize,
        dim: usize,
        mut progress: F,
    ) -> Result<Vec<[f64; 2]>> {
        self.validate()?;
        if dim == 0 || n.checked_mul(dim) != Some(data.len()) {
            return Err(TsneError::Shape(format!(
                "{} values are not {n} points x {dim} features",
                data.len()
            )));
        }
        let k = self.neighbours();
        if n <= k {
            return Err(TsneError::TooFewPoints {
                n,
                perplexity: self.perplexity,
                need: k + 1,
            });
        }
        check_finite_data(data, dim)?;

        let t0 = Instant::now();
        let nb = knn::exact_knn(data, n, dim, k);
        tracing::info!(
            n,
            dim,
            k,
            seconds = t0.elapsed().as_secs_f64(),
            "t-SNE: neighbours"
        );
        let t1 = Instant::now();
        let cond = affinity::conditional(&nb, self.perplexity);
        let p = affinity::symmetrize(&nb, &cond, n);
        drop((nb, cond));
        tracing::info!(
            nnz = p.val.len(),
            seconds = t1.elapsed().as_secs_f64(),
            "t-SNE: affinities"
        );

        let mut y = match self.init {
            Init::Pca => pca::pca_init(data, n, dim, self.seed).unwrap_or_else(|| {
                tracing::warn!("t-SNE: the data has no spread; random initialization");
                pca::random_init(n, self.seed)
            }),
            Init::Random => pca::random_init(n, self.seed),
        };
        let t2 = Instant::now();
        self.optimise(&p, &mut y, &mut progress);
        tracing::info!(
            iterations = self.iterations,
            seconds = t2.elapsed().as_secs_f64(),
            "t-SNE: optimisation"
        );
        Ok(y)
    }

    /// Gradient descent with momentum and gains from `y`.
    fn optimise<F: FnMut(&Progress)>(
        &self,
        p: &affinity::Csr,
        y: &mut [[f64; 2]],
        progress: &mut F,
    ) {
        let n = y.len();
        let mut grad = vec![[0f64; 2]; n];
        let mut update = vec![[0f64; 2]; n];
        let mut gains = vec![[1f64; 2]; n];
        for it in 0..self.iterations {
            let early = it < self.early_exaggeration_iterations;
            let (ex, momentum) = if early {
                (self.early_exaggeration, self.momentum)
            } else {
                (self.exaggeration, self.final_momentum)
            };
            let lr = self.learning_rate.unwrap_or(n as f64 / ex);
            let want_kl = (it + 1) % KL_EVERY == 0 || it + 1 == self.iterations;
            let kl = gradient::gradient(p, y, self.theta, ex, &mut grad, want_kl);
            for ((g, u), gain) in grad.iter().zip(update.iter_mut()).zip(gains.iter_mut()) {
                for d in 0..2 {
                    gain[d] = if (g[d] > 0.0) != (u[d] > 0.0) {
                        gain[d] + 0.2
                    } else {
                        (gain[d] * 0.8).max(MIN_GAIN)
                    };
                    u[d] = momentum * u[d] - lr * gain[d] * g[d];
                }
                let norm = (u[0] * u[0] + u[1] * u[1]).sqrt();
                if norm > MAX_STEP {
                    let s = MAX_STEP / norm;
                    u[0] *= s;
                    u[1] *= s;
                }
            }
            let mut mean = [0.0; 2];
            for (yi, u) in y.iter_mut().zip(&update) {
                yi[0] += u[0];
                yi[1] += u[1];
                mean[0] += yi[0];
                mean[1] += yi[1];
            }
            let mean = [mean[0] / n as f64, mean[1] / n as f64];
            for yi in y.iter_mut() {
                yi[0] -= mean[0];
                yi[1] -= mean[1];
            }
            let kl_divergence = kl;
            if let Some(kl) = kl_divergence {
                tracing::trace!(iteration = it + 1, kl, "t-SNE");
            }
            progress(&Progress {
                iteration: it + 1,
                iterations: self.iterations,
                kl_divergence,
            });
        }
    }
}
