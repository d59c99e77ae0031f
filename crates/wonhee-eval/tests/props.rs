//! Property tests: metrics stay in range and nothing panics on arbitrary labels and windows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use wonhee_eval::{
    Bootstrap, Estimate, classification_report, last_value, linear_fill, masked_errors, mean_fill,
    previous_beat, zero_fill,
};

fn in_unit(e: &Estimate) -> bool {
    [e.value, e.lo, e.hi]
        .iter()
        .flatten()
        .all(|v| (0.0..=1.0).contains(v))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn classification_metrics_stay_in_unit_interval(
        n_classes in 1usize..7,
        pairs in prop::collection::vec((0u8..7, 0u8..7, 0u32..4), 0..120),
        seed in any::<u64>(),
        grouped in any::<bool>(),
    ) {
        let names: Vec<String> = ["N", "S", "V", "F", "Q", "P", "X"][..n_classes]
            .iter().map(|s| s.to_string()).collect();
        let c = n_classes as u8;
        let t: Vec<u8> = pairs.iter().map(|p| p.0 % c).collect();
        let pr: Vec<u8> = pairs.iter().map(|p| p.1 % c).collect();
        let g: Vec<u32> = pairs.iter().map(|p| p.2).collect();
        let r = classification_report(
            &t, &pr, &names, grouped.then_some(&g[..]), &Bootstrap::new(30, seed),
        ).unwrap();
        prop_assert!(in_unit(&r.accuracy) && in_unit(&r.balanced_accuracy) && in_unit(&r.macro_f1));
        let mut total = 0;
        for k in &r.per_class {
            for e in [k.sensitivity, k.positive_predictivity, k.specificity, k.fpr, k.f1] {
                prop_assert!(in_unit(&e));
                if let (Some(lo), Some(hi)) = (e.lo, e.hi) {
                    prop_assert!(lo <= hi);
                }
            }
            prop_assert_eq!(k.tp + k.fp + k.fn_ + k.tn, r.n);
            if let (Some(s), Some(f)) = (k.specificity.value, k.fpr.value) {
                prop_assert!((s + f - 1.0).abs() < 1e-12);
            }
            total += k.support;
        }
        prop_assert_eq!(total, t.len() as u64);
        if let Some(a) = &r.aami {
            prop_assert!(in_unit(&a.accuracy));
            for k in &a.classes {
                prop_assert!(in_unit(&k.sensitivity) && in_unit(&k.positive_predictivity) && in_unit(&k.fpr));
            }
            prop_assert_eq!(a.n_beats + a.excluded, r.n);
        }
        let json = serde_json::to_string(&r).unwrap();
        prop_assert!(!json.contains("NaN"));
    }

    #[test]
    fn baselines_never_panic_and_keep_observed_points(
        w in prop::collection::vec(-10.0f32..10.0, 1..80),
        m in prop::collection::vec(any::<bool>(), 80),
        rr in 0usize..100,
    ) {
        let mask = &m[..w.len()];
        let any_observed = mask.iter().any(|h| !h);
        for out in [
            zero_fill(&w, mask),
            mean_fill(&w, mask),
            linear_fill(&w, mask),
            last_value(&w, mask),
            previous_beat(&w, mask, rr).map(|x| x.0),
        ] {
            match out {
                Ok(o) => {
                    prop_assert_eq!(o.len(), w.len());
                    for i in 0..w.len() {
                        prop_assert!(o[i].is_finite());
                        if !mask[i] { prop_assert_eq!(o[i], w[i]); }
                    }
                }
                Err(_) => prop_assert!(!any_observed),
            }
        }
        // Linear interpolation stays within the range of the observed values.
        if let Ok(o) = linear_fill(&w, mask) {
            let obs: Vec<f32> = w.iter().zip(mask).filter(|x| !x.1).map(|x| *x.0).collect();
            let (lo, hi) = obs.iter().fold((f32::MAX, f32::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
            prop_assert!(o.iter().all(|&v| v >= lo - 1e-5 && v <= hi + 1e-5));
            let e = masked_errors(&o, &w, mask).unwrap();
            prop_assert!(e.sse >= 0.0 && e.sae >= 0.0);
        }
    }
}
