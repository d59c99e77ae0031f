//! Write -> read round trips and the error paths of reading, on records written here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

use std::path::Path;

use proptest::prelude::*;
use wonhee_wfdb::write::{SignalData, write_annotations, write_record};
use wonhee_wfdb::{Annotation, Annotations, Format, Header, Record, SignalSpec, WfdbError};

fn two_signals(n: usize) -> Vec<SignalData> {
    let mut a = SignalSpec::new("", Format::F212, "MLII");
    a.adc_zero = 1024;
    a.baseline = 1024;
    a.adc_res = 11;
    let mut b = SignalSpec::new("", Format::F212, "V5");
    b.gain = 100.0;
    b.baseline = -3;
    vec![
        SignalData {
            spec: a,
            samples: (0..n).map(|i| ((i * 37) % 4095) as i32 - 2047).collect(),
        },
        SignalData {
            spec: b,
            samples: (0..n).map(|i| ((i * 11) % 300) as i32 - 150).collect(),
        },
    ]
}

#[test]
fn record_round_trip_212_and_16() {
    let dir = tempfile::tempdir().unwrap();
    for (fmt, n) in [(Format::F212, 1001), (Format::F16, 1000), (Format::F212, 0)] {
        let sigs = two_signals(n);
        write_record(dir.path(), "r", 360.0, fmt, &sigs, &["a comment".into()]).unwrap();
        let rec = Record::open(dir.path().join("r.hea")).unwrap();
        assert_eq!(rec.header().comments, vec!["a comment"]);
        assert_eq!(rec.header().sig_len, Some(n as u64));
        let s = rec.read_signals().unwrap();
        assert_eq!(s.n_samples(), n);
        for i in 0..2 {
            assert_eq!(
                s.digital(i),
                sigs[i].samples.as_slice(),
                "{fmt:?} signal {i}"
            );
            assert_eq!(s.specs()[i].gain, sigs[i].spec.gain);
            assert_eq!(s.specs()[i].baseline, sigs[i].spec.baseline);
            assert_eq!(s.specs()[i].description, sigs[i].spec.description);
        }
        // Selected subset, reversed order.
        let sel = rec.read_selected(&[1, 0]).unwrap();
        assert_eq!(sel.digital(0), sigs[1].samples.as_slice());
        if n > 0 {
            let p = sel.physical_f64(0);
            assert_eq!(p[3], (f64::from(sigs[1].samples[3]) + 3.0) / 100.0);
        }
    }
}

/// `k` signals of `n` samples for `fmt`: its extremes and the invalid value where it has
/// them, steps within -128..=127 for format 8 (from a non-zero start).
fn signals_for(fmt: Format, k: usize, n: usize) -> Vec<SignalData> {
    let (lo, hi) = fmt.digital_range();
    (0..k)
        .map(|c| {
            let samples = (0..n)
                .map(|i| {
                    let i = i as i64 + c as i64 * 5;
                    if fmt == Format::F8 {
                        // Steps of +127, -128, -50..=50 and 0 from a start of its own.
                        let step = |j: i64| match j % 4 {
                            0 => 0,
                            1 => 127,
                            2 => -128,
                            _ => j % 101 - 50,
                        };
                        let start = c as i64 * 1000 - 500;
                        (start + (0..i).map(step).sum::<i64>()) as i32
                    } else {
                        match i % 5 {
                            0 => lo,
                            1 => hi,
                            2 => lo + 1,
                            _ => {
                                (i64::from(lo) + (i * 7919) % (i64::from(hi) - i64::from(lo)))
                                    as i32
                            }
                        }
                    }
                })
                .collect();
            let mut spec = SignalSpec::new("", fmt, format!("s{c}"));
            spec.baseline = c as i32 - 1;
            spec.gain = 100.0 + c as f64;
            SignalData { spec, samples }
        })
        .collect()
}

/// Every writable format, 1 to 3 signals, 1 to 7 samples and a longer record: written, then
/// read whole, by selection and (but format 8) through views, as written.
#[test]
fn record_round_trip_every_writable_format() {
    let dir = tempfile::tempdir().unwrap();
    for fmt in [
        Format::F8,
        Format::F16,
        Format::F80,
        Format::F212,
        Format::F310,
        Format::F311,
    ] {
        for k in 1..=3 {
            for n in (1..=7).chain([1000]) {
                let sigs = signals_for(fmt, k, n);
                let name = format!("w{}_{k}_{n}", fmt.code());
                write_record(dir.path(), &name, 250.0, fmt, &sigs, &[]).unwrap();
                let rec = Record::open(dir.path().join(&name)).unwrap();
                let whole = rec.read_signals().unwrap();
                assert_eq!(whole.n_samples(), n, "{name}");
                for (i, s) in sigs.iter().enumerate() {
                    assert_eq!(whole.digital(i), s.samples.as_slice(), "{name} signal {i}");
                    let one = rec.read_selected(&[i]).unwrap();
                    assert_eq!(one.digital(0), s.samples.as_slice(), "{name} signal {i}");
                    match rec.view(i) {
                        Ok(v) => {
                            assert_ne!(fmt, Format::F8);
                            let mut got = vec![0f32; n];
                            v.physical_into(0, &mut got).unwrap();
                            let want = whole.physical_f32(i);
                            assert!(
                                got.iter()
                                    .zip(&want)
                                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                                "{name} signal {i}"
                            );
                        }
                        Err(e) => {
                            assert_eq!(fmt, Format::F8, "{e}");
                            assert!(matches!(e, WfdbError::Unsupported { .. }), "{e}");
                            assert!(e.to_string().contains("format 8"), "{e}");
                        }
                    }
                }
            }
        }
    }
}

/// The writer refuses what the format cannot hold, naming the signal and sample.
#[test]
fn writer_refuses_values_and_steps_outside_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let sig = |samples: Vec<i32>| SignalData {
        spec: SignalSpec::new("", Format::F16, "x"),
        samples,
    };
    for (fmt, bad, what) in [
        (Format::F310, vec![0, 512], "sample 1 = 512"),
        (Format::F311, vec![-513], "sample 0 = -513"),
        (Format::F80, vec![128], "sample 0 = 128"),
        (
            Format::F8,
            vec![0, 127, -1, -130],
            "sample 3: difference -129",
        ),
        (Format::F8, vec![0, 128], "sample 1: difference 128"),
        (
            Format::F8,
            vec![i32::MIN, i32::MAX],
            "sample 1: difference 4294967295",
        ),
    ] {
        let e = write_record(
            dir.path(),
            "bad",
            360.0,
            fmt,
            &[sig(vec![0; bad.len()]), sig(bad)],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("bad.hea") && e.contains("signal 1") && e.contains(what),
            "{e}"
        );
    }
    assert!(!dir.path().join("bad.hea").exists());
    // Steps of exactly -128 and 127 are fine.
    write_record(
        dir.path(),
        "ok",
        360.0,
        Format::F8,
        &[sig(vec![0, -128, -1])],
        &[],
    )
    .unwrap();
}

/// A signal file cut short, in the new formats, is an error naming it (both readers).
#[test]
fn truncated_files_of_the_packed_formats_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    for fmt in [Format::F8, Format::F310, Format::F311] {
        for (k, n) in [(1, 5), (2, 4), (3, 7), (1, 1)] {
            let name = format!("t{}_{k}_{n}", fmt.code());
            write_record(dir.path(), &name, 360.0, fmt, &signals_for(fmt, k, n), &[]).unwrap();
            let dat = dir.path().join(format!("{name}.dat"));
            let bytes = std::fs::read(&dat).unwrap();
            // One byte short of what reading needs (311 pads a trailing pair by one byte).
            let need = fmt.bytes_for((k * n) as u64).unwrap() as usize;
            std::fs::write(&dat, &bytes[..need - 1]).unwrap();
            let rec = Record::open(dir.path().join(&name)).unwrap();
            let e = rec.read_signals().unwrap_err();
            assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");
            assert!(e.to_string().contains(&format!("{name}.dat")), "{e}");
            if fmt != Format::F8 {
                let e = rec.view(0).unwrap_err().to_string();
                assert!(
                    e.contains(&format!("{name}.dat")) && e.contains("truncated"),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn reused_buffers_read_what_fresh_ones_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut buf = wonhee_wfdb::ReadBuffers::default();
    // Large record first, then a smaller one and a different format through the same buffers:
    // stale samples of the earlier read must not survive.
    for (name, fmt, n) in [
        ("a", Format::F212, 5001),
        ("b", Format::F16, 777),
        ("c", Format::F212, 3),
    ] {
        let sigs = two_signals(n);
        write_record(dir.path(), name, 360.0, fmt, &sigs, &[]).unwrap();
        let rec = Record::open(dir.path().join(name)).unwrap();
        for sel in [vec![0usize], vec![1], vec![1, 0]] {
            let mut seen = Vec::new();
            let got = rec
                .read_selected_into(&sel, &mut buf, &mut |p, b| {
                    seen.push((p.to_path_buf(), b.to_vec()))
                })
                .unwrap();
            assert_eq!(got, n);
            for (slot, &i) in sel.iter().enumerate() {
                assert_eq!(
                    buf.signal(slot),
                    sigs[i].samples.as_slice(),
                    "{name} {sel:?}"
                );
            }
            // The callback saw the signal file, byte for byte, once.
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].1, std::fs::read(&seen[0].0).unwrap());
            assert_eq!(seen[0].0, dir.path().join(format!("{name}.dat")));
        }
    }
    assert!(buf.signal(5).is_empty());
}

#[test]
fn length_comes_from_the_file_when_the_header_omits_it() {
    let dir = tempfile::tempdir().unwrap();
    for (fmt, n) in [(Format::F212, 1001), (Format::F16, 1000)] {
        write_record(dir.path(), "r", 360.0, fmt, &two_signals(n), &[]).unwrap();
        let hea = dir.path().join("r.hea");
        let text = std::fs::read_to_string(&hea).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let first: Vec<&str> = lines[0].split_whitespace().take(3).collect();
        lines[0] = first.join(" ");
        std::fs::write(&hea, lines.join("\n") + "\n").unwrap();
        let rec = Record::open(&hea).unwrap();
        assert_eq!(rec.header().sig_len, None);
        assert_eq!(rec.read_signals().unwrap().n_samples(), n, "{fmt:?}");
    }
}

#[test]
fn invalid_marker_is_nan() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigs = two_signals(10);
    sigs[0].samples[4] = -2048;
    write_record(dir.path(), "r", 360.0, Format::F212, &sigs, &[]).unwrap();
    let s = Record::open(dir.path().join("r"))
        .unwrap()
        .read_signals()
        .unwrap();
    assert!(s.physical_f32(0)[4].is_nan());
    assert!(s.physical_f64(0)[4].is_nan());
    assert!(!s.physical_f32(0)[5].is_nan());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&s.clone().into_physical_f32(0)),
        bits(&s.physical_f32(0))
    );
    let mut sigs = two_signals(10);
    sigs[1].samples[2] = -32768;
    write_record(dir.path(), "q", 360.0, Format::F16, &sigs, &[]).unwrap();
    let s = Record::open(dir.path().join("q"))
        .unwrap()
        .read_signals()
        .unwrap();
    assert!(s.physical_f64(1)[2].is_nan());
}

#[test]
fn writer_rejects_out_of_range_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigs = two_signals(10);
    sigs[0].samples[3] = 5000;
    let e = write_record(dir.path(), "r", 360.0, Format::F212, &sigs, &[]).unwrap_err();
    assert!(e.to_string().contains("sample 3 = 5000"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

fn write_ok(dir: &Path) {
    write_record(dir, "r", 360.0, Format::F212, &two_signals(100), &[]).unwrap();
}

#[test]
fn truncated_signal_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_ok(dir.path());
    let dat = dir.path().join("r.dat");
    let bytes = std::fs::read(&dat).unwrap();
    std::fs::write(&dat, &bytes[..bytes.len() - 7]).unwrap();
    let e = Record::open(dir.path().join("r"))
        .unwrap()
        .read_signals()
        .unwrap_err();
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("r.dat") && msg.contains("truncated at byte 293"),
        "{msg}"
    );
}

#[test]
fn huge_claimed_length_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    write_ok(dir.path());
    let hea = dir.path().join("r.hea");
    let text =
        std::fs::read_to_string(&hea)
            .unwrap()
            .replacen("360 100", "360 18446744073709551615", 1);
    std::fs::write(&hea, text).unwrap();
    let e = Record::open(dir.path().join("r"))
        .unwrap()
        .read_signals()
        .unwrap_err();
    assert!(e.to_string().contains("overflows"), "{e}");
    let text =
        std::fs::read_to_string(&hea)
            .unwrap()
            .replacen("18446744073709551615", "4000000000000", 1);
    std::fs::write(&hea, text).unwrap();
    let e = Record::open(dir.path().join("r"))
        .unwrap()
        .read_signals()
        .unwrap_err();
    assert!(matches!(e, WfdbError::Truncated { .. }), "{e}");
}

#[test]
fn missing_files_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let e = Record::open(dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.hea"), "{e}");
    write_ok(dir.path());
    std::fs::remove_file(dir.path().join("r.dat")).unwrap();
    let rec = Record::open(dir.path().join("r")).unwrap();
    let e = rec.read_signals().unwrap_err().to_string();
    assert!(e.contains("r.dat"), "{e}");
    let e = rec.read_selected(&[7]).unwrap_err().to_string();
    assert!(e.contains("signal 7 does not exist"), "{e}");
    let e = rec.read_selected(&[0, 0]).unwrap_err().to_string();
    assert!(e.contains("twice"), "{e}");
    let e = Annotations::open(dir.path().join("r"), "../x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("annotator"), "{e}");
}

#[test]
fn length_from_file_size_when_header_omits_it() {
    let dir = tempfile::tempdir().unwrap();
    write_ok(dir.path());
    let hea = dir.path().join("r.hea");
    let text = std::fs::read_to_string(&hea)
        .unwrap()
        .replacen("360 100", "360", 1);
    std::fs::write(&hea, text).unwrap();
    let s = Record::open(&hea).unwrap().read_signals().unwrap();
    assert_eq!(s.n_samples(), 100);
}

#[test]
fn other_formats_read_by_hand_written_files() {
    // Formats 61, 80, 160, 24, 32 are read-only: write their bytes by hand.
    let dir = tempfile::tempdir().unwrap();
    let cases: [(u16, Vec<u8>, Vec<i32>); 5] = [
        (61, vec![0x01, 0x02, 0xFF, 0xFE], vec![0x0102, -2]),
        (80, vec![0, 128, 255, 129], vec![-128, 0, 127, 1]),
        (160, vec![0, 0x80, 0xFF, 0xFF], vec![0, 32767]),
        (24, vec![1, 0, 0, 0xFF, 0xFF, 0xFF], vec![1, -1]),
        (32, vec![0, 0, 0, 0x80, 5, 0, 0, 0], vec![i32::MIN, 5]),
    ];
    for (code, bytes, expected) in cases {
        std::fs::write(dir.path().join("h.dat"), &bytes).unwrap();
        std::fs::write(
            dir.path().join("h.hea"),
            format!("h 1 100\nh.dat {code} 10(1)/uV 16 0 0 0 0 x\n"),
        )
        .unwrap();
        let s = Record::open(dir.path().join("h"))
            .unwrap()
            .read_signals()
            .unwrap();
        assert_eq!(s.digital(0), expected.as_slice(), "format {code}");
        assert_eq!(s.specs()[0].units, "uV");
    }
    // Byte offset and three signals in one 212 file (pairs straddle frames).
    let sigs: Vec<Vec<i32>> = vec![vec![1, 2, 3], vec![-4, -5, -6], vec![700, 800, -900]];
    let mut specs = Vec::new();
    let mut bytes = vec![0xAA; 5];
    {
        let data: Vec<SignalData> = sigs
            .iter()
            .map(|s| SignalData {
                spec: SignalSpec::new("", Format::F212, "s"),
                samples: s.clone(),
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        write_record(tmp.path(), "t", 100.0, Format::F212, &data, &[]).unwrap();
        bytes.extend(std::fs::read(tmp.path().join("t.dat")).unwrap());
        for i in 0..3 {
            specs.push(format!("o.dat 212+5 200 12 0 0 0 0 s{i}"));
        }
    }
    std::fs::write(dir.path().join("o.dat"), bytes).unwrap();
    std::fs::write(
        dir.path().join("o.hea"),
        format!("o 3 100 3\n{}\n", specs.join("\n")),
    )
    .unwrap();
    let s = Record::open(dir.path().join("o"))
        .unwrap()
        .read_signals()
        .unwrap();
    for (i, sig) in sigs.iter().enumerate() {
        assert_eq!(s.digital(i), sig.as_slice());
    }
}

#[test]
fn annotations_round_trip_with_every_pseudo_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut anns = Vec::new();
    let mut a = Annotation::new(18, 28);
    a.aux = b"(N".to_vec();
    anns.push(a);
    let mut a = Annotation::new(77, 1);
    a.chan = 1;
    a.num = -3;
    anns.push(a);
    let mut a = Annotation::new(80, 5); // inherits chan 1 / num -3
    a.chan = 1;
    a.num = -3;
    a.subtype = -128;
    anns.push(a);
    let mut a = Annotation::new(80 + 5000, 8);
    a.aux = b"odd".to_vec();
    anns.push(a);
    anns.push(Annotation::new(40, 14)); // backwards in time
    write_annotations(&dir.path().join("r"), "tst", &anns).unwrap();
    let back = Annotations::open(dir.path().join("r"), "tst").unwrap();
    assert_eq!(back.annotator, "tst");
    assert_eq!(back.annotations, anns);
    let raw = std::fs::read(dir.path().join("r.tst")).unwrap();
    // NUM (60) and CHN (62) pseudo-annotations are present in the bytes.
    let codes: Vec<u16> = raw
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]) >> 10)
        .collect();
    assert!(
        codes.contains(&60) && codes.contains(&62) && codes.contains(&61) && codes.contains(&59)
    );
}

fn arb_annotation() -> impl Strategy<Value = Annotation> {
    (
        0i64..5_000_000,
        1u8..=58,
        any::<i8>(),
        any::<u8>(),
        any::<i8>(),
        proptest::collection::vec(1u8..=255, 0..40),
    )
        .prop_map(|(sample, code, subtype, chan, num, aux)| Annotation {
            sample,
            code,
            subtype,
            chan,
            num,
            aux,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn annotation_encoding_round_trips(anns in proptest::collection::vec(arb_annotation(), 0..60)) {
        // Code 22 notes at sample 0 starting with "## " are definitions, not data: avoid them.
        let anns: Vec<Annotation> = anns.into_iter().filter(|a| !(a.sample == 0 && a.code == 22)).collect();
        let bytes = Annotations::encode(&anns, Path::new("p")).unwrap();
        let back = Annotations::parse(&bytes, Path::new("p")).unwrap();
        prop_assert_eq!(back.annotations, anns);
    }

    #[test]
    fn random_annotation_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Annotations::parse(&bytes, Path::new("p"));
    }

    #[test]
    fn random_header_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Header::parse(&bytes, Path::new("p"));
    }

    #[test]
    fn header_like_text_never_panics(
        lines in proptest::collection::vec("[a-z0-9 ./:+x()#-]{0,40}", 0..6)
    ) {
        let _ = Header::parse(lines.join("\n").as_bytes(), Path::new("p"));
    }

    #[test]
    fn random_signal_files_never_panic(
        dat in proptest::collection::vec(any::<u8>(), 0..300),
        fmt in prop::sample::select(vec![8u16, 16, 24, 32, 61, 80, 160, 212, 310, 311]),
        nsig in 1usize..4,
        len in prop::option::of(0u64..400),
        offset in 0u64..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.dat"), &dat).unwrap();
        let len_tok = len.map(|l| format!(" {l}")).unwrap_or_default();
        let mut hea = format!("f {nsig} 100{len_tok}\n");
        for _ in 0..nsig {
            hea.push_str(&format!("f.dat {fmt}+{offset}\n"));
        }
        std::fs::write(dir.path().join("f.hea"), hea).unwrap();
        if let Ok(s) = Record::open(dir.path().join("f")).and_then(|r| r.read_signals()) {
            prop_assert_eq!(s.n_signals(), nsig);
            for i in 0..nsig {
                prop_assert_eq!(s.digital(i).len(), s.n_samples());
            }
        }
        if let Ok(r) = Record::open(dir.path().join("f")) {
            for i in 0..nsig {
                if let Ok(v) = r.view(i) {
                    let mut out = vec![0f32; v.len()];
                    prop_assert!(v.physical_into(0, &mut out).is_ok());
                }
            }
        }
    }
}

/// Found by `cargo fuzz run header`: a multi-byte character right after the format number
/// (`24\u{98}`) was sliced inside the character and panicked.
#[test]
fn format_modifier_that_is_not_ascii_is_an_error_not_a_panic() {
    let text = "r 1 360 10\nr.dat 24\u{98} 200\n";
    let err = Header::parse(text.as_bytes(), Path::new("r.hea")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("r.hea"), "{msg}");
    assert!(msg.contains("modifier"), "{msg}");
}
