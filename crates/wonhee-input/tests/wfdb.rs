//! WFDB records through `wonhee-wfdb`: the same physical values, every signal, by any of the
//! record's path spellings.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use wonhee_input::{InputError, InputFormat, ReadOptions, open};
use wonhee_wfdb::write::{SignalData, write_record};
use wonhee_wfdb::{Format, Record, SignalSpec};

#[test]
fn a_written_record_reads_as_wonhee_wfdb_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000;
    let mut mlii = SignalSpec::new("", Format::F16, "MLII");
    mlii.baseline = 1024;
    let mut v1 = SignalSpec::new("", Format::F16, "");
    v1.gain = 400.0;
    v1.units = "uV".into();
    let signals = vec![
        SignalData {
            spec: mlii,
            samples: (0..n).map(|i| 1024 + (i * 37 % 400) - 200).collect(),
        },
        SignalData {
            spec: v1,
            // -32768 is format 16's invalid-sample marker: NaN.
            samples: (0..n)
                .map(|i| if i == 7 { -32768 } else { i * 13 % 3000 - 1500 })
                .collect(),
        },
    ];
    let hea = write_record(dir.path(), "rec", 360.0, Format::F16, &signals, &[]).unwrap();
    let whole = Record::open(&hea).unwrap().read_signals().unwrap();
    for path in [
        dir.path().join("rec"),
        hea.clone(),
        dir.path().join("rec.dat"),
    ] {
        let rec = open(&path, &ReadOptions::default()).unwrap();
        assert_eq!(rec.format, InputFormat::Wfdb);
        assert_eq!(rec.leads.len(), 2);
        let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["MLII", "1"]);
        assert_eq!(
            (rec.leads[0].unit.as_str(), rec.leads[1].unit.as_str()),
            ("mV", "uV")
        );
        for (i, l) in rec.leads.iter().enumerate() {
            assert_eq!(l.fs, 360.0);
            let want: Vec<u32> = whole.physical_f32(i).iter().map(|v| v.to_bits()).collect();
            let got: Vec<u32> = l.samples.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "lead {i}");
        }
        assert!(rec.leads[1].samples[7].is_nan());
        assert_eq!(rec.leads[0].samples[0], -1.0);
        assert_eq!(rec.lead_index(None).unwrap(), (0, None));
    }
    assert!(open(&hea, &ReadOptions { fs: Some(362.0) }).is_ok());
    let e = open(&hea, &ReadOptions { fs: Some(250.0) })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "rec.hea: lead `MLII` is sampled at 360 Hz, but the sampling rate given is \
                    250 Hz"
        ),
        "{e}"
    );
}

#[test]
fn wfdb_errors_pass_through_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("missing"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(e, InputError::Wfdb(_)), "{e:?}");
    assert!(e.to_string().contains("missing.hea"), "{e}");
    std::fs::write(
        dir.path().join("bad.hea"),
        "bad 1 360 10\nbad.dat 16 200 12 0 0\n",
    )
    .unwrap();
    let e = open(&dir.path().join("bad"), &ReadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("bad.dat"), "{e}");
}

/// A record with several samples per frame (`fixtures/wfdb/spf16`: `16x2`, `16x1`, `16x3` at a
/// 250 Hz frame rate): each lead comes at its own rate with all of its samples.
#[test]
fn each_lead_of_a_multi_frequency_record_has_its_own_rate() {
    let path = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../fixtures/wfdb/spf16");
    let rec = open(&path, &ReadOptions::default()).unwrap();
    let whole = Record::open(&path).unwrap().read_signals().unwrap();
    let frames = whole.n_frames();
    assert!(frames > 0);
    for (i, spf) in [2usize, 1, 3].into_iter().enumerate() {
        let lead = &rec.leads[i];
        assert_eq!(lead.fs, 250.0 * spf as f64, "lead {i}");
        assert_eq!(lead.samples.len(), frames * spf, "lead {i}");
        let expected = whole.physical_f32(i);
        assert!(
            lead.samples
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
            "lead {i}"
        );
    }
}
