//! Reads one record per signal format whole (both signals, digital values, as
//! [`Record::read_signals`] does), one thread: the per-format table of `cargo xtask bench
//! wfdb`, which writes the records (2 signals x 650,000 samples each) into a temporary folder,
//! names it in `$WONHEE_WFDB_FORMATS` and compares the times with wfdb-python's.
//!
//! `WONHEE_WFDB_FORMATS=DIR cargo bench -p wonhee-wfdb --bench read_formats` reads every
//! record named in `DIR/RECORDS`; without the variable it reads nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wonhee_wfdb::Record;

/// The allocator the `wonhee` binary uses (as in `read_mitdb`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("WONHEE_WFDB_FORMATS").map(PathBuf::from) else {
        eprintln!("read_formats: WONHEE_WFDB_FORMATS is not set; nothing to read");
        return;
    };
    let names: Vec<String> = std::fs::read_to_string(dir.join("RECORDS"))
        .expect("RECORDS in $WONHEE_WFDB_FORMATS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut g = c.benchmark_group("wfdb_formats");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for name in &names {
        let path = dir.join(name);
        let sig = Record::open(&path).unwrap().read_signals().unwrap();
        let n: usize = (0..sig.n_signals()).map(|i| sig.len_of(i)).sum();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let sig = Record::open(&path).unwrap().read_signals().unwrap();
                std::hint::black_box(sig).n_samples()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
