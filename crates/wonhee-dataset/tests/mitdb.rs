//! The full MIT-BIH preparation against independently derived figures
//! (tests/data/mitdb_windows.tsv, made by docs/reference-scripts/dataset_windows.py with
//! wfdb-python, and the database's counts.tsv).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use wonhee_dataset::{DS1, DS2, PACED, PrepareConfig, Side, SplitKind, prepare, read_record_list};

fn mitdb() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn tsv(text: &str) -> Vec<HashMap<String, String>> {
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            cols.iter()
                .map(|c| c.to_string())
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn paper_split_window_counts_match_the_reference() {
    let dir = mitdb();
    let names = read_record_list(&dir).unwrap();
    let p = prepare(&dir, &names, &PrepareConfig::default(), &|| ()).unwrap();
    let s = &p.summary;
    let expected = tsv(include_str!("data/mitdb_windows.tsv"));
    let counts = tsv(&std::fs::read_to_string(dir.join("counts.tsv")).unwrap());
    let classes = ["N", "S", "V", "F", "Q"];
    assert_eq!(s.records.len(), 48);
    for (r, e) in s.records.iter().zip(&expected) {
        assert_eq!(r.record, e["record"]);
        assert_eq!(r.lead, e["lead"], "{}", r.record);
        assert_eq!(r.n_resampled.to_string(), e["n_out"]);
        let c = counts.iter().find(|c| c["record"] == r.record).unwrap();
        for (k, cls) in classes.iter().enumerate() {
            assert_eq!(
                r.windows[k].to_string(),
                e[&format!("win_{cls}")],
                "{} {cls} windows",
                r.record
            );
            assert_eq!(
                r.dropped[k].to_string(),
                e[&format!("drop_{cls}")],
                "{} {cls} dropped",
                r.record
            );
            // counts.tsv: every beat is a window or a drop.
            assert_eq!(
                (r.windows[k] + r.dropped[k]).to_string(),
                c[*cls],
                "{} {cls} beats",
                r.record
            );
        }
    }
    assert_eq!(s.dropped.total(), 309);
    assert_eq!(s.n_windows, 109_494 - 309);
    assert_eq!(s.lead_fallbacks, vec!["102", "104"]);
    assert_eq!(
        s.records
            .iter()
            .find(|r| r.record == "114")
            .unwrap()
            .lead_index,
        1
    );
    // The paper split is optimistic: nearly every test window overlaps a training window.
    assert!(s.overlap.fraction_overlapping > 0.999, "{:?}", s.overlap);
    assert_eq!(s.splits["test"].windows, 21_837);
    assert_eq!(s.inputs.len(), 48 * 3);
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn prepared_signals_match_scipy_to_a_millionth_of_their_range() {
    // The stored signals (exact integer z-score, f32 polyphase kernel) against
    // scipy.signal.resample_poly of the z-scored physical lead, at the positions that
    // wonhee-signal's reference file keeps for every record (docs/reference-scripts/signal_scipy.py).
    let dir = mitdb();
    let names = read_record_list(&dir).unwrap();
    let p = prepare(&dir, &names, &PrepareConfig::default(), &|| ()).unwrap();
    let path = format!(
        "{}/../wonhee-signal/tests/data/scipy_reference.json",
        std::env::var("CARGO_MANIFEST_DIR").unwrap()
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let recs = r["records"].as_array().unwrap();
    assert_eq!(recs.len(), 48);
    let mut worst = 0f64;
    for rec in recs {
        let name = rec["record"].as_str().unwrap();
        let i = p.records.iter().position(|n| n == name).unwrap();
        let y = &p.signals[i];
        assert_eq!(y.len() as u64, rec["n_out"].as_u64().unwrap(), "{name}");
        let (lo, hi) = y
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let range = f64::from(hi - lo);
        for (pos, v) in rec["poly_at"].as_object().unwrap() {
            let at: usize = pos.parse().unwrap();
            let err = (f64::from(y[at]) - v.as_f64().unwrap()).abs() / range;
            worst = worst.max(err);
            assert!(err < 1e-6, "{name} at {at}: {err:e} of the range");
        }
    }
    assert!(worst > 0.0, "f32 storage cannot be exact");
    eprintln!("worst difference to scipy: {worst:e} of the range");
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn inter_patient_split_is_de_chazal() {
    let dir = mitdb();
    let names = read_record_list(&dir).unwrap();
    let cfg = PrepareConfig {
        split: SplitKind::InterPatient,
        ..PrepareConfig::default()
    };
    let p = prepare(&dir, &names, &cfg, &|| ()).unwrap();
    let s = &p.summary;
    let mut train = s.splits["train"].records.clone();
    let mut test = s.splits["test"].records.clone();
    train.sort();
    test.sort();
    assert_eq!(train, DS1.iter().map(|r| r.to_string()).collect::<Vec<_>>());
    assert_eq!(test, DS2.iter().map(|r| r.to_string()).collect::<Vec<_>>());
    assert_eq!(
        s.excluded_records,
        PACED.iter().map(|r| r.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(s.overlap.overlapping_a_training_window, 0);
    // Windows per side add up from the reference counts of their records.
    let expected = tsv(include_str!("data/mitdb_windows.tsv"));
    let sum = |recs: &[&str]| -> usize {
        expected
            .iter()
            .filter(|e| recs.contains(&e["record"].as_str()))
            .map(|e| {
                ["N", "S", "V", "F", "Q"]
                    .iter()
                    .map(|c| e[&format!("win_{c}")].parse::<usize>().unwrap())
                    .sum::<usize>()
            })
            .sum()
    };
    assert_eq!(s.splits["train"].windows, sum(&DS1));
    assert_eq!(s.splits["test"].windows, sum(&DS2));
    assert!(p.beats.side.iter().all(|s| *s != Side::Fold(0)));
}
