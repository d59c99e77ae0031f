//! The `wonhee` binary end to end, on the synthetic fixtures (and on MIT-BIH where marked).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{csv_column, fixtures, prepare_synth, stderr_of, wonhee};

use std::path::Path;

fn read_parquet(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::{ParquetReader, SerReader};
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

#[test]
fn info_json_has_the_documented_keys() {
    let out = wonhee()
        .args(["info", "--json"])
        .arg(fixtures().join("synth/s101"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "record",
        "fs",
        "n_sig",
        "sig_len",
        "counter_freq",
        "base_counter",
        "base_time",
        "base_date",
        "signals",
        "annotations",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["record"], "s101");
    assert_eq!(v["n_sig"], 2);
    assert_eq!(v["sig_len"], 21600);
    let s1 = &v["signals"][1];
    for k in [
        "file",
        "fmt",
        "gain",
        "baseline",
        "adc_zero",
        "units",
        "description",
    ] {
        assert!(s1.get(k).is_some(), "signal key {k}");
    }
    assert_eq!(s1["description"], "MLII");
    assert_eq!(s1["fmt"], 212);
    let atr = &v["annotations"]["atr"];
    let n: u64 = atr["symbols"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(atr["count"].as_u64().unwrap(), n);
    assert!(atr["symbols"]["L"].as_u64().unwrap() > 10);
    // `.hea` accepted; text mode; a folder means every record.
    let out = wonhee()
        .arg("info")
        .arg(fixtures().join("synth/s100.hea"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("record s100: 2 signal(s) at 360 Hz"));
    let out = wonhee()
        .args(["info", "--json"])
        .arg(fixtures().join("synth"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
}

#[test]
fn export_csv_parquet_digital_and_selection() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("s.csv");
    let rec = fixtures().join("synth/s100");
    wonhee()
        .args(["export"])
        .arg(&rec)
        .arg("--out")
        .arg(&csv)
        .assert()
        .success();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "sample,MLII,V5");
    assert_eq!(text.lines().count(), 21_601);
    // Physical units match the library's conversion.
    let sig = wonhee_wfdb::Record::open(&rec)
        .unwrap()
        .read_signals()
        .unwrap();
    let row: Vec<&str> = lines.nth(100).unwrap().split(',').collect();
    assert_eq!(row[0], "100");
    assert_eq!(row[1].parse::<f64>().unwrap(), sig.physical_f64(0)[100]);

    let pq = tmp.path().join("d.parquet");
    wonhee()
        .arg("export")
        .arg(&rec)
        .args(["--digital", "--signals", "1"])
        .arg("--out")
        .arg(&pq)
        .assert()
        .success();
    let df = read_parquet(&pq);
    assert_eq!(
        df.get_column_names()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        vec!["sample", "V5"]
    );
    let v5 = df.column("V5").unwrap().i32().unwrap();
    assert_eq!(v5.get(5), Some(sig.digital(1)[5]));

    // Resampled to 128 Hz: 7680 rows, sample counts at the new rate.
    let rs = tmp.path().join("r.csv");
    wonhee()
        .arg("export")
        .arg(&rec)
        .args(["--resample", "128", "--signals", "0"])
        .arg("--out")
        .arg(&rs)
        .assert()
        .success();
    let text = std::fs::read_to_string(&rs).unwrap();
    assert_eq!(text.lines().count(), 7681);
    assert!(text.lines().last().unwrap().starts_with("7679,"));
    let expect = wonhee_signal::resample_poly(&sig.physical_f64(0), 128, 360).unwrap();
    let v: f64 = text
        .lines()
        .nth(1001)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((v - expect[1000]).abs() < 1e-12);
}

/// A record with several samples per frame (`fixtures/wfdb/spf16`: `16x2`, `16`, `16x3`):
/// `info` shows each signal's rate, and `export` writes one row per frame, averaged as
/// wfdb-python's `smooth_frames=True` reads it.
#[test]
fn info_and_export_of_a_record_with_several_samples_per_frame() {
    let rec = fixtures().join("wfdb/spf16");
    let out = wonhee().arg("info").arg(&rec).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("format 16 x2 (500 Hz)"), "{text}");
    assert!(text.contains("format 16 x3 (750 Hz)"), "{text}");
    // Its length counts frames, not samples.
    assert!(text.contains("at 250 Hz, 203 frames"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("f.csv");
    let out = wonhee()
        .arg("export")
        .arg(&rec)
        .arg("--digital")
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap();
    // Averaging loses the samples within each frame: a warning, shown by default.
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("WARN") && err.contains("averaged to the frame rate"),
        "{err}"
    );
    let smooth = std::fs::read_to_string(fixtures().join("wfdb/spf16.smooth.txt")).unwrap();
    for (name, want) in ["s0", "s1", "s2"].into_iter().zip(smooth.lines()) {
        let got = csv_column(&csv, name);
        let want: Vec<&str> = want.split(' ').collect();
        assert_eq!(got, want, "{name}");
    }
}

/// A multi-segment record (`fixtures/wfdb/multiseg/var`): `info` lists its segments, in text
/// and as the JSON `segments` array.
#[test]
fn info_of_a_multi_segment_record() {
    let rec = fixtures().join("wfdb/multiseg/var");
    let out = wonhee().arg("info").arg(&rec).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 signal(s) at 250 Hz, 100 samples"),
        "{text}"
    );
    assert!(
        text.contains("5 segments: var_layout 0, var_1 35, ~ 15, var_2 28, var_3 22"),
        "{text}"
    );
    let out = wonhee()
        .args(["info", "--json"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["segments"][2]["name"], "~");
    assert_eq!(v["segments"][2]["len"], 15);
    assert_eq!(v["segments"].as_array().unwrap().len(), 5);
    assert_eq!(v["signals"][2]["description"], "V");
    // An ordinary record has none.
    let out = wonhee()
        .args(["info", "--json"])
        .arg(fixtures().join("wfdb/f16"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["segments"].as_array().unwrap().len(), 0);
}

#[test]
fn annotations_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a.csv");
    wonhee()
        .arg("annotations")
        .arg(fixtures().join("synth/s100"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "sample,symbol,subtype,chan,num,aux");
    // The rhythm note keeps its aux text without the trailing NUL.
    assert_eq!(lines.next().unwrap(), "0,+,0,0,0,(N");
    let pq = tmp.path().join("a.parquet");
    wonhee()
        .arg("annotations")
        .arg(fixtures().join("synth/s100"))
        .args(["--annotator", "atr"])
        .arg("--out")
        .arg(&pq)
        .assert()
        .success();
    assert_eq!(read_parquet(&pq).height(), text.lines().count() - 1);
}

#[test]
fn bad_input_gives_one_line_errors_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing record.
    let out_file = tmp.path().join("x.csv");
    let out = wonhee()
        .arg("export")
        .arg(tmp.path().join("nope"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("nope.hea"),
        "{err}"
    );
    assert!(!out_file.exists());
    // Truncated signal file: names the file and the offset; nothing left at --out.
    for f in ["s100.hea", "s100.dat", "s100.atr"] {
        std::fs::copy(fixtures().join("synth").join(f), tmp.path().join(f)).unwrap();
    }
    let dat = tmp.path().join("s100.dat");
    let b = std::fs::read(&dat).unwrap();
    std::fs::write(&dat, &b[..b.len() / 2]).unwrap();
    let out = wonhee()
        .arg("export")
        .arg(tmp.path().join("s100"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("s100.dat") && err.contains("truncated at byte"),
        "{err}"
    );
    assert!(!out_file.exists());
    assert_eq!(
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".wonhee"))
            .count(),
        0
    );
    // Corrupt annotations.
    std::fs::write(tmp.path().join("s100.atr"), [0x00, 0xEC, 0x01]).unwrap();
    let out = wonhee()
        .arg("annotations")
        .arg(tmp.path().join("s100"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success() && err.contains("s100.atr"), "{err}");
    // Malformed header names the line.
    std::fs::write(tmp.path().join("s100.hea"), "s100 2 abc\n").unwrap();
    let out = wonhee()
        .arg("info")
        .arg(tmp.path().join("s100"))
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success() && err.contains("s100.hea:1"), "{err}");
    // Unsupported output type.
    let out = wonhee()
        .arg("export")
        .arg(fixtures().join("synth/s100"))
        .arg("--out")
        .arg(tmp.path().join("x.txt"))
        .output()
        .unwrap();
    assert!(!out.status.success() && stderr_of(&out).contains("unsupported output extension"));
    // Bad signal index.
    let out = wonhee()
        .arg("export")
        .arg(fixtures().join("synth/s100"))
        .args(["--signals", "5"])
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(!out.status.success() && stderr_of(&out).contains("signal 5 does not exist"));
}

#[test]
fn prepare_on_fixtures_and_its_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("prep");
    prepare_synth(&out)
        .args(["--seed", "3", "--materialize"])
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["seed"], 3);
    assert_eq!(summary["lead_fallbacks"][0], "s102");
    for f in [
        "signals.safetensors",
        "beats.parquet",
        "windows.safetensors",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let beats = read_parquet(&out.join("beats.parquet"));
    assert_eq!(
        beats
            .get_column_names()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        vec![
            "record",
            "centre",
            "sample",
            "symbol",
            "class",
            "class_name",
            "split",
            "fold",
            "rr_pre",
            "rr_post",
            "rr_local",
            "rr_average"
        ]
    );
    // Exists: refused without --force, replaced with it.
    let o = prepare_synth(&out).output().unwrap();
    assert!(!o.status.success() && stderr_of(&o).contains("already exists"));
    prepare_synth(&out)
        .args([
            "--force",
            "--split",
            "record-folds",
            "--folds",
            "2",
            "--classes",
            "6",
        ])
        .assert()
        .success();
    // A record shorter than one window: clear error, no output folder.
    let bad = tmp.path().join("bad");
    let o = wonhee()
        .arg("prepare")
        .arg("--data")
        .arg(fixtures().join("short"))
        .arg("--out")
        .arg(&bad)
        .output()
        .unwrap();
    let err = stderr_of(&o);
    assert!(
        !o.status.success() && err.contains("short.hea") && err.contains("shorter than one"),
        "{err}"
    );
    assert!(!bad.exists());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no temporary folders left"
    );
    let o = prepare_synth(&bad)
        .args(["--classes", "4"])
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr_of(&o).contains("--classes must be 5 or 6"));
}

#[test]
fn detect_finds_the_fixture_beats_and_writes_tables_and_annotation_files() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = fixtures().join("synth/s100");
    let reference: Vec<i64> = wonhee_wfdb::Annotations::open(&rec, "atr")
        .unwrap()
        .annotations
        .iter()
        .filter(|a| wonhee_wfdb::code_symbol(a.code).is_some_and(|s| "NLRAaJSVFejE/fQ".contains(s)))
        .map(|a| a.sample)
        .collect();
    let csv = tmp.path().join("beats.csv");
    wonhee()
        .arg("detect")
        .arg(&rec)
        .arg("--out")
        .arg(&csv)
        .assert()
        .success();
    let found: Vec<i64> = csv_column(&csv, "sample")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let times = csv_column(&csv, "time_s");
    assert_eq!(times.len(), found.len());
    // Every reference beat is found within 150 ms, and nothing else.
    let window = (0.150 * 360.0) as i64;
    for r in &reference {
        assert!(
            found.iter().any(|f| (f - r).abs() <= window),
            "beat at {r} missed"
        );
    }
    assert_eq!(found.len(), reference.len());

    // Any other extension: an MIT annotation file of `N` beats, readable by our reader.
    let qrs = tmp.path().join("s100.qrs");
    wonhee()
        .arg("detect")
        .arg(&rec)
        .args(["--lead", "0", "--out"])
        .arg(&qrs)
        .assert()
        .success();
    let back = wonhee_wfdb::Annotations::open(tmp.path().join("s100"), "qrs").unwrap();
    assert_eq!(
        back.annotations
            .iter()
            .map(|a| a.sample)
            .collect::<Vec<_>>(),
        found
    );
    assert!(back.annotations.iter().all(|a| a.symbol() == "N"));

    // Bad input: an unknown lead, a rate or length the detector refuses: one line, no output.
    let out = tmp.path().join("bad.csv");
    let o = wonhee()
        .arg("detect")
        .arg(&rec)
        .args(["--lead", "V9", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("no lead `V9`"), "{}", stderr_of(&o));
    assert!(!out.exists());
}

#[test]
fn detect_warns_about_dropouts_and_refuses_a_record_with_no_signal() {
    use wonhee_wfdb::write::{SignalData, write_record};
    use wonhee_wfdb::{Format, Record, SignalSpec};
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's MLII with a 3 s dropout (a flat line) from 20 s.
    let src = Record::open(fixtures().join("synth/s100")).unwrap();
    let mut samples = src.read_selected(&[0]).unwrap().digital(0).to_vec();
    samples[20 * 360..23 * 360].fill(0);
    let mut spec = SignalSpec::new("", Format::F16, "MLII");
    spec.gain = src.header().signals[0].gain;
    let data = |samples: Vec<i32>| SignalData {
        spec: spec.clone(),
        samples,
    };
    write_record(
        tmp.path(),
        "drop",
        360.0,
        Format::F16,
        &[data(samples.clone())],
        &[],
    )
    .unwrap();
    let out = tmp.path().join("drop.csv");
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("drop"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains("no usable signal from 20.00 s to 23.00 s (flat line)"),
        "{err}"
    );
    let found: Vec<f64> = csv_column(&out, "time_s")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        found.iter().all(|&t| !(20.0..23.0).contains(&t)),
        "{found:?}"
    );
    assert!(
        found.iter().any(|&t| t > 24.0),
        "detection resumes after the dropout"
    );

    // All zeros: an error naming the record, nothing written.
    write_record(
        tmp.path(),
        "zero",
        360.0,
        Format::F16,
        &[data(vec![0; 3600])],
        &[],
    )
    .unwrap();
    let out = tmp.path().join("zero.csv");
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("zero"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("zero.hea: lead MLII holds no usable signal"),
        "{}",
        stderr_of(&o)
    );
    assert!(!out.exists());
    // Shorter than 2 s: the detector's error, naming the record.
    write_record(
        tmp.path(),
        "tiny",
        360.0,
        Format::F16,
        &[data(samples[..500].to_vec())],
        &[],
    )
    .unwrap();
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("tiny"))
        .arg("--out")
        .arg(tmp.path().join("tiny.csv"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("tiny.hea: 1.39 s of signal"),
        "{}",
        stderr_of(&o)
    );
    // Missing samples (the format's invalid value) are named in a warning.
    let mut gaps = samples.clone();
    gaps[10 * 360..12 * 360].fill(-32768);
    write_record(tmp.path(), "gap", 360.0, Format::F16, &[data(gaps)], &[]).unwrap();
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("gap"))
        .arg("--out")
        .arg(tmp.path().join("gap.csv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("no usable signal from 10.00 s to 12.00 s (missing samples)"),
        "{}",
        stderr_of(&o)
    );
    // A signal file shorter than its header says: an error naming the file, nothing written.
    let dat = tmp.path().join("drop.dat");
    let bytes = std::fs::read(&dat).unwrap();
    std::fs::write(&dat, &bytes[..bytes.len() / 2]).unwrap();
    let out = tmp.path().join("cut.qrs");
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("drop"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("drop.dat: truncated"),
        "{}",
        stderr_of(&o)
    );
    assert!(!out.exists());
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_with_success() {
    use std::process::Stdio;
    let bin = assert_cmd::cargo::cargo_bin("wonhee");
    let mut child = std::process::Command::new(bin)
        .env_remove("RUST_LOG")
        .arg("info")
        .arg(fixtures().join("synth"))
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the program writes: its first write fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn detect_reads_a_format_8_record_whole() {
    use wonhee_wfdb::write::{SignalData, write_record};
    use wonhee_wfdb::{Format, Record, SignalSpec};
    let tmp = tempfile::tempdir().unwrap();
    let src = Record::open(fixtures().join("synth/s100")).unwrap();
    let d = src.read_selected(&[0]).unwrap().digital(0).to_vec();
    // Format 8 stores first differences in a byte: keep every step within -128..=127.
    let mut samples = Vec::with_capacity(d.len());
    let mut prev = d[0];
    for &v in &d {
        prev += (v - prev).clamp(-128, 127);
        samples.push(prev);
    }
    let mut spec = SignalSpec::new("", Format::F8, "MLII");
    spec.gain = src.header().signals[0].gain;
    spec.init_value = samples[0];
    write_record(
        tmp.path(),
        "f8",
        360.0,
        Format::F8,
        &[SignalData { spec, samples }],
        &[],
    )
    .unwrap();
    let out = tmp.path().join("f8.csv");
    let o = wonhee()
        .arg("detect")
        .arg(tmp.path().join("f8"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(csv_column(&out, "sample").len() >= 50);
}

/// `wonhee pool` sums the folds' confusions and scores the sum as one evaluation; mismatched
/// class names and files without classification are errors naming the file, with no output.
#[test]
fn pool_sums_the_folds_confusions() {
    use wonhee_eval::{Bootstrap, Metrics, classification_report};
    let tmp = tempfile::tempdir().unwrap();
    let names: Vec<String> = ["N", "S", "V", "F", "Q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let write = |file: &str, t: &[u8], p: &[u8], g: &[u32], recs: &[&str], names: &[String]| {
        let recs: Vec<String> = recs.iter().map(|s| s.to_string()).collect();
        let mut m = Metrics::new();
        m.classification = Some(
            classification_report(t, p, names, Some(g), &Bootstrap::new(0, 0))
                .unwrap()
                .with_groups(t, p, g, &recs)
                .unwrap(),
        );
        let path = tmp.path().join(file);
        m.write_json(&path).unwrap();
        path
    };
    let a = write(
        "a.json",
        &[0, 0, 1, 2],
        &[0, 1, 1, 2],
        &[0, 0, 1, 1],
        &["100", "101"],
        &names,
    );
    let b = write(
        "b.json",
        &[0, 2, 2, 3],
        &[0, 2, 0, 3],
        &[0, 0, 0, 0],
        &["102"],
        &names,
    );
    let out = tmp.path().join("pooled.json");
    let md = tmp.path().join("pooled.md");
    let o = wonhee()
        .arg("pool")
        .args([&a, &b])
        .arg("--out")
        .arg(&out)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["n"], 8);
    assert_eq!(v["confusion"][0], serde_json::json!([2, 1, 0, 0, 0]));
    assert_eq!(v["confusion"][2], serde_json::json!([1, 0, 2, 0, 0]));
    // 6 of 8 right; the per-record rows of both files are kept.
    assert_eq!(v["aami"]["accuracy"]["value"], serde_json::json!(0.75));
    let recs: Vec<&str> = v["per_record"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert_eq!(recs, ["100", "101", "102"]);
    assert!(std::fs::read_to_string(&md).unwrap().contains("Cohen's κ"));

    // Other class names: an error naming the file; nothing written.
    let four: Vec<String> = names[..4].to_vec();
    let c = write("c.json", &[0, 1], &[0, 1], &[0, 0], &["103"], &four);
    let out2 = tmp.path().join("none.json");
    let o = wonhee()
        .arg("pool")
        .args([&a, &c])
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("c.json"), "{}", stderr_of(&o));
    assert!(!out2.exists());
    let empty = tmp.path().join("empty.json");
    Metrics::new().write_json(&empty).unwrap();
    let o = wonhee()
        .arg("pool")
        .arg(&empty)
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("empty.json"), "{}", stderr_of(&o));
}
