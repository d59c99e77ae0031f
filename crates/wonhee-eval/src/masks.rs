//! Which points the imputation and forecasting tasks hide (`true` = hidden): the one masks
//! module of the workspace, used by training, validation and evaluation alike.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{EvalError, Result};

/// The K values of the evaluation protocol.
pub const EVAL_KS: [usize; 3] = [200, 370, 540];

/// A number of hidden points, uniform in `[lo, hi]` (training draws one per window and task
/// from the run's range, 200..=540 by default).
pub fn draw_k<R: Rng + ?Sized>(lo: usize, hi: usize, rng: &mut R) -> usize {
    rng.random_range(lo..=hi)
}

fn check_k(l: usize, k: usize) -> Result<()> {
    if k > l {
        return Err(EvalError::InvalidMask(format!(
            "cannot hide {k} points of a {l}-point window"
        )));
    }
    Ok(())
}

/// `k` distinct points of an `l`-point window hidden, chosen uniformly at random by a partial
/// Fisher-Yates shuffle: for `i` in `0..k`, position `i` swaps with one drawn from `i..l`, and
/// the first `k` positions are hidden.
///
/// Training, validation and the evaluation protocol all hide points with this function. (For
/// `k >= 18` of `l = 640` it draws exactly what `rand::seq::index::sample` draws, which the
/// evaluation protocol used before; tested.)
pub fn random_mask<R: Rng + ?Sized>(l: usize, k: usize, rng: &mut R) -> Result<Vec<bool>> {
    check_k(l, k)?;
    let mut idx: Vec<usize> = (0..l).collect();
    for i in 0..k {
        let j = rng.random_range(i..l);
        idx.swap(i, j);
    }
    let mut m = vec![false; l];
    for &i in &idx[..k] {
        m[i] = true;
    }
    Ok(m)
}

/// The last `k` points of an `l`-point window hidden (forecasting).
pub fn trailing_mask(l: usize, k: usize) -> Result<Vec<bool>> {
    check_k(l, k)?;
    Ok((0..l).map(|i| i >= l - k).collect())
}

/// SplitMix64 finalizer: decorrelates (seed, K) before seeding ChaCha.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The evaluation protocol: for each K in `ks`, imputation hides K random points of every test
/// window and forecasting hides the trailing K points.
///
/// The random mask of a window depends only on (`seed`, K, window id) — ChaCha8 seeded with
/// `splitmix64(seed ^ splitmix64(K))`, stream = window id — so it is the same whatever the
/// batch size, order or thread count, and `wonhee eval` and `wonhee impute` can reproduce it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalProtocol {
    /// Seed of the imputation masks.
    pub seed: u64,
    /// K values evaluated.
    pub ks: Vec<usize>,
}

impl EvalProtocol {
    /// The protocol with K in [`EVAL_KS`].
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ks: EVAL_KS.to_vec(),
        }
    }

    /// Imputation mask of window `window_id` (use a stable id, e.g. the dataset window index).
    pub fn imputation_mask(&self, l: usize, k: usize, window_id: u64) -> Result<Vec<bool>> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(k as u64)));
        rng.set_stream(window_id);
        random_mask(l, k, &mut rng)
    }

    /// Forecasting mask: the trailing `k` points.
    pub fn forecast_mask(&self, l: usize, k: usize) -> Result<Vec<bool>> {
        trailing_mask(l, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(m: &[bool]) -> usize {
        m.iter().filter(|&&h| h).count()
    }

    #[test]
    fn random_mask_hides_exactly_k_and_is_seeded() {
        for k in [0, 1, 200, 370, 540, 640] {
            let mut r1 = ChaCha8Rng::seed_from_u64(9);
            let mut r2 = ChaCha8Rng::seed_from_u64(9);
            let a = random_mask(640, k, &mut r1).unwrap();
            assert_eq!(a.len(), 640);
            assert_eq!(hidden(&a), k);
            assert_eq!(a, random_mask(640, k, &mut r2).unwrap());
        }
        let mut r = ChaCha8Rng::seed_from_u64(9);
        let mut s = ChaCha8Rng::seed_from_u64(10);
        assert_ne!(
            random_mask(640, 300, &mut r).unwrap(),
            random_mask(640, 300, &mut s).unwrap()
        );
        assert!(random_mask(10, 11, &mut r).is_err());
    }

    #[test]
    fn trailing_mask_hides_the_last_k() {
        let m = trailing_mask(640, 200).unwrap();
        assert_eq!(hidden(&m), 200);
        assert!(m[440..].iter().all(|&h| h) && m[..440].iter().all(|&h| !h));
        assert!(trailing_mask(5, 6).is_err());
    }

    #[test]
    fn draw_k_covers_the_range() {
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let ks: Vec<usize> = (0..5000).map(|_| draw_k(200, 540, &mut r)).collect();
        assert!(ks.iter().all(|k| (200..=540).contains(k)));
        assert_eq!(*ks.iter().min().unwrap(), 200);
        assert_eq!(*ks.iter().max().unwrap(), 540);
    }

    #[test]
    fn random_mask_draws_what_index_sample_drew_for_the_protocols_k() {
        // The evaluation protocol's masks were drawn with `rand::seq::index::sample` before
        // training and evaluation shared one function; for every K >= 18 of a 640-point window
        // (the protocol's K are 200, 370, 540) the two draws are the same.
        for k in 18..=640 {
            let mut a = ChaCha8Rng::seed_from_u64(k as u64);
            let mut b = ChaCha8Rng::seed_from_u64(k as u64);
            let mut old = vec![false; 640];
            for i in rand::seq::index::sample(&mut b, 640, k) {
                old[i] = true;
            }
            assert_eq!(random_mask(640, k, &mut a).unwrap(), old, "k = {k}");
        }
    }

    #[test]
    fn protocol_masks_depend_on_seed_k_and_window_only() {
        let p = EvalProtocol::new(42);
        assert_eq!(p.ks, vec![200, 370, 540]);
        let a = p.imputation_mask(640, 200, 17).unwrap();
        assert_eq!(hidden(&a), 200);
        assert_eq!(a, p.imputation_mask(640, 200, 17).unwrap());
        assert_ne!(a, p.imputation_mask(640, 200, 18).unwrap());
        assert_ne!(
            a,
            EvalProtocol::new(43).imputation_mask(640, 200, 17).unwrap()
        );
        // Different K: different draw, not a prefix of the same one.
        let b = p.imputation_mask(640, 370, 17).unwrap();
        assert_eq!(hidden(&b), 370);
        assert_eq!(
            p.forecast_mask(640, 540).unwrap(),
            trailing_mask(640, 540).unwrap()
        );
    }
}
