//! `open` on the same 30-minute two-lead signal (360 Hz, 648,000 samples per lead) stored as
//! WFDB format 16, EDF and CSV (6 significant digits, without and with a time column), written
//! into a temporary folder: the first 30 minutes of MIT-BIH record 100 when MIT-BIH is found
//! (`$WONHEE_MITDB` or `../shared/data/mitdb`), else a synthetic ECG-like signal.
//!
//! `cargo bench -p wonhee-input --bench read`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wonhee_input::{ReadOptions, open, write_edf};
use wonhee_wfdb::write::{SignalData, write_record};
use wonhee_wfdb::{Format, Record, SignalSpec};

/// The allocator the `wonhee` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FS: f64 = 360.0;
const N: usize = 30 * 60 * 360;

/// Two leads of digital samples with their header lines: record 100 when found, else
/// synthetic.
fn signals() -> (Vec<SignalData>, &'static str) {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let root = wonhee_fs::workspace_root(Path::new(&manifest));
    if let Ok(dir) = wonhee_fs::mitdb_or_error(None, &root)
        && let Ok(rec) = Record::open(dir.join("100"))
    {
        let sig = rec.read_signals().unwrap();
        let signals = (0..2)
            .map(|i| SignalData {
                spec: sig.specs()[i].clone(),
                samples: sig.digital(i)[..N].to_vec(),
            })
            .collect();
        return (signals, "MIT-BIH record 100, first 30 min");
    }
    let lead = |name: &str, phase: f64| {
        let mut spec = SignalSpec::new("", Format::F16, name);
        spec.baseline = 1024;
        let samples = (0..N)
            .map(|i| {
                let t = i as f64 / FS + phase;
                let beat = (t * 1.2).fract();
                let qrs = (-((beat - 0.3) * 60.0).powi(2)).exp() * 1.4;
                let p = (-((beat - 0.15) * 25.0).powi(2)).exp() * 0.15;
                let tw = (-((beat - 0.55) * 12.0).powi(2)).exp() * 0.3;
                let wander = 0.2 * (t * 0.3).sin() + 0.01 * ((i * 7919) % 13) as f64;
                1024 + ((qrs + p + tw + wander) * 200.0).round() as i32
            })
            .collect();
        SignalData { spec, samples }
    };
    (vec![lead("MLII", 0.0), lead("V5", 0.1)], "synthetic")
}

/// `x` with 6 significant digits, as a plain decimal.
fn sig6(x: f32) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let e = f64::from(x).abs().log10().floor() as i32;
    let dec = (5 - e).max(0) as usize;
    format!("{x:.dec$}")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (signals, source) = signals();
    let hea = write_record(dir.path(), "rec", FS, Format::F16, &signals, &[]).unwrap();
    let leads = open(&hea, &ReadOptions::default()).unwrap().leads;
    let edf = dir.path().join("rec.edf");
    write_edf(&edf, &leads).unwrap();
    let (mut plain, mut timed) = (String::from("MLII,V5\n"), String::from("time,MLII,V5\n"));
    for k in 0..N {
        let (a, b) = (sig6(leads[0].samples[k]), sig6(leads[1].samples[k]));
        writeln!(plain, "{a},{b}").unwrap();
        writeln!(timed, "{:.6},{a},{b}", k as f64 / FS).unwrap();
    }
    let csv = dir.path().join("rec.csv");
    let csv_time = dir.path().join("rec_time.csv");
    std::fs::write(&csv, plain).unwrap();
    std::fs::write(&csv_time, timed).unwrap();
    // Every format reads back the same leads.
    for (p, fs) in [(&edf, None), (&csv, Some(FS)), (&csv_time, None)] {
        let r = open(p, &ReadOptions { fs }).unwrap();
        assert_eq!(r.leads.len(), 2);
        assert_eq!(r.leads[0].samples.len(), N);
        assert_eq!(r.leads[0].fs, FS);
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    eprintln!(
        "signal: {source}; {} samples in all; bytes: wfdb {} (+ header {}), edf {}, csv {}, \
         csv with time {}",
        2 * N,
        size(&dir.path().join("rec.dat")),
        size(&hea),
        size(&edf),
        size(&csv),
        size(&csv_time)
    );

    let mut g = c.benchmark_group("read_30min_2leads");
    let cases = [
        (
            "wfdb_format16",
            hea.clone(),
            size(&dir.path().join("rec.dat")) + size(&hea),
            None,
        ),
        ("edf", edf.clone(), size(&edf), None),
        ("csv", csv.clone(), size(&csv), Some(FS)),
        ("csv_time_column", csv_time.clone(), size(&csv_time), None),
    ];
    for (name, path, bytes, fs) in cases {
        g.throughput(Throughput::Bytes(bytes));
        let opts = ReadOptions { fs };
        g.bench_function(name, |b| {
            b.iter(|| {
                std::hint::black_box(open(&path, &opts).unwrap())
                    .leads
                    .len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
