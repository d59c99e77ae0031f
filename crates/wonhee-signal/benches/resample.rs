//! Resampling one MIT-BIH-sized record (650,000 samples, 360 -> 128 Hz) and z-scoring it.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wonhee_signal::{PolyphaseResampler, integer_mean_std, resample_fft, zscore};

fn signal(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (i as f64 * 0.013).sin() + ((i * 7919) % 1009) as f64 / 1009.0)
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = signal(650_000);
    let r = PolyphaseResampler::new(128, 360).unwrap_or_else(|e| panic!("{e}"));
    let mut out = vec![0.0; r.output_len(x.len())];
    let mut g = c.benchmark_group("record_650k");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.bench_function("resample_poly_16_45", |b| {
        b.iter(|| r.process_into(&x, &mut out))
    });
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let mut out32 = vec![0f32; out.len()];
    g.bench_function("resample_poly_16_45_f32", |b| {
        b.iter(|| r.process_f32_into(&x32, &mut out32))
    });
    // The `wonhee prepare` path: 12-bit digital samples -> exact z-score -> f32 resampling
    // (z-scored as the kernel reads them).
    let d: Vec<i32> = x.iter().map(|&v| (v * 500.0) as i32).collect();
    let (mean, std) = integer_mean_std(&d, None).unwrap_or((0.0, 1.0));
    let inv = 1.0 / std;
    g.bench_function("digital_to_f32", |b| {
        b.iter(|| r.process_f32_map_into(&d, |v| ((f64::from(v) - mean) * inv) as f32, &mut out32))
    });
    g.bench_function("integer_mean_std", |b| {
        b.iter(|| integer_mean_std(&d, None))
    });
    g.bench_function("resample_fft", |b| b.iter(|| resample_fft(&x, out.len())));
    g.bench_function("zscore", |b| {
        b.iter_batched(
            || x.clone(),
            |mut v| zscore(&mut v).map(|s| s.std),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
