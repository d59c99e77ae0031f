//! Resampling one MIT-BIH-sized record (650,000 samples, 360 -> 128 Hz) and z-scoring it.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wonhee_signal::{PolyphaseResampler, resample_fft, zscore};

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
