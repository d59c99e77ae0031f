//! Seeded class-balanced subsampling (the input of the paper's t-SNE figure).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Indices of a seeded class-balanced sample: `per_class` items drawn without replacement from
/// each class, or all items of a class that has no more than that.
///
/// Classes are visited in ascending label order, each drawing from one `ChaCha8Rng` stream
/// seeded with `seed` (a partial Fisher-Yates shuffle of the class's indices); the result is
/// sorted ascending. The same labels, `per_class` and seed give the same sample.
///
/// ```
/// let labels = [0u8, 0, 0, 0, 1, 1, 2];
/// let idx = wonhee_tsne::class_balanced_sample(&labels, 2, 7);
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
