//! `wonhee predict` on any ECG: WFDB with detected or annotated beats, CSV and EDF at other
//! rates, the shipped model, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use common::{csv_column, fixtures, stderr_of, wonhee};

/// The fixture record's MLII in physical units, and its rate.
fn fixture_mlii() -> (Vec<f32>, f64) {
    let rec = wonhee_wfdb::Record::open(fixtures().join("synth/s100")).unwrap();
    let fs = rec.header().fs;
    (rec.read_selected(&[0]).unwrap().physical_f32(0), fs)
}

/// Linear interpolation of `x` (at `fs`) onto `fs_out`: a crude resampling, enough to give a
/// recording at another rate.
fn at_rate(x: &[f32], fs: f64, fs_out: f64) -> Vec<f32> {
    let n = (x.len() as f64 * fs_out / fs) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * fs / fs_out;
            let (k, f) = (t.floor() as usize, t.fract() as f32);
            let b = x[(k + 1).min(x.len() - 1)];
            x[k] * (1.0 - f) + b * f
        })
        .collect()
}

fn write_csv(path: &Path, x: &[f32], fs: f64, time: bool) {
    let mut s = String::from(if time { "time,MLII\n" } else { "MLII\n" });
    for (i, v) in x.iter().enumerate() {
        if time {
            s.push_str(&format!("{},{v}\n", i as f64 / fs));
        } else {
            s.push_str(&format!("{v}\n"));
        }
    }
    std::fs::write(path, s).unwrap();
}

fn predict(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    wonhee()
        .arg("predict")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn classes(out: &Path) -> Vec<String> {
    csv_column(out, "pred_class")
}

#[test]
fn the_shipped_model_classifies_detected_beats_of_a_record_a_csv_and_an_edf() {
    let tmp = tempfile::tempdir().unwrap();
    let record = fixtures().join("synth/s100");
    // WFDB, detected beats, shipped model (no --run): a table and an annotation file.
    let table = tmp.path().join("s100.csv");
    let o = predict(&record, &table, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let header = std::fs::read_to_string(&table).unwrap();
    assert!(
        header.starts_with("sample,time_s,pred_class,p_N,p_S,p_V,p_F,p_Q"),
        "{header}"
    );
    let wfdb_classes = classes(&table);
    let ann = wonhee_wfdb::Record::open(&record)
        .unwrap()
        .annotations("atr")
        .unwrap();
    let reference = ann
        .annotations
        .iter()
        .filter(|a| {
            wonhee_dataset::ClassScheme::Aami5
                .label(a.symbol())
                .is_some()
        })
        .count();
    assert!(
        wfdb_classes.len().abs_diff(reference) <= 2,
        "{} detected, {reference} annotated",
        wfdb_classes.len()
    );
    let qrs = tmp.path().join("s100.cls");
    let o = predict(&record, &qrs, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let written = wonhee_wfdb::Annotations::read_file(&qrs, "cls").unwrap();
    assert_eq!(written.annotations.len(), wfdb_classes.len());
    for (a, c) in written.annotations.iter().zip(&wfdb_classes) {
        let want = if c == "S" { "A" } else { c.as_str() };
        assert_eq!(a.symbol(), want);
    }

    // The same lead as a CSV with a time column, and as an EDF: the same beats and classes.
    let (x, fs) = fixture_mlii();
    let csv = tmp.path().join("s100_in.csv");
    write_csv(&csv, &x, fs, true);
    let out = tmp.path().join("from_csv.csv");
    let o = predict(&csv, &out, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(csv_column(&out, "sample"), csv_column(&table, "sample"));
    assert_eq!(classes(&out), wfdb_classes);
    let edf = tmp.path().join("s100.edf");
    let lead = wonhee_input::Lead {
        name: "MLII".into(),
        unit: "mV".into(),
        fs,
        samples: x.clone(),
    };
    wonhee_input::write_edf(&edf, &[lead]).unwrap();
    let out = tmp.path().join("from_edf.csv");
    let o = predict(&edf, &out, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(csv_column(&out, "sample"), csv_column(&table, "sample"));
    let same = classes(&out)
        .iter()
        .zip(&wfdb_classes)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        same + 1 >= wfdb_classes.len(),
        "{same} of {}",
        wfdb_classes.len()
    );

    // At 250 Hz, no time column: --fs; the samples are at the input's rate.
    let x250 = at_rate(&x, fs, 250.0);
    let csv250 = tmp.path().join("s100_250.csv");
    write_csv(&csv250, &x250, 250.0, false);
    let out = tmp.path().join("from_250.csv");
    let o = predict(&csv250, &out, &["--fs", "250"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let s360: Vec<f64> = csv_column(&table, "time_s")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let s250: Vec<f64> = csv_column(&out, "time_s")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        s250.len().abs_diff(s360.len()) <= 1,
        "{} vs {}",
        s250.len(),
        s360.len()
    );
    let near = s250
        .iter()
        .filter(|t| s360.iter().any(|u| (*t - u).abs() < 0.02))
        .count();
    assert!(near + 1 >= s250.len(), "{near} of {}", s250.len());
    let samples: Vec<i64> = csv_column(&out, "sample")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(samples.iter().all(|&s| (s as usize) < x250.len()));
}

#[test]
fn annotated_beats_give_the_reference_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let record = fixtures().join("synth/s100");
    let out = tmp.path().join("atr.csv");
    let o = predict(&record, &out, &["--beats", "atr"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let header = std::fs::read_to_string(&out).unwrap();
    let header = header.lines().next().unwrap();
    assert_eq!(
        header,
        "sample,time_s,pred_class,p_N,p_S,p_V,p_F,p_Q,padded,symbol,true_class"
    );
    assert!(stderr_of(&o).contains("agree with the annotations"));
    let ann = wonhee_wfdb::Record::open(&record)
        .unwrap()
        .annotations("atr")
        .unwrap();
    let beats = ann
        .annotations
        .iter()
        .filter(|a| {
            wonhee_dataset::ClassScheme::Aami5
                .label(a.symbol())
                .is_some()
        })
        .count();
    assert_eq!(csv_column(&out, "true_class").len(), beats);
    // A CSV has no annotation file.
    let (x, fs) = fixture_mlii();
    let csv = tmp.path().join("in.csv");
    write_csv(&csv, &x, fs, true);
    let out = tmp.path().join("no.csv");
    let o = predict(&csv, &out, &["--beats", "atr"]);
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("in.csv"), "{}", stderr_of(&o));
    assert!(!out.exists());
}

/// Writes `text` as `name` in `dir`; returns its path.
fn file(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_input_is_a_clear_error_with_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, fs) = fixture_mlii();
    let mut text = String::from("time,MLII\n");
    for (i, v) in x.iter().enumerate().take(4000) {
        if i == 1000 {
            text.push_str(&format!("{},abc\n", i as f64 / fs));
        } else {
            text.push_str(&format!("{},{v}\n", i as f64 / fs));
        }
    }
    let cases: Vec<(PathBuf, Vec<&str>, Vec<&str>)> = vec![
        // Text in a number column: the line (header is line 1) and the column.
        (
            file(tmp.path(), "text.csv", text.as_bytes()),
            vec![],
            vec!["text.csv", "1002"],
        ),
        (
            file(tmp.path(), "empty.csv", b""),
            vec![],
            vec!["empty.csv"],
        ),
        (
            file(tmp.path(), "nofs.csv", b"MLII\n0.1\n0.2\n0.3\n"),
            vec![],
            vec!["nofs.csv", "--fs"],
        ),
        (
            file(tmp.path(), "corrupt.edf", &[b'0'; 300]),
            vec![],
            vec!["corrupt.edf"],
        ),
    ];
    for (input, extra, needles) in cases {
        let out = tmp.path().join("out.csv");
        let o = predict(&input, &out, &extra);
        assert!(!o.status.success(), "{}", input.display());
        let err = stderr_of(&o);
        for n in needles {
            assert!(err.contains(n), "{}: `{n}` not in {err}", input.display());
        }
        assert!(!out.exists(), "{}", input.display());
    }
    // A rate below 100 Hz: the detector's error, naming the input.
    let low = tmp.path().join("low.csv");
    write_csv(&low, &at_rate(&x, fs, 80.0), 80.0, false);
    let out = tmp.path().join("low_out.csv");
    let o = predict(&low, &out, &["--fs", "80"]);
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("low.csv") && stderr_of(&o).contains("100 to 1000 Hz"),
        "{}",
        stderr_of(&o)
    );
    assert!(!out.exists());
    // All zeros: nothing usable, an error naming the input.
    let zero = tmp.path().join("zero.csv");
    write_csv(&zero, &vec![0.0; 3600], 360.0, false);
    let o = predict(&zero, &out, &["--fs", "360"]);
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("zero.csv") && stderr_of(&o).contains("no usable signal"),
        "{}",
        stderr_of(&o)
    );
    assert!(!out.exists());
    // No header, so no lead named MLII: lead 0 is used, with a one-line warning.
    let bare: String = x.iter().map(|v| format!("{v}\n")).collect();
    let bare_csv = file(tmp.path(), "bare.csv", bare.as_bytes());
    let out = tmp.path().join("bare_out.csv");
    let o = predict(&bare_csv, &out, &["--fs", "360"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("bare.csv: no lead MLII (the model's); using lead 0"),
        "{}",
        stderr_of(&o)
    );
    // A NaN stretch: beats elsewhere and a warning naming the stretch.
    let mut gap = x.clone();
    gap[(20.0 * fs) as usize..(23.0 * fs) as usize].fill(f32::NAN);
    let mut s = String::from("MLII\n");
    for v in &gap {
        if v.is_nan() {
            s.push_str("NaN\n");
        } else {
            s.push_str(&format!("{v}\n"));
        }
    }
    let gap_csv = file(tmp.path(), "gap.csv", s.as_bytes());
    let out = tmp.path().join("gap_out.csv");
    let o = predict(&gap_csv, &out, &["--fs", "360"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("no usable signal from 20.00 s to 23.00 s (missing samples)"),
        "{}",
        stderr_of(&o)
    );
    let t: Vec<f64> = csv_column(&out, "time_s")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(t.iter().all(|t| !(20.0..23.0).contains(t)) && t.iter().any(|&t| t > 24.0));
}

#[test]
fn info_and_export_read_csv_and_edf() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, fs) = fixture_mlii();
    let edf = tmp.path().join("s.edf");
    let lead = wonhee_input::Lead {
        name: "MLII".into(),
        unit: "mV".into(),
        fs,
        samples: x.clone(),
    };
    wonhee_input::write_edf(&edf, &[lead]).unwrap();
    let o = wonhee()
        .arg("info")
        .arg(&edf)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "edf");
    assert_eq!(v["leads"][0]["name"], "MLII");
    assert_eq!(v["leads"][0]["samples"].as_u64(), Some(x.len() as u64));
    let csv = tmp.path().join("s.csv");
    write_csv(&csv, &x, fs, false);
    let out = tmp.path().join("exported.csv");
    let o = wonhee()
        .arg("export")
        .arg(&csv)
        .args(["--fs", "360", "--resample", "128", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let col = csv_column(&out, "MLII");
    assert_eq!(col.len(), x.len() * 128 / 360);
    let o = wonhee()
        .arg("export")
        .arg(&csv)
        .args(["--fs", "360", "--digital", "--out"])
        .arg(tmp.path().join("d.csv"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("s.csv"), "{}", stderr_of(&o));
}
