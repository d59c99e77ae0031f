//! The public API end to end: separation, determinism, errors, metrics against scikit-learn.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wonhee_tsne::{Init, Tsne, TsneError, knn_accuracy, trustworthiness};

/// `per` points around each of `centres` random centres in `dim` dimensions (spread 1, centres
/// about 10 apart), labelled by centre.
fn blobs(centres: usize, per: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c: Vec<Vec<f32>> = (0..centres)
        .map(|_| (0..dim).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..centres * per {
        let l = i % centres;
        for x in &c[l] {
            data.push(x + rng.random_range(-1.0f32..1.0));
        }
        labels.push(l as u8);
    }
    (data, labels)
}

#[test]
fn separable_clusters_come_out_separated() {
    let (data, labels) = blobs(4, 100, 20, 1);
    let tsne = Tsne {
        perplexity: 20.0,
        iterations: 500,
        ..Tsne::default()
    };
    let y = tsne.fit(&data, 400, 20).unwrap();
    assert!(y.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    assert_eq!(knn_accuracy(&y, &labels, 10).unwrap(), 1.0);
    let t = trustworthiness(&data, 20, &y, 5).unwrap();
    assert!(t > 0.9, "trustworthiness {t}");
    // Shuffled labels score at chance: the metric can fail.
    let mut shuffled = labels.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.random_range(0..=i));
    }
    assert!(knn_accuracy(&y, &shuffled, 10).unwrap() < 0.5);
}

#[test]
fn same_seed_same_coordinates_on_any_thread_count() {
    let (data, _) = blobs(3, 70, 8, 2);
    for init in [Init::Pca, Init::Random] {
        let tsne = Tsne {
            perplexity: 10.0,
            iterations: 120,
            early_exaggeration_iterations: 50,
            init,
            seed: 9,
            ..Tsne::default()
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| tsne.fit(&data, 210, 8).unwrap())
        };
        let a = run(1);
        let b = run(3);
        let c = run(3);
        let bits = |y: &[[f64; 2]]| {
            y.iter()
                .flat_map(|p| p.map(f64::to_bits))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a), bits(&b), "{init:?}: 1 vs 3 threads");
        assert_eq!(bits(&b), bits(&c), "{init:?}: run to run");
        let other = Tsne {
            seed: 10,
            ..tsne.clone()
        }
        .fit(&data, 210, 8)
        .unwrap();
        assert_ne!(bits(&a), bits(&other), "{init:?}: the seed must matter");
    }
}

#[test]
fn progress_reports_every_iteration() {
    let (data, _) = blobs(2, 30, 4, 3);
    let mut seen = Vec::new();
    let tsne = Tsne {
        perplexity: 5.0,
        iterations: 60,
        early_exaggeration_iterations: 20,
        ..Tsne::default()
    };
    tsne.fit_with_progress(&data, 60, 4, |p| seen.push(*p))
        .unwrap();
    assert_eq!(seen.len(), 60);
    assert_eq!(seen.last().unwrap().iteration, 60);
    assert!(seen.iter().all(|p| p.iterations == 60));
    let kl: Vec<f64> = seen.iter().filter_map(|p| p.kl_divergence).collect();
    assert_eq!(kl.len(), 2); // after 50 and after 60
    assert!(kl.iter().all(|&k| k.is_finite() && k > 0.0));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let tsne = Tsne::default();
    let data = vec![0.5f32; 100 * 3];
    assert!(matches!(tsne.fit(&data, 100, 4), Err(TsneError::Shape(_))));
    assert!(matches!(tsne.fit(&data, 100, 0), Err(TsneError::Shape(_))));
    assert!(matches!(
        tsne.fit(&[], 0, 3),
        Err(TsneError::TooFewPoints { .. })
    ));
    let e = tsne.fit(&data[..50 * 3], 50, 3).unwrap_err();
    assert!(
        matches!(
            e,
            TsneError::TooFewPoints {
                n: 50,
                need: 91,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("perplexity 30"), "{e}");
    let mut nan = data.clone();
    nan[3 * 17 + 2] = f32::NAN;
    let e = tsne.fit(&nan, 100, 3).unwrap_err();
    assert!(
        matches!(
            e,
            TsneError::NonFinite {
                point: 17,
                feature: 2,
                ..
            }
        ),
        "{e}"
    );
    for bad in [
        Tsne {
            perplexity: 0.5,
            ..Tsne::default()
        },
        Tsne {
            perplexity: f64::NAN,
            ..Tsne::default()
        },
        Tsne {
            theta: -1.0,
            ..Tsne::default()
        },
        Tsne {
            learning_rate: Some(0.0),
            ..Tsne::default()
        },
        Tsne {
            momentum: 1.0,
            ..Tsne::default()
        },
        Tsne {
            early_exaggeration: 0.0,
            ..Tsne::default()
        },
    ] {
        assert!(
            matches!(bad.fit(&data, 100, 3), Err(TsneError::Param(_))),
            "{bad:?}"
        );
    }
    // Identical points: no spread for PCA, no NaN out.
    let y = Tsne {
        perplexity: 5.0,
        iterations: 50,
        ..Tsne::default()
    }
    .fit(&data, 100, 3)
    .unwrap();
    assert!(y.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    // Metrics.
    assert!(matches!(
        trustworthiness(&data, 3, &y, 50),
        Err(TsneError::Param(_))
    ));
    assert!(matches!(
        trustworthiness(&data, 4, &y, 5),
        Err(TsneError::Shape(_))
    ));
    assert!(matches!(
        knn_accuracy(&y, &[0u8; 3], 5),
        Err(TsneError::Shape(_))
    ));
    assert!(matches!(
        knn_accuracy(&y, &[0u8; 100], 100),
        Err(TsneError::Param(_))
    ));
}

/// scikit-learn's `trustworthiness` and a leave-one-out 10-NN vote on a fixed embedding, from
/// `docs/reference-scripts/tsne_metrics_fixture.py`.
#[test]
fn metrics_match_scikit_learn() {
    let text = include_str!("fixtures/metrics.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let (n, dim) = (
        v["n"].as_u64().unwrap() as usize,
        v["dim"].as_u64().unwrap() as usize,
    );
    let data: Vec<f32> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let emb: Vec<[f64; 2]> = v["embedding"]
        .as_array()
        .unwrap()
        .chunks(2)
        .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
        .collect();
    let labels: Vec<u8> = v["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect();
    assert_eq!((data.len(), emb.len()), (n * dim, n));
    for (k, want) in v["trustworthiness"].as_object().unwrap() {
        let k: usize = k.parse().unwrap();
        let got = trustworthiness(&data, dim, &emb, k).unwrap();
        assert!(
            (got - want.as_f64().unwrap()).abs() < 1e-12,
            "k = {k}: {got} vs {want}"
        );
    }
    for (k, want) in v["knn_accuracy"].as_object().unwrap() {
        let k: usize = k.parse().unwrap();
        let got = knn_accuracy(&emb, &labels, k).unwrap();
        assert!(
            (got - want.as_f64().unwrap()).abs() < 1e-12,
            "k = {k}: {got} vs {want}"
        );
    }
}
