//! Quality of an embedding: trustworthiness and k-nearest-neighbour label accuracy.

use rayon::prelude::*;

use crate::error::{Result, TsneError};
use crate::knn::{sq_dist, sq_dist_f64};

/// Rows per parallel task.
const CHUNK: usize = 64;

/// The `k` nearest neighbours (excluding itself) of every embedded point, by `(squared
/// distance, index)`: `n x k`, row-major, nearest first.
pub fn embedding_neighbours(embedding: &[[f64; 2]], k: usize) -> Result<Vec<u32>> {
    let n = embedding.len();
    if k == 0 || k >= n {
        return Err(TsneError::Param(format!(
            "k = {k} neighbours needs 1 <= k < n = {n}"
        )));
    }
    check_finite(embedding)?;
    let mut out = vec![0u32; n * k];
    out.par_chunks_mut(CHUNK * k)
        .enumerate()
        .for_each(|(c, o)| {
            let mut d: Vec<(f64, u32)> = Vec::with_capacity(n);
            for (r, row) in o.chunks_mut(k).enumerate() {
                let i = c * CHUNK + r;
                let p = embedding[i];
                d.clear();
                d.extend(
                    embedding
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(j, q)| {
                            let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                            (dx * dx + dy * dy, j as u32)
                        }),
                );
                let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                d.select_nth_unstable_by(k - 1, cmp);
                d[..k].sort_by(cmp);
                for (o, e) in row.iter_mut().zip(&d[..k]) {
                    *o = e.1;
                }
            }
        });
    Ok(out)
}

fn check_finite(embedding: &[[f64; 2]]) -> Result<()> {
    for (i, p) in embedding.iter().enumerate() {
        for (d, &v) in p.iter().enumerate() {
            if !v.is_finite() {
                return Err(TsneError::NonFinite {
                    point: i,
                    feature: d,
                    value: v,
                });
            }
        }
    }
    Ok(())
}

/// Trustworthiness (Venna & Kaski; as `sklearn.manifold.trustworthiness`, Euclidean): how
/// far the embedding's `k` nearest neighbours of each point lie beyond its `k` nearest in the
/// input, `1 - 2 / (n k (2n - 3k - 1)) Σᵢ Σ_{j ∈ Uᵢ} (r(i, j) - k)`, where `r(i, j)` is `j`'s
/// rank among `i`'s input-space neighbours (ties by index) and `Uᵢ` the embedding neighbours
/// that are not input neighbours. 1 is perfect.
///
/// `data` is `n x dim`, row-major; needs `k < n / 2`. Costs `O(n² dim)`.
pub fn trustworthiness(data: &[f32], dim: usize, embedding: &[[f64; 2]], k: usize) -> Result<f64> {
    let n = embedding.len();
    if dim == 0 || data.len() != n * dim {
        return Err(TsneError::Shape(format!(
            "data has {} values; {n} embedded points of {dim} features need {}",
            data.len(),
            n * dim
        )));
    }
    if k == 0 || 2 * k >= n {
        return Err(TsneError::Param(format!(
            "trustworthiness needs 1 <= k < n / 2 (k = {k}, n = {n})"
        )));
    }
    crate::check_finite_data(data, dim)?;
    let emb = embedding_neighbours(embedding, k)?;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let penalties: Vec<u64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut d = vec![0f32; n];
            let mut total = 0u64;
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                let a = row(i);
                for (j, dj) in d.iter_mut().enumerate() {
                    *dj = sq_dist(a, row(j));
                }
                for &j in &emb[i * k..(i + 1) * k] {
                    let j = j as usize;
                    let dj = d[j];
                    // Rank of j: 1 + the points (other than i) nearer to i, ties by index.
                    // The f32 distances decide unless two are within their rounding error,
                    // where f64 ones do.
                    let tol = 1e-4 * dj + f32::MIN_POSITIVE;
                    let dj64 = sq_dist_f64(a, row(j));
                    let nearer = d
                        .iter()
                        .enumerate()
                        .filter(|&(l, &dl)| {
                            l != i
                                && l != j
                                && (dl < dj - tol
                                    || (dl <= dj + tol && {
                                        let dl64 = sq_dist_f64(a, row(l));
                                        dl64 < dj64 || (dl64 == dj64 && l < j)
                                    }))
                        })
                        .count();
                    total += (1 + nearer).saturating_sub(k) as u64;
                }
            }
            total
        })
        .collect();
    let t: u64 = penalties.iter().sum();
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - t as f64 * 2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)))
}

/// Leave-one-out `k`-nearest-neighbour accuracy in the embedding: the fraction of points whose
/// label equals the most common label among their `k` nearest other points (a tie goes to the
/// smallest label, as scikit-learn's `KNeighborsClassifier`).
pub fn knn_accuracy<L: Ord + Copy + Sync>(
    embedding: &[[f64; 2]],
    labels: &[L],
    k: usize,
) -> Result<f64> {
    let n = embedding.len();
    if labels.len() != n {
        return Err(TsneError::Shape(format!(
            "{} labels for {n} embedded points",
            labels.len()
        )));
    }
    let nb = embedding_neighbours(embedding, k)?;
    let hits = nb
        .par_chunks(k)
        .enumerate()
        .filter(|(i, row)| {
            let mut votes: Vec<L> = row.iter().map(|&j| labels[j as usize]).collect();
            votes.sort_unstable();
            let (mut best, mut best_count) = (votes[0], 0);
            let mut t = 0;
            while t < votes.len() {
                let run = votes[t..].iter().take_while(|&&v| v == votes[t]).count();
                if run > best_count {
                    (best, best_count) = (votes[t], run);
                }
                t += run;
            }
            best == labels[*i]
        })
        .count();
    Ok(hits as f64 / n as f64)
}
