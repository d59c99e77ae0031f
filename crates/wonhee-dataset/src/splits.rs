//! Train/test splits: the paper's random beat split, de Chazal's inter-patient split, and
//! record-wise folds. All seeded, all recorded in the prepared dataset.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use wonhee_schema::{Side, SplitKind};

/// DS1 (training records) of de Chazal, O'Dwyer and Reilly, IEEE TBME 51(7), 2004.
pub const DS1: [&str; 22] = [
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201",
    "203", "205", "207", "208", "209", "215", "220", "223", "230",
];
/// DS2 (test records) of de Chazal et al. 2004.
pub const DS2: [&str; 22] = [
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213",
    "214", "219", "221", "222", "228", "231", "232", "233", "234",
];
/// Records with paced rhythm, excluded from the inter-patient protocol (AAMI EC57).
pub const PACED: [&str; 4] = ["102", "104", "107", "217"];

/// Side of each record for the record-level splits; `None` = excluded. `records` in database
/// order; the result is aligned with it.
pub fn record_sides(kind: &SplitKind, records: &[String], seed: u64) -> Vec<Option<Side>> {
    match kind {
        SplitKind::Paper { .. } => vec![Some(Side::Train); records.len()],
        SplitKind::InterPatient => records
            .iter()
            .map(|r| {
                if DS1.contains(&r.as_str()) {
                    Some(Side::Train)
                } else if DS2.contains(&r.as_str()) {
                    Some(Side::Test)
                } else {
                    None
                }
            })
            .collect(),
        SplitKind::RecordFolds { k } => {
            let mut eligible: Vec<usize> = (0..records.len())
                .filter(|&i| !PACED.contains(&records[i].as_str()))
                .collect();
            eligible.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let mut out = vec![None; records.len()];
            for (pos, &i) in eligible.iter().enumerate() {
                out[i] = Some(Side::Fold((pos % (*k).max(1)) as u8));
            }
            out
        }
    }
}

/// The paper's split: for each class, a seeded shuffle of its beats (in index order) sends
/// `round(test_fraction * n_class)` of them to the test side.
pub fn stratified_sides(
    labels: &[u8],
    n_classes: usize,
    test_fraction: f64,
    seed: u64,
) -> Vec<Side> {
    let mut sides = vec![Side::Train; labels.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for c in 0..n_classes {
        let mut idx: Vec<usize> = (0..labels.len())
            .filter(|&i| usize::from(labels[i]) == c)
            .collect();
        idx.shuffle(&mut rng);
        let n_test = (test_fraction * idx.len() as f64).round() as usize;
        for &i in &idx[..n_test.min(idx.len())] {
            sides[i] = Side::Test;
        }
    }
    sides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn de_chazal_lists_are_disjoint_and_complete() {
        let mut all: Vec<&str> = DS1.iter().chain(&DS2).chain(&PACED).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 48);
    }

    #[test]
    fn stratified_split_is_exact_per_class_and_seeded() {
        let labels: Vec<u8> = (0..1000).map(|i| if i % 10 == 0 { 1 } else { 0 }).collect();
        let a = stratified_sides(&labels, 2, 0.2, 7);
        assert_eq!(a, stratified_sides(&labels, 2, 0.2, 7));
        assert_ne!(a, stratified_sides(&labels, 2, 0.2, 8));
        let test_of = |c: u8| {
            (0..1000)
                .filter(|&i| labels[i] == c && a[i] == Side::Test)
                .count()
        };
        assert_eq!(test_of(0), 180);
        assert_eq!(test_of(1), 20);
    }

    #[test]
    fn folds_cover_non_paced_records() {
        let recs: Vec<String> = DS1
            .iter()
            .chain(&DS2)
            .chain(&PACED)
            .map(|s| s.to_string())
            .collect();
        let s = record_sides(&SplitKind::RecordFolds { k: 5 }, &recs, 1);
        assert_eq!(s.iter().filter(|x| x.is_none()).count(), 4);
        for k in 0..5 {
            let n = s.iter().filter(|x| **x == Some(Side::Fold(k))).count();
            assert!(n == 8 || n == 9, "fold {k}: {n}");
        }
        assert_eq!(Side::parse(&Side::Fold(3).name()), Some(Side::Fold(3)));
    }
}
