//! Bootstrap behaviour: determinism, coverage of the point estimate, narrowing with n, and the
//! cluster (group) bootstrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wonhee_eval::{Bootstrap, ClassificationReport, Estimate, Unit, classification_report};

fn names() -> Vec<String> {
    ["N", "S", "V", "F", "Q"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Labels from an imbalanced distribution, predictions correct with probability `acc`.
fn labels(n: usize, acc: f64, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let draw = |r: &mut ChaCha8Rng| -> u8 {
        let u: f64 = r.random();
        [0.7, 0.82, 0.92, 0.96, 1.0]
            .iter()
            .position(|&c| u < c)
            .unwrap() as u8
    };
    let t: Vec<u8> = (0..n).map(|_| draw(&mut r)).collect();
    let p = t
        .iter()
        .map(|&y| {
            if r.random::<f64>() < acc {
                y
            } else {
                draw(&mut r)
            }
        })
        .collect();
    (t, p)
}

fn all_estimates(r: &ClassificationReport) -> Vec<Estimate> {
    let mut v = vec![r.accuracy, r.balanced_accuracy, r.macro_f1];
    for k in &r.per_class {
        v.extend([
            k.sensitivity,
            k.positive_predictivity,
            k.specificity,
            k.fpr,
            k.f1,
        ]);
    }
    if let Some(a) = &r.aami {
        v.push(a.accuracy);
        for c in &a.classes {
            v.extend([c.sensitivity, c.positive_predictivity, c.fpr]);
        }
    }
    v
}

#[test]
fn same_seed_same_intervals_other_seed_other_intervals() {
    let (t, p) = labels(2000, 0.9, 1);
    let b = Bootstrap::new(300, 17);
    let a1 = classification_report(&t, &p, &names(), None, &b).unwrap();
    let a2 = classification_report(&t, &p, &names(), None, &b).unwrap();
    assert_eq!(a1, a2);
    // Also with a different rayon pool size: resample b has its own stream.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let a3 = pool.install(|| classification_report(&t, &p, &names(), None, &b).unwrap());
    assert_eq!(a1, a3);
    let c = classification_report(&t, &p, &names(), None, &Bootstrap::new(300, 18)).unwrap();
    assert_eq!(c.accuracy.value, a1.accuracy.value);
    assert_ne!(c.accuracy.lo, a1.accuracy.lo);
}

#[test]
fn intervals_contain_the_point_estimate() {
    let (t, p) = labels(3000, 0.85, 2);
    let r = classification_report(&t, &p, &names(), None, &Bootstrap::default()).unwrap();
    for (i, e) in all_estimates(&r).iter().enumerate() {
        let (v, lo, hi) = (e.value.unwrap(), e.lo.unwrap(), e.hi.unwrap());
        assert!(lo <= v && v <= hi, "estimate {i}: {lo} <= {v} <= {hi}");
        assert!(lo < hi, "estimate {i} has a degenerate interval");
    }
    // A 50% interval lies inside the 95% one.
    let narrow = Bootstrap {
        level: 0.5,
        ..Bootstrap::default()
    };
    let r50 = classification_report(&t, &p, &names(), None, &narrow).unwrap();
    assert!(r50.accuracy.lo.unwrap() > r.accuracy.lo.unwrap());
    assert!(r50.accuracy.hi.unwrap() < r.accuracy.hi.unwrap());
}

#[test]
fn interval_narrows_with_n() {
    let width = |n: usize| {
        let (t, p) = labels(n, 0.8, 3);
        let r = classification_report(&t, &p, &names(), None, &Bootstrap::new(400, 4)).unwrap();
        r.accuracy.hi.unwrap() - r.accuracy.lo.unwrap()
    };
    let (w1, w2) = (width(400), width(6400));
    // Width ~ 1/sqrt(n): 16x the data -> about 4x narrower.
    assert!(w2 < w1 / 2.5, "{w1} vs {w2}");
    // And it agrees with the normal approximation 2*1.96*sqrt(p(1-p)/n) for accuracy.
    let (t, p) = labels(6400, 0.8, 3);
    let acc = t.iter().zip(&p).filter(|(a, b)| a == b).count() as f64 / 6400.0;
    let normal = 2.0 * 1.96 * (acc * (1.0 - acc) / 6400.0).sqrt();
    assert!((w2 / normal - 1.0).abs() < 0.15, "{w2} vs normal {normal}");
}

#[test]
fn cluster_bootstrap_is_wider_for_heterogeneous_groups() {
    // 20 records of 200 beats; accuracy differs a lot between records (0.5 .. 0.99).
    let (mut t, mut p, mut g) = (Vec::new(), Vec::new(), Vec::new());
    for rec in 0..20u32 {
        let acc = 0.5 + 0.49 * f64::from(rec % 5) / 4.0;
        let (tt, pp) = labels(200, acc, 100 + u64::from(rec));
        t.extend(tt);
        p.extend(pp);
        g.extend(std::iter::repeat_n(rec * 7 + 1000, 200)); // arbitrary, sparse ids
    }
    let b = Bootstrap::new(500, 5);
    let w = classification_report(&t, &p, &names(), None, &b).unwrap();
    let c = classification_report(&t, &p, &names(), Some(&g), &b).unwrap();
    assert_eq!(w.bootstrap.unit, Unit::Window);
    assert_eq!(w.bootstrap.n_units, 4000);
    assert_eq!(c.bootstrap.unit, Unit::Group);
    assert_eq!(c.bootstrap.n_units, 20);
    // Same point estimates, different intervals: the cluster one is much wider.
    assert_eq!(w.accuracy.value, c.accuracy.value);
    assert_eq!(w.confusion, c.confusion);
    let width = |e: &Estimate| e.hi.unwrap() - e.lo.unwrap();
    assert!(
        width(&c.accuracy) > 2.0 * width(&w.accuracy),
        "cluster {:?} vs window {:?}",
        c.accuracy,
        w.accuracy
    );
    // Homogeneous groups: both bootstraps agree roughly.
    let (t, p) = labels(4000, 0.8, 9);
    let g: Vec<u32> = (0..4000u32).map(|i| i / 200).collect();
    let w = classification_report(&t, &p, &names(), None, &b).unwrap();
    let c = classification_report(&t, &p, &names(), Some(&g), &b).unwrap();
    let ratio = width(&c.accuracy) / width(&w.accuracy);
    assert!((0.6..1.6).contains(&ratio), "{ratio}");
}

#[test]
fn zero_resamples_give_no_intervals() {
    let (t, p) = labels(100, 0.9, 6);
    let r = classification_report(&t, &p, &names(), None, &Bootstrap::new(0, 0)).unwrap();
    for e in all_estimates(&r) {
        assert!(e.value.is_some() && e.lo.is_none() && e.hi.is_none());
    }
}
