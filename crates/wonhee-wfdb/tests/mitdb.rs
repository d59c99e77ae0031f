//! Exactness on the real MIT-BIH Arrhythmia Database (needs `../shared/data/mitdb`).
//!
//! References: `tests/data/mitdb_wfdb_python.tsv` (sha256 of every signal and annotation list as
//! wfdb-python reads them; made by `docs/reference-scripts/mitdb_wfdb_python.py`), the
//! database's own `counts.tsv`, and the `wfdb` crate as an independent reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wonhee_wfdb::{Annotations, Record};

fn mitdb() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn records(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("RECORDS"))
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn samples_and_annotations_match_wfdb_python_bit_for_bit() {
    let dir = mitdb();
    let reference = include_str!("data/mitdb_wfdb_python.tsv");
    let mut checked = 0;
    let mut cache: HashMap<String, (Record, wonhee_wfdb::Signals, Annotations)> = HashMap::new();
    for line in reference.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (rec, kind, idx, n, sha, extra) = (
            f[0],
            f[1],
            f[2].parse::<usize>().unwrap(),
            f[3].parse::<usize>().unwrap(),
            f[4],
            f[5],
        );
        let (record, sig, ann) = cache.entry(rec.to_owned()).or_insert_with(|| {
            let r = Record::open(dir.join(rec)).unwrap();
            let s = r.read_signals().unwrap();
            let a = r.annotations("atr").unwrap();
            (r, s, a)
        });
        match kind {
            "digital" => {
                assert_eq!(sig.n_samples(), n, "{rec}");
                let bytes: Vec<u8> = sig
                    .digital(idx)
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                assert_eq!(hex(&bytes), sha, "{rec} digital signal {idx}");
                for kv in extra.split(',') {
                    let (j, v) = kv.split_once(':').unwrap();
                    assert_eq!(
                        sig.digital(idx)[j.parse::<usize>().unwrap()],
                        v.parse::<i32>().unwrap()
                    );
                }
            }
            "physical" => {
                let p = sig.physical_f64(idx);
                let bytes: Vec<u8> = p.iter().flat_map(|v| v.to_le_bytes()).collect();
                assert_eq!(hex(&bytes), sha, "{rec} physical signal {idx}");
                let p32 = sig.physical_f32(idx);
                assert!(p.iter().zip(&p32).all(|(a, b)| (*a as f32) == *b));
            }
            "atr" => {
                assert_eq!(ann.len(), n, "{rec}");
                let mut blob = Vec::new();
                for a in &ann.annotations {
                    blob.extend_from_slice(
                        format!(
                            "{},{},{},{},{},",
                            a.sample,
                            a.symbol(),
                            a.subtype,
                            a.chan,
                            a.num
                        )
                        .as_bytes(),
                    );
                    blob.extend_from_slice(&a.aux);
                    blob.push(b'\n');
                }
                assert_eq!(hex(&blob), sha, "{rec} annotations");
                let n_aux: usize = extra.trim_start_matches("aux:").parse().unwrap();
                assert_eq!(
                    ann.annotations.iter().filter(|a| !a.aux.is_empty()).count(),
                    n_aux
                );
                assert!(ann.annotations.iter().all(|a| !a.aux.ends_with(&[0])));
            }
            other => panic!("unknown kind {other}"),
        }
        let _ = record;
        checked += 1;
    }
    assert_eq!(cache.len(), 48);
    assert_eq!(checked, 48 * 5);
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn annotation_counts_match_counts_tsv() {
    let dir = mitdb();
    let text = std::fs::read_to_string(dir.join("counts.tsv")).unwrap();
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let classes: [(&str, &[&str]); 5] = [
        ("N", &["N", "L", "R", "e", "j"]),
        ("S", &["A", "a", "J", "S"]),
        ("V", &["V", "E"]),
        ("F", &["F"]),
        ("Q", &["/", "f", "Q"]),
    ];
    let beat_syms: Vec<&str> = classes
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut n_records = 0;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let row: HashMap<&str, u64> = cols[1..]
            .iter()
            .copied()
            .zip(f[1..].iter().map(|v| v.parse().unwrap()))
            .collect();
        if f[0] == "total" {
            for (k, v) in &row {
                assert_eq!(totals.get(*k).copied().unwrap_or(0), *v, "total {k}");
            }
            continue;
        }
        n_records += 1;
        let counts = Annotations::open(dir.join(f[0]), "atr")
            .unwrap()
            .symbol_counts();
        let get = |s: &str| counts.get(s).copied().unwrap_or(0) as u64;
        let mut mine: HashMap<String, u64> = HashMap::new();
        for s in &beat_syms {
            mine.insert(format!("sym_{s}"), get(s));
        }
        for (c, syms) in classes {
            mine.insert(c.to_owned(), syms.iter().map(|s| get(s)).sum());
        }
        let n_beats: u64 = beat_syms.iter().map(|s| get(s)).sum();
        mine.insert("n_beats".into(), n_beats);
        mine.insert(
            "non_beat".into(),
            counts.values().map(|&v| v as u64).sum::<u64>() - n_beats,
        );
        for (k, v) in &row {
            assert_eq!(mine[*k], *v, "record {} column {k}", f[0]);
            *totals.entry((*k).to_owned()).or_insert(0) += mine[*k];
        }
    }
    assert_eq!(n_records, 48);
    assert_eq!(totals["n_beats"], 109_494);
    assert_eq!(totals["n_beats"] + totals["non_beat"], 112_647);
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn headers_and_samples_agree_with_the_wfdb_crate() {
    let dir = mitdb();
    for name in records(&dir) {
        let ours = Record::open(dir.join(&name)).unwrap();
        let theirs = wfdb::Record::open(dir.join(format!("{name}.hea"))).unwrap();
        let h = ours.header();
        let m = theirs.metadata();
        assert_eq!(h.name, m.name());
        assert_eq!(h.fs, m.sampling_frequency());
        assert_eq!(h.sig_len, m.num_samples());
        let their_sigs = theirs.signal_info().unwrap();
        assert_eq!(h.signals.len(), their_sigs.len());
        for (a, b) in h.signals.iter().zip(their_sigs) {
            assert_eq!(a.file_name, b.file_name);
            assert_eq!(Some(a.gain), b.adc_gain);
            assert_eq!(Some(a.baseline), b.baseline.or(b.adc_zero));
            assert_eq!(Some(a.adc_res), b.adc_resolution.map(u32::from));
            assert_eq!(Some(a.adc_zero), b.adc_zero);
            assert_eq!(Some(a.init_value), b.initial_value);
            assert_eq!(a.checksum.map(i32::from), b.checksum);
            assert_eq!(Some(a.description.as_str()), b.description.as_deref());
            assert_eq!(a.units, b.units.clone().unwrap_or_else(|| "mV".into()));
        }
        let sig = ours.read_signals().unwrap();
        let n = sig.n_samples();
        let frames = theirs
            .multi_signal_reader()
            .unwrap()
            .read_frames(n + 1)
            .unwrap();
        assert_eq!(frames.len(), n, "{name}");
        for (t, frame) in frames.iter().enumerate() {
            for (s, v) in frame.iter().enumerate() {
                assert_eq!(sig.digital(s)[t], *v, "{name} signal {s} sample {t}");
            }
        }
    }
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn lead_placement_facts() {
    let dir = mitdb();
    let mlii = |r: &str| {
        Record::open(dir.join(r))
            .unwrap()
            .header()
            .signal_index("MLII")
    };
    assert_eq!(mlii("114"), Some(1));
    assert_eq!(mlii("102"), None);
    assert_eq!(mlii("104"), None);
    let n0 = records(&dir).iter().filter(|r| mlii(r) == Some(0)).count();
    assert_eq!(n0, 45);
}
