//! Multi-segment records of `fixtures/wfdb/multiseg` (written with wfdb-python 4.3.1: fixed and
//! variable layouts, null segments, a segment lacking a signal, segments with their own gain)
//! read here and compared sample by sample with what wfdb-python's `rdrecord` read from them
//! (see `fixtures/wfdb/README.md`), and malformed variants of them refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use wonhee_wfdb::{Header, Layout, ReadBuffers, Record, WfdbError};

mod common;

fn dir() -> PathBuf {
    common::fixture_dir("multiseg")
}

fn names() -> Vec<String> {
    common::record_names(&dir())
}

/// One line per signal of `NAME.WHAT.txt`, parsed.
fn expected<T: std::str::FromStr>(name: &str, what: &str) -> Option<Vec<Vec<T>>>
where
    T::Err: std::fmt::Debug,
{
    common::expected_values(&dir(), name, what)
}

fn assert_same(what: &str, got: &[i32], want: &[i64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (m, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(i64::from(*g), *w, "{what}: sample {m}");
    }
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (m, (&a, &e)) in got.iter().zip(want).enumerate() {
        if e.is_nan() {
            assert!(a.is_nan(), "{what}: sample {m}: {a}, want NaN");
        } else {
            // The fixtures hold 9 significant digits.
            assert!(
                (a - e).abs() <= 1e-8 * e.abs().max(1.0),
                "{what}: sample {m}: {a}, want {e}"
            );
        }
    }
}

#[test]
fn the_fixture_set_is_complete() {
    assert_eq!(names(), ["fixed", "fgain", "var", "vgain"]);
    for (name, layout, segs) in [
        ("fixed", Layout::Fixed, 3),
        ("fgain", Layout::Fixed, 3),
        ("var", Layout::Variable, 5),
        ("vgain", Layout::Variable, 5),
    ] {
        let rec = Record::open(dir().join(name)).unwrap();
        let h = rec.header();
        assert!(rec.is_multi_segment() && h.is_multi_segment(), "{name}");
        assert_eq!(h.layout(), Some(layout), "{name}");
        assert_eq!(h.segments.len(), segs, "{name}");
        assert_eq!(h.signals.len(), h.n_sig(), "{name}");
        assert_eq!(
            h.segments.iter().map(|s| s.len).sum::<u64>(),
            h.sig_len.unwrap()
        );
    }
    let var = Record::open(dir().join("var")).unwrap();
    let segs: Vec<(&str, u64)> = var
        .header()
        .segments
        .iter()
        .map(|s| (s.name.as_str(), s.len))
        .collect();
    assert_eq!(
        segs,
        [
            ("var_layout", 0),
            ("var_1", 35),
            ("~", 15),
            ("var_2", 28),
            ("var_3", 22)
        ]
    );
    assert_eq!(var.header().signal_index("V"), Some(2));
}

/// Digital values as stored, segment by segment, equal wfdb-python's `physical=False` read;
/// physical values, each segment with its own gain and baseline, its `physical=True` read.
#[test]
fn segmented_reads_equal_wfdb_python() {
    let mut digital_seen = 0;
    for name in names() {
        let rec = Record::open(dir().join(&name)).unwrap();
        let seg = rec.read_segmented().unwrap();
        let n = rec.header().sig_len.unwrap() as usize;
        assert_eq!(seg.n_frames(), n, "{name}");
        assert_eq!(seg.n_signals(), rec.header().n_sig(), "{name}");
        if let Some(want) = expected::<i64>(&name, "digital") {
            digital_seen += 1;
            assert_eq!(want.len(), seg.n_signals());
            for (i, w) in want.iter().enumerate() {
                assert_same(&format!("{name} signal {i}"), seg.digital(i), w);
            }
        }
        let want = expected::<f64>(&name, "physical").unwrap();
        assert_eq!(want.len(), seg.n_signals());
        for (i, w) in want.iter().enumerate() {
            assert_close(&format!("{name} physical {i}"), &seg.physical_f64(i), w);
            let p32 = seg.physical_f32(i);
            for (m, (&b, &e)) in p32.iter().zip(w).enumerate() {
                if e.is_nan() {
                    assert!(b.is_nan(), "{name} {i} {m}");
                } else {
                    let tol = f64::from(f32::EPSILON) * e.abs();
                    assert!((f64::from(b) - e).abs() <= tol, "{name} {i} {m}");
                }
            }
        }
        // One signal at a time, and in reverse order, reads the same.
        let all = rec.read_segmented().unwrap();
        let rev: Vec<usize> = (0..all.n_signals()).rev().collect();
        let r = rec.read_segmented_selected(&rev).unwrap();
        for (slot, &i) in rev.iter().enumerate() {
            assert_eq!(r.digital(slot), all.digital(i), "{name} reversed {i}");
            let (a, b) = (r.physical_f64(slot), all.physical_f64(i));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!(x == y || (x.is_nan() && y.is_nan()), "{name} reversed {i}");
            }
            let one = rec.read_segmented_selected(&[i]).unwrap();
            assert_eq!(one.digital(0), all.digital(i), "{name} alone {i}");
        }
    }
    assert_eq!(digital_seen, 3);
}

/// Records whose segments agree on each signal's format, gain and baseline read as ordinary
/// `Signals`; the others are refused there, naming the signal and the segment (wfdb-python
/// refuses the digital read of `vgain` too).
#[test]
fn read_signals_takes_uniform_records_and_refuses_the_others() {
    for name in ["fixed", "var"] {
        let rec = Record::open(dir().join(name)).unwrap();
        let sig = rec.read_signals().unwrap();
        let want: Vec<Vec<i64>> = expected(name, "digital").unwrap();
        let phys: Vec<Vec<f64>> = expected(name, "physical").unwrap();
        for (i, w) in want.iter().enumerate() {
            assert_same(&format!("{name} signal {i}"), sig.digital(i), w);
            assert_close(
                &format!("{name} physical {i}"),
                &sig.physical_f64(i),
                &phys[i],
            );
        }
        // Through reusable buffers, seeing every segment's signal file.
        let mut buf = ReadBuffers::default();
        let mut files = Vec::new();
        let n = rec
            .read_selected_into(&[1, 0], &mut buf, &mut |p, b| {
                files.push((p.file_name().unwrap().to_str().unwrap().to_owned(), b.len()));
            })
            .unwrap();
        assert_eq!(n, sig.n_frames());
        assert_eq!(buf.signal(0), sig.digital(1));
        assert_eq!(buf.signal(1), sig.digital(0));
        let data_files = std::fs::read_dir(dir())
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name();
                let n = n.to_str().unwrap();
                n.starts_with(&format!("{name}_")) && n.ends_with(".dat")
            })
            .count();
        assert_eq!(files.len(), data_files, "{name}: {files:?}");
    }
    assert_eq!(
        Record::open(dir().join("fixed"))
            .unwrap()
            .read_signals()
            .unwrap()
            .len_of(1),
        2 * 96
    );
    for (name, signal, segment) in [
        ("fgain", "signal 0 (I)", "fgain_2"),
        ("vgain", "signal 1 (II)", "vgain_2"),
    ] {
        let rec = Record::open(dir().join(name)).unwrap();
        assert!(!rec.read_segmented().unwrap().is_uniform());
        let e = rec.read_signals().unwrap_err();
        assert!(matches!(e, WfdbError::Unsupported { .. }), "{e}");
        let e = e.to_string();
        assert!(e.contains(signal) && e.contains(segment), "{e}");
        // A selection without the differing signal reads.
        let other = usize::from(signal.contains("signal 0"));
        let sig = rec.read_selected(&[other]).unwrap();
        let phys: Vec<Vec<f64>> = expected(name, "physical").unwrap();
        assert_close(name, &sig.physical_f64(0), &phys[other]);
    }
    let err = std::fs::read_to_string(dir().join("vgain.error.txt")).unwrap();
    assert!(err.contains("cannot be converted to single segment, in digital format"));
}

/// `smooth_frames` of a record with 2 samples per frame equals wfdb-python's
/// `smooth_frames=True` read, and the signal at its own rate its `smooth_frames=False` one.
#[test]
fn samples_per_frame_and_smoothing() {
    let rec = Record::open(dir().join("fixed")).unwrap();
    let seg = rec.read_segmented().unwrap();
    assert_eq!(seg.specs()[1].samples_per_frame, 2);
    assert_eq!(seg.len_of(1), 2 * seg.n_frames());
    let want: Vec<Vec<i64>> = expected("fixed", "smooth").unwrap();
    let smooth = seg.smooth_frames();
    for (i, w) in want.iter().enumerate() {
        assert_same(&format!("smoothed signal {i}"), smooth.digital(i), w);
    }
    let smooth = rec.read_signals().unwrap().smooth_frames();
    for (i, w) in want.iter().enumerate() {
        assert_same(&format!("smoothed signal {i}"), smooth.digital(i), w);
    }
}

/// Segment ranges and per-segment specs: null segments and missing signals have none.
#[test]
fn segments_and_their_specs() {
    let rec = Record::open(dir().join("vgain")).unwrap();
    let seg = rec.read_segmented().unwrap();
    let ranges: Vec<(&str, std::ops::Range<usize>)> = seg.segments().collect();
    assert_eq!(
        ranges,
        [
            ("vgain_1", 0..26),
            ("vgain_2", 26..45),
            ("~", 45..54),
            ("vgain_3", 54..75)
        ]
    );
    assert_eq!(seg.segment_spec(1, 1).unwrap().gain, 50.0);
    assert_eq!(seg.segment_spec(1, 1).unwrap().baseline, 100);
    assert!(seg.segment_spec(1, 0).is_none());
    assert!(seg.segment_spec(2, 0).is_none() && seg.segment_spec(2, 1).is_none());
    assert_eq!(seg.specs()[1].gain, 200.0);
    // The null stretch is the invalid value, NaN in physical units.
    assert!(seg.digital(0)[45..54].iter().all(|&v| v == -32768));
    assert!(seg.physical_f64(0)[26..54].iter().all(|v| v.is_nan()));
    // An ordinary record reads as one segment.
    let plain = Record::open(dir().join("var_1")).unwrap();
    let one = plain.read_segmented().unwrap();
    assert_eq!(one.segments().count(), 1);
    assert_eq!(one.digital(2), plain.read_signals().unwrap().digital(2));
}

/// Copies the fixture folder into a temporary one, writes `files` (name, text) over it.
fn edited(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    tmp
}

fn read_err(tmp: &tempfile::TempDir, name: &str) -> String {
    match Record::open(tmp.path().join(name)) {
        Err(e) => e.to_string(),
        Ok(rec) => rec.read_segmented().unwrap_err().to_string(),
    }
}

/// Files written over the fixtures, the record opened, and what the error must say.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);

#[test]
fn malformed_records_are_refused_naming_the_file() {
    let cases: &[Case] = &[
        // A missing segment header.
        (
            &[("m.hea", "m/2 2 250 60\nfixed_1 40\nnope 20\n")],
            "m",
            &["nope.hea"],
        ),
        // A segment longer than its file.
        (
            &[
                (
                    "fixed_2.hea",
                    "fixed_2 2 250 26\nfixed_2.dat 16 200 0 0 0 0 0 I\nfixed_2.dat 16x2 100(10) 0 0 0 0 0 II\n",
                ),
                ("m.hea", "m/2 2 250 66\nfixed_1 40\nfixed_2 26\n"),
            ],
            "m",
            &["fixed_2.dat", "truncated"],
        ),
        // Segment lengths that disagree with the segment.
        (
            &[("m.hea", "m/2 2 250 60\nfixed_1 40\nfixed_2 20\n")],
            "m",
            &["fixed_2.hea", "holds 25 frames", "20"],
        ),
        (
            &[("m.hea", "m/2 2 250 61\nfixed_1 40\nfixed_2 20\n")],
            "m",
            &["m.hea", "claims 61 samples"],
        ),
        // Segment paths leaving the folder.
        (
            &[("m.hea", "m/2 2 250 65\nfixed_1 40\n../fixed_2 25\n")],
            "m",
            &["m.hea:3", "inside the record's folder"],
        ),
        (
            &[("m.hea", "m/1 2 250 40\n/tmp/fixed_1 40\n")],
            "m",
            &["m.hea:2", "inside the record's folder"],
        ),
        // A fixed-layout segment with another number of signals.
        (
            &[("m.hea", "m/2 2 250 75\nfixed_1 40\nvar_1 35\n")],
            "m",
            &["var_1.hea", "has 3 signals"],
        ),
        // Samples per frame differing between segments.
        (
            &[
                ("m.hea", "m/2 2 250 75\nfixed_1 40\nvgain_1 35\n"),
                (
                    "vgain_1.hea",
                    "vgain_1 2 250 35\nvgain_1.dat 16 200 0 0 0 0 0 I\nvgain_1.dat 16 200 0 0 0 0 0 II\n",
                ),
            ],
            "m",
            &["vgain_1.hea", "samples per frame"],
        ),
        // Another sampling frequency.
        (
            &[("m.hea", "m/2 2 360 65\nfixed_1 40\nfixed_2 25\n")],
            "m",
            &["fixed_1.hea", "sampling frequency"],
        ),
        // A segment that is itself multi-segment.
        (
            &[("m.hea", "m/2 2 250 136\nfixed_1 40\nfixed 96\n")],
            "m",
            &["fixed.hea", "itself a multi-segment"],
        ),
        // A layout header with another signal count, or missing.
        (
            &[("m.hea", "m/2 2 250 35\nvar_layout 0\nvar_1 35\n")],
            "m",
            &["var_layout.hea", "has 3 signals", "announces 2"],
        ),
        (
            &[("m.hea", "m/2 3 250 35\nno_layout 0\nvar_1 35\n")],
            "m",
            &["no_layout.hea"],
        ),
        // Only null segments in a fixed layout: nothing describes the signals.
        (
            &[("m.hea", "m/1 2 250 35\n~ 35\n")],
            "m",
            &["m.hea", "every segment is null"],
        ),
        // A huge null segment is refused before anything is allocated.
        (
            &[(
                "m.hea",
                "m/2 2 250 1000000000040\nfixed_1 40\n~ 1000000000000\n",
            )],
            "m",
            &["m.hea", "invalid samples"],
        ),
        (
            &[(
                "m.hea",
                "m/2 3 250 18446744073709551615\nvar_layout 0\n~ 18446744073709551615\n",
            )],
            "m",
            &["m.hea"],
        ),
    ];
    for (files, name, want) in cases {
        let tmp = edited(files);
        let e = read_err(&tmp, name);
        for w in *want {
            assert!(e.contains(w), "{files:?}: `{w}` not in: {e}");
        }
    }
}

/// A null segment in a fixed layout (wfdb-python 4.3.1 fails on it with an AttributeError)
/// reads as invalid samples between the others.
#[test]
fn null_segment_in_a_fixed_layout() {
    let tmp = edited(&[("m.hea", "m/3 2 250 96\nfixed_1 40\n~ 25\nfixed_3 31\n")]);
    let rec = Record::open(tmp.path().join("m")).unwrap();
    let got = rec.read_signals().unwrap();
    let want: Vec<Vec<i64>> = expected("fixed", "digital").unwrap();
    for (i, w) in want.iter().enumerate() {
        let spf = [1, 2][i];
        let d = got.digital(i);
        assert_same("before", &d[..40 * spf], &w[..40 * spf]);
        assert!(d[40 * spf..65 * spf].iter().all(|&v| v == -32768));
        assert_same("after", &d[65 * spf..], &w[65 * spf..]);
        let p = got.physical_f64(i);
        assert!(p[40 * spf..65 * spf].iter().all(|v| v.is_nan()));
    }
}

/// Views refuse multi-segment records; the annotation bound is the whole record's length.
#[test]
fn views_refuse_multi_segment_records() {
    let rec = Record::open(dir().join("var")).unwrap();
    let e = rec.view(0).unwrap_err();
    assert!(matches!(e, WfdbError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("var.hea"), "{e}");
    assert_eq!(rec.samples_per_signal().unwrap(), Some(100));
    // Selecting a signal twice or one that does not exist is an error, not a panic.
    assert!(rec.read_selected(&[0, 0]).is_err());
    assert!(rec.read_selected(&[3]).is_err());
}

/// The parsed master header renders back to itself.
#[test]
fn master_headers_round_trip() {
    for name in names() {
        let path = dir().join(format!("{name}.hea"));
        let h = Header::parse(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert!(h.signals.is_empty());
        assert_eq!(Header::parse(h.to_text().as_bytes(), &path).unwrap(), h);
    }
}
