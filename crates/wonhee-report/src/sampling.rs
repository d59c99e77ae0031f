//! What the training sampler does to the class distribution, for the class-distribution
//! figure: the training side's counts per class, and the expected draws per class under the
//! run's sampler.
//!
//! The sampler's weights are the trainer's own: [`SamplerKind::class_power`] and
//! [`wonhee_schema::class_weight`], so the figure shows what training drew.

use wonhee_schema::{SamplerKind, class_weight};

use crate::load::DatasetSummary;

/// Class counts of the training side of a dataset: the `train` side, or (record folds) every
/// fold except the run's held-out one.
pub fn train_counts(d: &DatasetSummary, fold: Option<u8>) -> Vec<usize> {
    let s = &d.summary;
    let mut counts = vec![0; s.classes.len()];
    for (side, sum) in &s.splits {
        let use_it = match fold {
            _ if side == "train" => true,
            Some(f) => side.starts_with("fold") && *side != format!("fold{f}"),
            None => false,
        };
        if use_it {
            for (c, n) in counts.iter_mut().zip(&sum.per_class) {
                *c += n;
            }
        }
    }
    counts
}

/// Expected draws per class under the class-balanced sampler over as many draws as there are
/// training windows: equal for every class present, zero for absent ones.
pub fn balanced_counts(before: &[usize]) -> Vec<f64> {
    tempered_counts(before, SamplerKind::Balanced.class_power())
}

/// Expected draws per class over as many draws as there are training windows when each window
/// is drawn with weight [`class_weight`]`(count, power)` of its class (1: balanced; 0.5: the
/// `sqrt` sampler; 0: uniform, the counts themselves). A class's share of the draws is
/// `count * class_weight(count, power)`; absent classes get none.
pub fn tempered_counts(before: &[usize], power: f64) -> Vec<f64> {
    let total: usize = before.iter().sum();
    let share: Vec<f64> = before
        .iter()
        .map(|&n| {
            if n > 0 {
                n as f64 * class_weight(n, power)
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = share.iter().sum();
    share
        .iter()
        .map(|s| {
            if sum > 0.0 {
                s / sum * total as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// Expected draws per class under `sampler` ([`tempered_counts`] with its class power).
pub fn sampler_counts(before: &[usize], sampler: SamplerKind) -> Vec<f64> {
    tempered_counts(before, sampler.class_power())
}

/// How captions name a sampler (`the class-balanced sampler`, ...).
pub fn sampler_caption(sampler: SamplerKind) -> &'static str {
    match sampler {
        SamplerKind::Balanced => "the class-balanced sampler",
        SamplerKind::Sqrt => "the sqrt-tempered sampler",
        SamplerKind::Shuffle => "shuffling (no re-weighting)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempered_counts_follow_the_root_of_the_class_size() {
        let c = tempered_counts(&[900, 100, 0], 0.5);
        assert!((c[0] - 750.0).abs() < 1e-9 && (c[1] - 250.0).abs() < 1e-9 && c[2] == 0.0);
        assert_eq!(tempered_counts(&[3, 1], 0.0), [3.0, 1.0]);
    }

    #[test]
    fn balanced_counts_are_equal_over_present_classes() {
        let got = balanced_counts(&[90, 6, 0, 4]);
        let want = [100.0 / 3.0, 100.0 / 3.0, 0.0, 100.0 / 3.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn sampler_counts_use_the_trainers_class_power() {
        let before = [900, 100, 0];
        assert_eq!(
            sampler_counts(&before, SamplerKind::Sqrt),
            tempered_counts(&before, 0.5)
        );
        assert_eq!(
            sampler_counts(&before, SamplerKind::Shuffle),
            [900.0, 100.0, 0.0]
        );
    }
}
