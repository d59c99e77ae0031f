//! MIT-BIH record 100 written as EDF and as CSV (in a temporary folder) reads back as the WFDB
//! reader gives it: within one digital step from EDF, bit for bit from CSV.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write;
use std::path::Path;

use wonhee_input::{InputFormat, ReadOptions, open, write_edf};

#[test]
#[ignore = "needs MIT-BIH"]
fn record_100_reads_the_same_from_wfdb_edf_and_csv() {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let root = wonhee_fs::workspace_root(Path::new(&manifest));
    let mitdb = wonhee_fs::mitdb_or_error(None, &root).unwrap();
    let wfdb = open(&mitdb.join("100"), &ReadOptions::default()).unwrap();
    assert_eq!(wfdb.format, InputFormat::Wfdb);
    let names: Vec<&str> = wfdb.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["MLII", "V5"]);
    let n = wfdb.leads[0].samples.len();
    assert_eq!(n, 650_000);
    let dir = tempfile::tempdir().unwrap();

    let edf = dir.path().join("100.edf");
    write_edf(&edf, &wfdb.leads).unwrap();
    let bytes = std::fs::read(&edf).unwrap();
    let back = open(&edf, &ReadOptions { fs: Some(360.0) }).unwrap();
    for (i, (got, want)) in back.leads.iter().zip(&wfdb.leads).enumerate() {
        assert_eq!(
            (&got.name, &got.unit, got.fs),
            (&want.name, &want.unit, want.fs)
        );
        // 650000 samples fill 1806 one-second records, the last padded.
        assert_eq!(got.samples.len(), 1806 * 360);
        let field = |block: usize| {
            let at = 256 + 2 * block + i * 8;
            std::str::from_utf8(&bytes[at..at + 8])
                .unwrap()
                .trim()
                .parse::<f64>()
                .unwrap()
        };
        let step = (field(112) - field(104)) / 65535.0;
        for (k, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
            assert!(
                (f64::from(*g) - f64::from(*w)).abs() <= step,
                "lead {i} sample {k}: {g} vs {w}"
            );
        }
    }

    let csv = dir.path().join("100.csv");
    let mut text = String::from("time,MLII,V5\n");
    for k in 0..n {
        let (a, b) = (wfdb.leads[0].samples[k], wfdb.leads[1].samples[k]);
        writeln!(text, "{},{a},{b}", k as f64 / 360.0).unwrap();
    }
    std::fs::write(&csv, text).unwrap();
    let back = open(&csv, &ReadOptions::default()).unwrap();
    for (got, want) in back.leads.iter().zip(&wfdb.leads) {
        assert_eq!((&got.name, got.fs), (&want.name, 360.0));
        let g: Vec<u32> = got.samples.iter().map(|v| v.to_bits()).collect();
        let w: Vec<u32> = want.samples.iter().map(|v| v.to_bits()).collect();
        assert!(g == w, "{} differs", got.name);
    }
}
