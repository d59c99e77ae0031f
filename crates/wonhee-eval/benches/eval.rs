//! Evaluation costs at MIT-BIH scale: classification reports with 1000 bootstrap resamples
//! (window and record bootstrap), and imputation/forecasting accumulation and reports.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wonhee_eval::{Bootstrap, EvalProtocol, ForecastEval, ImputationEval, classification_report};

const L: usize = 640;

fn labels(n: usize) -> (Vec<u8>, Vec<u8>, Vec<u32>) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let draw = |r: &mut ChaCha8Rng| -> u8 {
        let u: f64 = r.random();
        [0.88, 0.91, 0.98, 0.99, 1.0]
            .iter()
            .position(|&c| u < c)
            .unwrap_or(4) as u8
    };
    let t: Vec<u8> = (0..n).map(|_| draw(&mut r)).collect();
    let p = t
        .iter()
        .map(|&y| {
            if r.random::<f64>() < 0.97 {
                y
            } else {
                draw(&mut r)
            }
        })
        .collect();
    let g = (0..n as u32).map(|i| i / 2300).collect(); // ~22 records of 2300 beats, as DS2
    (t, p, g)
}

fn window(seed: u64) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..L)
        .map(|i| (i as f32 * 0.07).sin() + 0.1 * r.random::<f32>())
        .collect()
}

fn bench(c: &mut Criterion) {
    let names: Vec<String> = ["N", "S", "V", "F", "Q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (t, p, g) = labels(50_000);
    let boot = Bootstrap::default();
    let mut cg = c.benchmark_group("classification_50k_windows_1000_resamples");
    cg.sample_size(10);
    cg.throughput(Throughput::Elements(t.len() as u64));
    cg.bench_function("window_bootstrap", |b| {
        b.iter(|| classification_report(&t, &p, &names, None, &boot))
    });
    cg.bench_function("record_bootstrap", |b| {
        b.iter(|| classification_report(&t, &p, &names, Some(&g), &boot))
    });
    cg.finish();

    // 2000 windows at K = 370: per-window push (model + 3 baselines) and the report.
    let proto = EvalProtocol::new(0);
    let windows: Vec<Vec<f32>> = (0..2000).map(window).collect();
    let masks: Vec<Vec<bool>> = (0..2000u64)
        .map(|w| proto.imputation_mask(L, 370, w).unwrap_or_default())
        .collect();
    let trailing = proto.forecast_mask(L, 370).unwrap_or_default();
    let fill = |ev: &mut ImputationEval| {
        for (x, m) in windows.iter().zip(&masks) {
            let _ = ev.push(x, m, x, Some(0.4), None);
        }
    };
    let mut ig = c.benchmark_group("imputation_2000_windows_k370");
    ig.sample_size(10);
    ig.throughput(Throughput::Elements(windows.len() as u64));
    ig.bench_function("push", |b| {
        b.iter(|| {
            let mut ev = ImputationEval::new(370);
            fill(&mut ev);
            ev.len()
        })
    });
    let mut ev = ImputationEval::new(370);
    fill(&mut ev);
    ig.bench_function("finish_1000_resamples", |b| b.iter(|| ev.finish(&boot)));
    ig.bench_function("forecast_push", |b| {
        b.iter(|| {
            let mut ev = ForecastEval::new(370);
            for x in &windows {
                let _ = ev.push(x, &trailing, x, 90, Some(0.4), None);
            }
            ev.len()
        })
    });
    ig.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
