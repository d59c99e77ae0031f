//! Seeded index samplers: class-balanced weighted sampling with replacement, and shuffling.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use wonhee_schema::class_weight;

/// Position of a sampler's random stream, enough to resume it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// Seed the stream started from.
    pub seed: u64,
    /// Words consumed so far.
    pub word_pos: u128,
}

fn rng_at(state: RngState) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(state.seed);
    r.set_word_pos(state.word_pos);
    r
}

/// Draws indices with replacement, each with probability proportional to its weight.
#[derive(Clone, Debug)]
pub struct WeightedSampler {
    items: Vec<usize>,
    cumulative: Vec<f64>,
    seed: u64,
    rng: ChaCha8Rng,
}

impl WeightedSampler {
    /// A sampler over `items` with the given positive weights.
    pub fn new(items: Vec<usize>, weights: &[f64], seed: u64) -> Option<Self> {
        if items.is_empty()
            || items.len() != weights.len()
            || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
        {
            return None;
        }
        let mut acc = 0.0;
        let cumulative: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        if acc.is_nan() || acc <= 0.0 {
            return None;
        }
        Some(Self {
            items,
            cumulative,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Class-balanced: each item weighted by `1 / (count of its class among items)`, so every
    /// class present is drawn equally often in expectation.
    pub fn class_balanced(
        items: Vec<usize>,
        labels: &[u8],
        n_classes: usize,
        seed: u64,
    ) -> Option<Self> {
        Self::class_tempered(items, labels, n_classes, 1.0, seed)
    }

    /// Each item weighted by `count^-power` of its class ([`class_weight`], the one sampler-weight
    /// function of the workspace): `power` 1 is [`Self::class_balanced`],
    /// 0 is uniform over items, 0.5 draws each class in proportion to the square root of its size.
    pub fn class_tempered(
        items: Vec<usize>,
        labels: &[u8],
        n_classes: usize,
        power: f64,
        seed: u64,
    ) -> Option<Self> {
        let mut counts = vec![0usize; n_classes];
        for &i in &items {
            *counts.get_mut(usize::from(*labels.get(i)?))? += 1;
        }
        let weights: Vec<f64> = items
            .iter()
            .map(|&i| class_weight(counts[usize::from(labels[i])], power))
            .collect();
        Self::new(items, &weights, seed)
    }

    /// Draws `n` items.
    pub fn sample(&mut self, n: usize) -> Vec<usize> {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        (0..n)
            .map(|_| {
                let u: f64 = self.rng.random::<f64>() * total;
                let k = self
                    .cumulative
                    .partition_point(|&c| c <= u)
                    .min(self.items.len() - 1);
                self.items[k]
            })
            .collect()
    }

    /// Where the random stream stands (for checkpoints).
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.seed,
            word_pos: self.rng.get_word_pos(),
        }
    }

    /// Continues from a saved state.
    pub fn set_state(&mut self, state: RngState) {
        self.seed = state.seed;
        self.rng = rng_at(state);
    }
}

/// Plain seeded shuffling of a fixed set of indices, one permutation per epoch.
#[derive(Clone, Debug)]
pub struct Shuffler {
    items: Vec<usize>,
    seed: u64,
    rng: ChaCha8Rng,
}

impl Shuffler {
    /// A shuffler over `items`.
    pub fn new(items: Vec<usize>, seed: u64) -> Self {
        Self {
            items,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The next epoch's order.
    pub fn epoch(&mut self) -> Vec<usize> {
        let mut v = self.items.clone();
        v.shuffle(&mut self.rng);
        v
    }

    /// Where the random stream stands.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.seed,
            word_pos: self.rng.get_word_pos(),
        }
    }

    /// Continues from a saved state.
    pub fn set_state(&mut self, state: RngState) {
        self.seed = state.seed;
        self.rng = rng_at(state);
    }
}

/// Indices of a seeded class-balanced sample: `per_class` items drawn without replacement from
/// each class, or all items of a class that has no more than that.
///
/// Classes are visited in ascending label order, each drawing from one `ChaCha8Rng` stream
/// seeded with `seed` (a partial Fisher-Yates shuffle of the class's indices); the result is
/// sorted ascending. The same labels, `per_class` and seed give the same sample.
///
/// ```
/// let labels = [0u8, 0, 0, 0, 1, 1, 2];
/// let idx = wonhee_dataset::class_balanced_sample(&labels, 2, 7);
/// assert_eq!(idx.len(), 5); // 2 of class 0, 2 of class 1, the one of class 2
/// assert!(idx.contains(&6) && idx.contains(&4) && idx.contains(&5));
/// ```
pub fn class_balanced_sample<L: Ord + Copy>(
    labels: &[L],
    per_class: usize,
    seed: u64,
) -> Vec<usize> {
    let mut by_class: BTreeMap<L, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by_class.entry(l).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (_, mut members) in by_class {
        if members.len() > per_class {
            for t in 0..per_class {
                let j = rng.random_range(t..members.len());
                members.swap(t, j);
            }
            members.truncate(per_class);
        }
        out.extend(members);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_sampling_equalises_classes() {
        // 900 of class 0, 90 of class 1, 10 of class 2.
        let labels: Vec<u8> = (0..1000)
            .map(|i| {
                if i < 900 {
                    0
                } else if i < 990 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let mut s = WeightedSampler::class_balanced((0..1000).collect(), &labels, 3, 5).unwrap();
        let draws = s.sample(30_000);
        let mut counts = [0usize; 3];
        for d in &draws {
            counts[usize::from(labels[*d])] += 1;
        }
        for c in counts {
            assert!((c as f64 / 10_000.0 - 1.0).abs() < 0.05, "{counts:?}");
        }
    }

    #[test]
    fn sqrt_tempering_draws_classes_by_the_root_of_their_size() {
        // 900 of class 0, 100 of class 1: shares sqrt(900) : sqrt(100) = 30 : 10.
        let labels: Vec<u8> = (0..1000).map(|i| u8::from(i >= 900)).collect();
        let mut s =
            WeightedSampler::class_tempered((0..1000).collect(), &labels, 2, 0.5, 5).unwrap();
        let ones = s.sample(40_000).iter().filter(|&&d| labels[d] == 1).count();
        assert!((ones as f64 / 10_000.0 - 1.0).abs() < 0.05, "{ones}");
    }

    #[test]
    fn samplers_resume_exactly() {
        let labels = vec![0u8, 1, 1, 0, 2];
        let mut a = WeightedSampler::class_balanced((0..5).collect(), &labels, 3, 9).unwrap();
        let _ = a.sample(17);
        let st = a.state();
        let next = a.sample(50);
        let mut b = WeightedSampler::class_balanced((0..5).collect(), &labels, 3, 1).unwrap();
        b.set_state(st);
        assert_eq!(b.sample(50), next);

        let mut s = Shuffler::new((0..100).collect(), 3);
        let e1 = s.epoch();
        let st = s.state();
        let e2 = s.epoch();
        assert_ne!(e1, e2);
        let mut t = Shuffler::new((0..100).collect(), 3);
        t.set_state(st);
        assert_eq!(t.epoch(), e2);
        let mut sorted = e1.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn bad_weights_are_refused() {
        assert!(WeightedSampler::new(vec![1, 2], &[1.0], 0).is_none());
        assert!(WeightedSampler::new(vec![1], &[f64::NAN], 0).is_none());
        assert!(WeightedSampler::new(vec![1], &[0.0], 0).is_none());
        assert!(WeightedSampler::class_balanced(vec![7], &[0, 1], 2, 0).is_none());
    }

    #[test]
    fn caps_each_class_and_is_seeded() {
        let labels: Vec<u8> = (0..1000).map(|i| if i % 10 == 0 { 1 } else { 0 }).collect();
        let a = class_balanced_sample(&labels, 50, 3);
        assert_eq!(a.len(), 100);
        assert_eq!(a.iter().filter(|&&i| labels[i] == 1).count(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, class_balanced_sample(&labels, 50, 3));
        assert_ne!(a, class_balanced_sample(&labels, 50, 4));
        // A class smaller than the cap is taken whole.
        let b = class_balanced_sample(&labels, 200, 3);
        assert_eq!(b.iter().filter(|&&i| labels[i] == 1).count(), 100);
        assert_eq!(b.len(), 300);
        assert!(class_balanced_sample::<u8>(&[], 5, 0).is_empty());
    }
}
