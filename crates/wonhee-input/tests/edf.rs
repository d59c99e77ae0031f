//! EDF reading and writing: round trips, rates, EDF+ annotations, and every malformed header
//! or data length named by file and place.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use wonhee_input::{InputFormat, Lead, ReadOptions, open, write_edf};

/// One signal of a hand-built EDF file.
#[derive(Clone)]
struct Sig {
    label: &'static str,
    dim: &'static str,
    pmin: &'static str,
    pmax: &'static str,
    dmin: &'static str,
    dmax: &'static str,
    spr: &'static str,
}

const ECG: Sig = Sig {
    label: "ECG MLII",
    dim: "mV",
    pmin: "-5",
    pmax: "5",
    dmin: "-2048",
    dmax: "2047",
    spr: "4",
};

/// One per-signal field of the header, read from a [`Sig`].
type Getter = fn(&Sig) -> &str;

fn pad(out: &mut Vec<u8>, s: &str, len: usize) {
    out.extend_from_slice(s.as_bytes());
    out.resize(out.len() + len - s.len(), b' ');
}

/// An EDF file: the fixed header (with `reserved`, the record count and duration as given),
/// the signals' fields, then `data` as little-endian i16.
fn build(reserved: &str, records: &str, duration: &str, sigs: &[Sig], data: &[i16]) -> Vec<u8> {
    let ns = sigs.len();
    let mut out = Vec::new();
    pad(&mut out, "0", 8);
    pad(&mut out, "X", 80);
    pad(&mut out, "X", 80);
    pad(&mut out, "01.01.85", 8);
    pad(&mut out, "00.00.00", 8);
    pad(&mut out, &(256 * (ns + 1)).to_string(), 8);
    pad(&mut out, reserved, 44);
    pad(&mut out, records, 8);
    pad(&mut out, duration, 8);
    pad(&mut out, &ns.to_string(), 4);
    let fields: [(Getter, usize); 10] = [
        (|s| s.label, 16),
        (|_| "", 80),
        (|s| s.dim, 8),
        (|s| s.pmin, 8),
        (|s| s.pmax, 8),
        (|s| s.dmin, 8),
        (|s| s.dmax, 8),
        (|_| "", 80),
        (|s| s.spr, 8),
        (|_| "", 32),
    ];
    for (get, len) in fields {
        for s in sigs {
            pad(&mut out, get(s), len);
        }
    }
    for d in data {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err(path: &Path) -> String {
    open(path, &ReadOptions::default()).unwrap_err().to_string()
}

/// `pmin`, `pmax` of signal `i` of `n`, read from the file's header bytes.
fn physical_range(bytes: &[u8], n: usize, i: usize) -> (f64, f64) {
    let field = |block: usize| {
        let at = 256 + n * block + i * 8;
        std::str::from_utf8(&bytes[at..at + 8])
            .unwrap()
            .trim()
            .parse::<f64>()
            .unwrap()
    };
    (field(104), field(112))
}

fn wave(n: usize, fs: f64, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / fs as f32;
            amp * ((7.3 * t).sin() + 0.3 * (51.0 * t).cos()) - 0.2
        })
        .collect()
}

#[test]
fn a_written_file_reads_back_within_one_digital_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.edf");
    // 10.5 s: the last 1-s data record is padded with each lead's last sample.
    let leads = vec![
        Lead {
            name: "MLII".into(),
            unit: "mV".into(),
            fs: 360.0,
            samples: wave(3780, 360.0, 1.3),
        },
        Lead {
            name: "V5".into(),
            unit: "uV".into(),
            fs: 360.0,
            samples: wave(3780, 360.0, 800.0),
        },
    ];
    write_edf(&path, &leads).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[236..252], b"11      1       ");
    let rec = open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(rec.format, InputFormat::Edf);
    assert_eq!(rec.path, path);
    assert_eq!(rec.leads.len(), 2);
    for (i, (got, want)) in rec.leads.iter().zip(&leads).enumerate() {
        assert_eq!(
            (&got.name, &got.unit, got.fs),
            (&want.name, &want.unit, 360.0)
        );
        assert_eq!(got.samples.len(), 3960);
        let (pmin, pmax) = physical_range(&bytes, 2, i);
        let step = (pmax - pmin) / 65535.0;
        let (lo, hi) = want
            .samples
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(pmin <= f64::from(lo) && pmax >= f64::from(hi));
        assert!(pmax - pmin < 1.001 * f64::from(hi - lo), "{pmin} {pmax}");
        let last = want.samples[want.samples.len() - 1];
        for (k, &g) in got.samples.iter().enumerate() {
            let w = want.samples.get(k).copied().unwrap_or(last);
            assert!(
                (f64::from(g) - f64::from(w)).abs() <= step,
                "lead {i} sample {k}: {g} vs {w} (step {step})"
            );
        }
    }
}

#[test]
fn leads_at_different_rates_keep_their_rates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.EDF");
    let leads = vec![
        Lead {
            name: "ECG II".into(),
            unit: "mV".into(),
            fs: 250.0,
            samples: wave(2500, 250.0, 1.0),
        },
        Lead {
            name: "Resp".into(),
            unit: "".into(),
            fs: 125.5,
            samples: wave(1255, 125.5, 2.0),
        },
    ];
    write_edf(&path, &leads).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // 125.5 Hz takes 2-s data records (251 samples each).
    assert_eq!(&bytes[236..252], b"5       2       ");
    let rec = open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(rec.leads[0].fs, 250.0);
    assert_eq!(rec.leads[1].fs, 125.5);
    assert_eq!(rec.leads[0].samples.len(), 2500);
    assert_eq!(rec.leads[1].samples.len(), 1255);
    assert_eq!(rec.lead_index(Some("II")).unwrap(), (0, None));
    assert!(
        rec.lead_index(None)
            .unwrap()
            .1
            .unwrap()
            .contains("no lead MLII")
    );
    for (got, want) in rec.leads.iter().zip(&leads) {
        let tol = 1e-4 * want.samples.iter().fold(0f32, |a, x| a.max(x.abs()));
        for (g, w) in got.samples.iter().zip(&want.samples) {
            assert!((g - w).abs() <= tol, "{g} {w}");
        }
    }
    // A rate given for a multi-rate file must agree with every lead.
    let e = open(&path, &ReadOptions { fs: Some(250.0) })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("two.EDF") && e.contains("`Resp` is sampled at 125.5 Hz"),
        "{e}"
    );
}

#[test]
fn digital_values_map_to_physical_ones_by_the_header() {
    let dir = tempfile::tempdir().unwrap();
    // Two records of 4 samples; -2048 -> -5, 2047 -> 5, 0 -> 5/4095*... (the EDF formula).
    let data = [-2048, 2047, 0, 1, -1, 100, -100, 2047];
    let p = write(dir.path(), "a.edf", &build("", "2", "0.5", &[ECG], &data));
    let rec = open(&p, &ReadOptions { fs: Some(8.0) }).unwrap();
    let l = &rec.leads[0];
    assert_eq!(
        (l.name.as_str(), l.unit.as_str(), l.fs),
        ("ECG MLII", "mV", 8.0)
    );
    for (g, &d) in l.samples.iter().zip(&data) {
        let want = ((f64::from(d) + 2048.0) * 10.0 / 4095.0 - 5.0) as f32;
        assert!((g - want).abs() <= 1e-6, "{g} {want}");
    }
    assert_eq!(l.samples[0], -5.0);
    assert_eq!(l.samples[1], 5.0);
}

#[test]
fn edf_plus_annotation_signals_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ann = Sig {
        label: "EDF Annotations",
        dim: "",
        pmin: "-1",
        pmax: "1",
        dmin: "-32768",
        dmax: "32767",
        spr: "3",
    };
    let v5 = Sig {
        label: "V5",
        spr: "2",
        ..ECG
    };
    // Record layout: ECG x4, annotations x3 (bytes of TALs), V5 x2.
    let rec1 = [1i16, 2, 3, 4, 0x2b2b, 0x1430, 0x0014, 10, 20];
    let rec2 = [5i16, 6, 7, 8, 0, 0, 0, 30, 40];
    let data: Vec<i16> = rec1.iter().chain(&rec2).copied().collect();
    let p = write(
        dir.path(),
        "plus.edf",
        &build("EDF+C", "2", "1", &[ECG, ann, v5], &data),
    );
    let rec = open(&p, &ReadOptions::default()).unwrap();
    let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["ECG MLII", "V5"]);
    assert_eq!(rec.leads[0].samples.len(), 8);
    assert_eq!((rec.leads[0].fs, rec.leads[1].fs), (4.0, 2.0));
    let digital = |v: f32| ((f64::from(v) + 5.0) * 4095.0 / 10.0 - 2048.0).round() as i16;
    let d0: Vec<i16> = rec.leads[0].samples.iter().map(|&v| digital(v)).collect();
    let d1: Vec<i16> = rec.leads[1].samples.iter().map(|&v| digital(v)).collect();
    assert_eq!(d0, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(d1, [10, 20, 30, 40]);
    assert_eq!(
        rec.lead_index(None).unwrap(),
        (0, None),
        "MLII is `ECG MLII`"
    );
}

#[test]
fn an_unknown_record_count_is_taken_from_the_file_size_and_extra_bytes_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<i16> = (0..12).collect();
    let p = write(dir.path(), "u.edf", &build("", "-1", "1", &[ECG], &data));
    assert_eq!(
        open(&p, &ReadOptions::default()).unwrap().leads[0]
            .samples
            .len(),
        12
    );
    let mut bytes = build("", "2", "1", &[ECG], &data);
    bytes.extend_from_slice(&[0; 5]);
    let p = write(dir.path(), "x.edf", &bytes);
    assert_eq!(
        open(&p, &ReadOptions::default()).unwrap().leads[0]
            .samples
            .len(),
        8
    );
}

#[test]
fn every_malformed_header_is_named_by_file_field_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<i16> = vec![0; 8];
    let sig = |f: fn(&mut Sig)| {
        let mut s = ECG;
        f(&mut s);
        s
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "short",
            b"0       ".to_vec(),
            "short.edf: header: the file has 8 bytes",
        ),
        (
            "version",
            {
                let mut b = build("", "2", "1", &[ECG], &data);
                b[0] = b'1';
                b
            },
            "header field `version` (bytes 0..8): `1` is not `0`",
        ),
        (
            "bdf",
            {
                let mut b = build("", "2", "1", &[ECG], &data);
                b[0] = 0xff;
                b
            },
            "unsupported: BDF",
        ),
        (
            "edfd",
            build("EDF+D", "2", "1", &[ECG], &data),
            "unsupported: EDF+D (discontinuous)",
        ),
        (
            "ns0",
            build("", "2", "1", &[], &data),
            "header field `number of signals` (bytes 252..256): no signals",
        ),
        (
            "ns_text",
            {
                let mut b = build("", "2", "1", &[ECG], &data);
                b[252..256].copy_from_slice(b"x1  ");
                b
            },
            "header field `number of signals` (bytes 252..256): `x1` is not a count",
        ),
        (
            "hbytes",
            {
                let mut b = build("", "2", "1", &[ECG], &data);
                b[184..192].copy_from_slice(b"768     ");
                b
            },
            "header field `number of bytes in header` (bytes 184..192): 768 bytes, but 1 \
             signals make a header of 512",
        ),
        (
            "many_signals",
            {
                let mut b = build("", "2", "1", &[ECG], &[]);
                b[252..256].copy_from_slice(b"3   ");
                b[184..192].copy_from_slice(b"1024    ");
                b
            },
            "3 signals need a 1024-byte header, but the file has 512 bytes",
        ),
        (
            "duration0",
            build("", "2", "0", &[ECG], &data),
            "header field `duration of a data record` (bytes 244..252): 0 s",
        ),
        (
            "duration_text",
            build("", "2", "1,5", &[ECG], &data),
            "header field `duration of a data record` (bytes 244..252): `1,5` is not a number",
        ),
        (
            "records_text",
            build("", "two", "1", &[ECG], &data),
            "header field `number of data records` (bytes 236..244): `two` is not an integer",
        ),
        (
            "records_neg",
            build("", "-2", "1", &[ECG], &data),
            "header field `number of data records` (bytes 236..244): -2: only -1",
        ),
        (
            "records0",
            build("", "0", "1", &[ECG], &[]),
            "header field `number of data records` (bytes 236..244): no data records",
        ),
        (
            "dmax",
            build("", "2", "1", &[sig(|s| s.dmax = "-2048")], &data),
            "signal 1 of 1 (`ECG MLII`) field `digital maximum` (bytes 384..392): -2048 is \
             not above the digital minimum (-2048)",
        ),
        (
            "dmin_range",
            build("", "2", "1", &[sig(|s| s.dmin = "-40000")], &data),
            "signal 1 of 1 (`ECG MLII`) field `digital minimum` (bytes 376..384): -40000 is \
             outside the 16-bit range",
        ),
        (
            "pmax",
            build("", "2", "1", &[sig(|s| s.pmax = "-5.0")], &data),
            "field `physical maximum` (bytes 368..376): equals the physical minimum (-5)",
        ),
        (
            "pmin_text",
            build("", "2", "1", &[sig(|s| s.pmin = "low")], &data),
            "field `physical minimum` (bytes 360..368): `low` is not a number",
        ),
        (
            "pmin_inf",
            build("", "2", "1", &[sig(|s| s.pmin = "inf")], &data),
            "field `physical minimum` (bytes 360..368): inf is not a finite number",
        ),
        (
            "spr0",
            build("", "2", "1", &[sig(|s| s.spr = "0")], &data),
            "signal 1 of 1 (`ECG MLII`) field `number of samples in each data record` (bytes \
             472..480): 0: a signal needs at least one sample",
        ),
        (
            "non_ascii",
            {
                let mut b = build("", "2", "1", &[ECG], &data);
                b[472 + 2] = 0xe9;
                b
            },
            "field `number of samples in each data record` (bytes 472..480): byte 0xe9 is not \
             printable ASCII",
        ),
        (
            "only_annotations",
            build(
                "EDF+C",
                "2",
                "1",
                &[sig(|s| s.label = "EDF Annotations")],
                &data,
            ),
            "header field `number of signals` (bytes 252..256): no signals besides EDF \
             Annotations",
        ),
        (
            "truncated",
            build("", "3", "1", &[ECG], &[0; 11]),
            "data record 3 of 3 (byte 528): truncated: a data record has 8 bytes, but the file \
             ends at byte 534",
        ),
        (
            "truncated_unknown",
            build("", "-1", "1", &[ECG], &[0; 9]),
            "data record 3 (byte 528): truncated",
        ),
        (
            "truncated_first",
            build("", "2", "1", &[ECG], &[0; 1]),
            "data record 1 of 2 (byte 512): truncated",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = write(dir.path(), &format!("{name}.edf"), &bytes);
        let e = err(&p);
        assert!(
            e.starts_with(&p.display().to_string()) && e.contains(want),
            "{name}: {e}\n  wanted: {want}"
        );
    }
}

#[test]
fn the_writer_refuses_what_edf_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.edf");
    let lead = |name: &str, fs: f64, samples: Vec<f32>| Lead {
        name: name.into(),
        unit: "mV".into(),
        fs,
        samples,
    };
    let cases: Vec<(Vec<Lead>, &str)> = vec![
        (vec![], "0 leads"),
        (
            vec![lead("a", 360.0, vec![0.0, f32::NAN])],
            "lead 0 (`a`) sample 1 is NaN",
        ),
        (
            vec![
                lead("a", 360.0, vec![0.0; 720]),
                lead("b", 360.0, vec![0.0; 1000]),
            ],
            "lead 1 (`b`) fills 3 data records of 1 s, lead 0 fills 2",
        ),
        (
            vec![lead("a name longer than 16", 360.0, vec![0.0])],
            "lead 0 name `a name longer than 16`",
        ),
        (vec![lead("a", 0.0, vec![0.0])], "lead 0 (`a`): rate 0 Hz"),
        (
            vec![lead("a", 360.0, vec![])],
            "lead 0 (`a`) has no samples",
        ),
        (
            vec![lead("a", 100.0 * std::f64::consts::PI, vec![1.0; 10])],
            "no data record duration",
        ),
        (
            vec![lead("a", 360.0, vec![1e9, 0.0])],
            "8-character physical range",
        ),
    ];
    for (leads, want) in cases {
        let e = write_edf(&path, &leads).unwrap_err().to_string();
        assert!(
            e.starts_with(&path.display().to_string()) && e.contains(want),
            "{e}"
        );
        assert!(!path.exists());
    }
}
