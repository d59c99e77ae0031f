//! Exact k-nearest neighbours in the input space (squared Euclidean distance).
//!
//! Brute force, blocked for the cache and parallel over blocks of query rows. Candidates are
//! ranked with an f32 kernel; the `k` kept are then re-measured in f64 and ordered by
//! `(distance, index)`, so ties resolve the same way on every run and thread count.

use rayon::prelude::*;

/// Query rows per parallel task.
const ROWS: usize = 32;
/// Candidate columns per cache tile (512 x 128 features x 4 bytes = 256 KiB).
const COLS: usize = 512;

/// Squared Euclidean distance in f32, over 16 independent lanes (vectorizes on plain x86-64).
#[inline]
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, ra) = a.as_chunks::<16>();
    let (cb, rb) = b.as_chunks::<16>();
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..16 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        tail += d * d;
    }
    let mut s = [0f32; 4];
    for (l, v) in acc.iter().enumerate() {
        s[l % 4] += v;
    }
    ((s[0] + s[1]) + (s[2] + s[3])) + tail
}

/// Squared Euclidean distance of f32 vectors, accumulated in f64.
#[inline]
pub(crate) fn sq_dist_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// The `k` nearest neighbours of every point, row-major `n x k`, nearest first.
#[derive(Clone, Debug)]
pub(crate) struct Neighbours {
    /// Neighbours per point.
    pub k: usize,
    /// Neighbour indices.
    pub idx: Vec<u32>,
    /// Squared distances (f64), ascending within a row.
    pub d2: Vec<f64>,
}

/// Inserts `(d, j)` into `list` (sorted by distance, at most `k` long). Columns arrive in
/// ascending order, so an equal distance never displaces an earlier (smaller) index.
#[inline]
fn offer(list: &mut Vec<(f32, u32)>, k: usize, d: f32, j: u32) {
    if list.len() == k {
        match list.last() {
            Some(&(worst, _)) if d < worst => {
                list.pop();
            }
            _ => return,
        }
    }
    let at = list.partition_point(|e| e.0 <= d);
    list.insert(at, (d, j));
}

/// Exact `k` nearest neighbours (excluding the point itself) of the `n` rows of `data`
/// (`n x dim`, row-major). Requires `1 <= k < n`.
pub(crate) fn exact_knn(data: &[f32], n: usize, dim: usize, k: usize) -> Neighbours {
    let mut idx = vec![0u32; n * k];
    let mut d2 = vec![0f64; n * k];
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    idx.par_chunks_mut(ROWS * k)
        .zip(d2.par_chunks_mut(ROWS * k))
        .enumerate()
        .for_each(|(b, (ib, db))| {
            let r0 = b * ROWS;
            let rows = ib.len() / k;
            let mut best: Vec<Vec<(f32, u32)>> =
                (0..rows).map(|_| Vec::with_capacity(k + 1)).collect();
            for c0 in (0..n).step_by(COLS) {
                let c1 = (c0 + COLS).min(n);
                for (r, list) in best.iter_mut().enumerate() {
                    let i = r0 + r;
                    let a = row(i);
                    for j in c0..c1 {
                        if j != i {
                            offer(list, k, sq_dist(a, row(j)), j as u32);
                        }
                    }
                }
            }
            for (r, list) in best.iter().enumerate() {
                let i = r0 + r;
                let mut exact: Vec<(f64, u32)> = list
                    .iter()
                    .map(|&(_, j)| (sq_dist_f64(row(i), row(j as usize)), j))
                    .collect();
                exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (t, (d, j)) in exact.into_iter().enumerate() {
                    ib[r * k + t] = j;
                    db[r * k + t] = d;
                }
            }
        });
    Neighbours { k, idx, d2 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn matches_a_full_sort() {
        let (n, dim, k) = (300, 37, 9);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>() - 0.5).collect();
        let nb = exact_knn(&data, n, dim, k);
        for i in 0..n {
            let mut all: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        sq_dist_f64(&data[i * dim..(i + 1) * dim], &data[j * dim..(j + 1) * dim]),
                        j as u32,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (t, want) in all.iter().take(k).enumerate() {
                assert_eq!(nb.idx[i * k + t], want.1, "row {i} rank {t}");
                assert_eq!(nb.d2[i * k + t], want.0);
            }
        }
    }

    #[test]
    fn f32_kernel_agrees_with_f64() {
        let a: Vec<f32> = (0..131).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..131).map(|i| (i as f32 * 0.11).cos()).collect();
        let (x, y) = (f64::from(sq_dist(&a, &b)), sq_dist_f64(&a, &b));
        assert!((x - y).abs() < 1e-5 * y, "{x} vs {y}");
    }

    #[test]
    fn duplicate_points_break_ties_by_index() {
        // Four identical points and one far away: neighbours of 0 are 1, 2, 3 in that order.
        let data = [0f32, 0., 0., 0., 0., 0., 0., 0., 9., 9.];
        let nb = exact_knn(&data, 5, 2, 3);
        assert_eq!(&nb.idx[0..3], &[1, 2, 3]);
        assert_eq!(&nb.idx[3..6], &[0, 2, 3]);
        assert_eq!(&nb.idx[12..15], &[0, 1, 2]);
    }
}
