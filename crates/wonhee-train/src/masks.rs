//! Which points the imputation and forecasting tasks hide.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Hides `k` distinct points chosen uniformly at random among `l` (a partial Fisher-Yates
/// shuffle). `true` = hidden.
pub fn random_mask(l: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let k = k.min(l);
    let mut idx: Vec<usize> = (0..l).collect();
    for i in 0..k {
        let j = rng.random_range(i..l);
        idx.swap(i, j);
    }
    let mut m = vec![false; l];
    for &i in &idx[..k] {
        m[i] = true;
    }
    m
}

/// Hides the trailing `k` of `l` points.
pub fn trailing_mask(l: usize, k: usize) -> Vec<bool> {
    let k = k.min(l);
    let mut m = vec![false; l];
    m[l - k..].fill(true);
    m
}

/// A number of hidden points, uniform in `[lo, hi]`.
pub fn draw_k(lo: usize, hi: usize, rng: &mut ChaCha8Rng) -> usize {
    rng.random_range(lo..=hi)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn masks_hide_exactly_k() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for k in [0, 1, 200, 540, 640] {
            let m = random_mask(640, k, &mut rng);
            assert_eq!(m.iter().filter(|&&b| b).count(), k);
        }
        let t = trailing_mask(640, 200);
        assert!(t[440..].iter().all(|&b| b) && t[..440].iter().all(|&b| !b));
        let mut a = ChaCha8Rng::seed_from_u64(5);
        let mut b = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(random_mask(640, 300, &mut a), random_mask(640, 300, &mut b));
        for _ in 0..100 {
            let k = draw_k(200, 540, &mut a);
            assert!((200..=540).contains(&k));
        }
    }
}
