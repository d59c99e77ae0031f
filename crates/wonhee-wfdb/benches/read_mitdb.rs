//! Reads all 48 MIT-BIH records (both signals as digital and physical f64, plus the `atr`
//! annotations), the work wfdb-python's `rdrecord` + `rdann` do.
//!
//! `cargo bench -p wonhee-wfdb --bench read_mitdb`; `cargo xtask bench wfdb` runs it beside
//! wfdb-python and rewrites docs/benchmarks.md. Needs MIT-BIH at `$WONHEE_MITDB` or
//! `../shared/data/mitdb`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use wonhee_wfdb::Record;

/// The allocator the `wonhee` binary uses: it keeps freed pages for reuse, so the per-record
/// buffers are not faulted in afresh for every record.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn mitdb() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn read_one(dir: &Path, name: &str) -> usize {
    let rec = Record::open(dir.join(name)).unwrap();
    let sig = rec.read_signals().unwrap();
    let mut n = 0;
    for i in 0..sig.n_signals() {
        n += std::hint::black_box(sig.physical_f64(i)).len();
    }
    n + rec.annotations("atr").unwrap().len()
}

fn bench(c: &mut Criterion) {
    let dir = mitdb();
    let names: Vec<String> = std::fs::read_to_string(dir.join("RECORDS"))
        .expect("MIT-BIH RECORDS (set WONHEE_MITDB)")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let bytes: u64 = names
        .iter()
        .flat_map(|n| ["hea", "dat", "atr"].map(|e| dir.join(format!("{n}.{e}"))))
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut g = c.benchmark_group("mitdb");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("read_48_records", |b| {
        b.iter(|| names.iter().map(|n| read_one(&dir, n)).sum::<usize>())
    });
    g.bench_function("read_48_records_parallel", |b| {
        b.iter(|| names.par_iter().map(|n| read_one(&dir, n)).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
