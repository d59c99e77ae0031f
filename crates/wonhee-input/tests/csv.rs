//! CSV reading: headers, time columns, separators, missing cells, chunked parallel parsing,
//! and every bad input named by file, line and column.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use wonhee_input::{InputError, InputFormat, ReadOptions, Recording, open};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read(dir: &Path, name: &str, text: &str, fs: Option<f64>) -> Result<Recording, InputError> {
    open(&write(dir, name, text), &ReadOptions { fs })
}

fn err(dir: &Path, name: &str, text: &str, fs: Option<f64>) -> String {
    read(dir, name, text, fs).unwrap_err().to_string()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_header_and_a_time_column_give_names_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let rec = read(
        dir.path(),
        "a.csv",
        "time,MLII,V5\n0,0.1,-0.2\n0.004,0.15,-0.25\n0.008,1e-3,7\n",
        None,
    )
    .unwrap();
    assert_eq!(rec.format, InputFormat::Csv);
    assert_eq!(rec.leads.len(), 2);
    assert_eq!(
        (rec.leads[0].name.as_str(), rec.leads[1].name.as_str()),
        ("MLII", "V5")
    );
    assert_eq!(rec.leads[0].fs, 250.0);
    assert_eq!(rec.leads[0].unit, "");
    assert_eq!(bits(&rec.leads[0].samples), bits(&[0.1, 0.15, 1e-3]));
    assert_eq!(bits(&rec.leads[1].samples), bits(&[-0.2, -0.25, 7.0]));
    assert_eq!(rec.lead_index(None).unwrap(), (0, None));

    // Milliseconds, semicolons, CRLF, a byte-order mark, quotes, blank lines.
    let rec = read(
        dir.path(),
        "b.csv",
        "\u{feff}\r\n\"TIME_MS\";\"ii\"\r\n0;1\r\n\r\n2.5;2\r\n5;3\r\n\r\n",
        Some(400.0),
    )
    .unwrap();
    assert_eq!(rec.leads[0].name, "ii");
    assert_eq!(rec.leads[0].fs, 400.0);
    assert_eq!(rec.leads[0].samples, [1.0, 2.0, 3.0]);

    for name in ["t", "Time_s", "seconds"] {
        let rec = read(
            dir.path(),
            "c.csv",
            &format!("{name},x\n1,0\n1.5,1\n"),
            None,
        )
        .unwrap();
        assert_eq!(rec.leads[0].fs, 2.0, "{name}");
    }
}

#[test]
fn without_a_header_leads_are_numbered_and_the_rate_is_given() {
    let dir = tempfile::tempdir().unwrap();
    for (sep, name) in [
        ("\t", "t.tsv"),
        (",", "c.csv"),
        (";", "s.txt"),
        ("  ", "w.txt"),
    ] {
        let text = format!("1{sep}-2{sep}+3\n.5{sep}5.{sep}-0\n");
        let rec = read(dir.path(), name, &text, Some(360.0)).unwrap();
        let names: Vec<&str> = rec.leads.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["0", "1", "2"], "{sep:?}");
        assert_eq!(rec.leads[0].samples, [1.0, 0.5]);
        assert_eq!(rec.leads[1].samples, [-2.0, 5.0]);
        assert_eq!(bits(&rec.leads[2].samples), bits(&[3.0, -0.0]));
        assert!(rec.leads.iter().all(|l| l.fs == 360.0));
        let w = rec.lead_index(None).unwrap().1.unwrap();
        assert!(w.contains("no lead MLII; using lead 0 (`0`)"), "{w}");
    }
    // Space-separated with a header and leading and trailing spaces.
    let rec = read(dir.path(), "w2.txt", "  a  b \n 1 2 \n3   4\n", Some(100.0)).unwrap();
    assert_eq!(rec.leads[1].name, "b");
    assert_eq!(rec.leads[1].samples, [2.0, 4.0]);
    // One column.
    let rec = read(dir.path(), "one.csv", "MLII\n1\n2\n", Some(100.0)).unwrap();
    assert_eq!(rec.leads[0].samples, [1.0, 2.0]);
}

#[test]
fn empty_and_nan_cells_are_missing_samples() {
    let dir = tempfile::tempdir().unwrap();
    let rec = read(dir.path(), "n.csv", "a,b\n1,\n,NaN\nnan, 4 \n", Some(250.0)).unwrap();
    let a = &rec.leads[0].samples;
    let b = &rec.leads[1].samples;
    assert_eq!(a[0], 1.0);
    assert!(a[1].is_nan() && a[2].is_nan());
    assert!(b[0].is_nan() && b[1].is_nan());
    assert_eq!(b[2], 4.0);
}

/// Text long enough to be parsed in several chunks; values that take the fast path and
/// values that do not (exponents, many digits) equal `str::parse` bit for bit, and an error
/// late in the file names its line.
#[test]
fn a_long_file_is_read_in_chunks_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 300_000;
    let mut text = String::from("time,MLII,V1\n");
    let mut want = (Vec::new(), Vec::new());
    let mut cells = (Vec::new(), Vec::new());
    for i in 0..n {
        let x = ((i as f64 * 0.37).sin() * 2.5) as f32;
        let a = match i % 4 {
            0 => format!("{x:.6}"),
            1 => format!("{x}"),
            2 => format!("{x:e}"),
            _ => format!("{:.12}", f64::from(x)),
        };
        let b = format!("{:.3}", i as f32 * 1e-3 - 7.0);
        if i % 10_000 == 5 {
            text.push('\n');
        }
        text += &format!("{},{a},{b}\n", i as f64 / 500.0);
        want.0.push(a.parse::<f32>().unwrap());
        want.1.push(b.parse::<f32>().unwrap());
        cells.0.push(a);
        cells.1.push(b);
    }
    let rec = read(dir.path(), "long.csv", &text, None).unwrap();
    assert_eq!(rec.leads[0].fs, 500.0);
    assert_eq!(bits(&rec.leads[0].samples), bits(&want.0));
    assert_eq!(bits(&rec.leads[1].samples), bits(&want.1));

    // A bad cell near the end: line = header + rows before it + blank lines before it.
    let row = n - 100;
    let bad = text.replacen(
        &format!(
            "\n{},{},{}\n",
            row as f64 / 500.0,
            cells.0[row],
            cells.1[row]
        ),
        &format!(
            "\n{},{},x{}\n",
            row as f64 / 500.0,
            cells.0[row],
            cells.1[row]
        ),
        1,
    );
    assert_ne!(bad, text);
    let line = 1 + row + 1 + row.div_ceil(10_000);
    let e = err(dir.path(), "long_bad.csv", &bad, None);
    assert!(
        e.contains(&format!("long_bad.csv: line {line}, column 3 (`V1`): `x")),
        "{e} (wanted line {line})"
    );
}

#[test]
fn the_rate_from_the_time_column_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = "time,a\n0,1\n0.002,2\n0.004,3\n";
    assert_eq!(
        read(d, "ok.csv", text, Some(500.0)).unwrap().leads[0].fs,
        500.0
    );
    assert_eq!(
        read(d, "ok.csv", text, Some(503.0)).unwrap().leads[0].fs,
        500.0
    );
    let e = err(d, "fs.csv", text, Some(360.0));
    assert!(
        e.contains(
            "fs.csv: line 2, column 1 (`time`): the time column gives 500 Hz, but the \
                    sampling rate given is 360 Hz"
        ),
        "{e}"
    );
    let e = err(d, "dec.csv", "time,a\n0,1\n0.002,2\n0.002,3\n", None);
    assert!(
        e.contains("dec.csv: line 4, column 1 (`time`): time 0.002 does not increase"),
        "{e}"
    );
    let e = err(
        d,
        "gap.csv",
        "time,a\n0,1\n0.002,2\n0.004,3\n0.007,4\n0.009,5\n",
        None,
    );
    assert!(
        e.contains("gap.csv: line 5, column 1 (`time`): time step")
            && e.contains("not evenly spaced"),
        "{e}"
    );
    // Steps 0.995, 1, 1.005: each within 1% of the median (1), though not of each other.
    let rec = read(d, "near.csv", "time,a\n0,1\n0.995,2\n1.995,3\n3,4\n", None).unwrap();
    assert_eq!(rec.leads[0].fs, 1.0);
    let e = err(d, "one.csv", "time,a\n0,1\n", None);
    assert!(
        e.contains("one.csv: line 2, column 1 (`time`): one row"),
        "{e}"
    );
    assert_eq!(
        read(d, "one.csv", "time,a\n0,1\n", Some(250.0))
            .unwrap()
            .leads[0]
            .fs,
        250.0
    );
    let e = err(d, "miss.csv", "time,a\n0,1\n,2\n", None);
    assert!(
        e.contains("miss.csv: line 3, column 1 (`time`): missing time"),
        "{e}"
    );
}

#[test]
fn every_bad_input_is_named_by_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fs = Some(250.0);
    for (name, text, fs, want) in [
        ("empty.csv", "", fs, "empty.csv: empty file"),
        ("blank.csv", "\n  \n\r\n", fs, "blank.csv: empty file"),
        (
            "header.csv",
            "\n\nMLII,V5\n\n",
            fs,
            "header.csv: no rows after the header (line 3)",
        ),
        (
            "nofs.csv",
            "MLII,V5\n1,2\n",
            None,
            "nofs.csv: no time column: give the sampling rate (--fs)",
        ),
        ("fs0.csv", "1\n", Some(0.0), "fs0.csv: sampling rate 0 Hz"),
        (
            "fsnan.csv",
            "1\n",
            Some(f64::NAN),
            "fsnan.csv: sampling rate NaN Hz",
        ),
        (
            "cell.csv",
            "MLII,V5\n1,2\n3,abc\n",
            fs,
            "cell.csv: line 3, column 2 (`V5`): `abc` is not a number",
        ),
        (
            "cell0.csv",
            "1;2\n3;0,5\n",
            fs,
            "cell0.csv: line 2, column 2 (`1`): `0,5` is not a number (decimal commas",
        ),
        (
            "inf.csv",
            "a\n1\n1e39\n",
            fs,
            "inf.csv: line 3, column 1 (`a`): `1e39` is not a finite 32-bit number",
        ),
        (
            "few.csv",
            "a,b,c\n1,2,3\n\n4,5\n",
            fs,
            "few.csv: line 4: 2 fields, expected 3",
        ),
        (
            "many.csv",
            "a,b\n1,2\n4,5,6\n",
            fs,
            "many.csv: line 3: 3 fields, expected 2",
        ),
        (
            "trailing.csv",
            "1,2\n4,5,\n",
            fs,
            "trailing.csv: line 2: 3 fields, expected 2",
        ),
        (
            "few_ws.txt",
            "a b c\n1 2 3\n4 5\n",
            fs,
            "few_ws.txt: line 3: 2 fields, expected 3",
        ),
        (
            "many_ws.txt",
            "a b\n1 2 3\n",
            fs,
            "many_ws.txt: line 2: 3 fields, expected 2",
        ),
        (
            "time2.csv",
            "a,time\n1,2\n",
            fs,
            "time2.csv: line 1, column 2 (`time`): a time column must be the first column",
        ),
        (
            "timeonly.csv",
            "time\n0\n1\n",
            fs,
            "timeonly.csv: line 1: no lead columns",
        ),
        (
            "timebad.csv",
            "t,a\n0,1\nsoon,2\n",
            fs,
            "timebad.csv: line 3, column 1 (`t`): `soon` is not a number",
        ),
    ] {
        let e = err(d, name, text, fs);
        assert!(
            e.starts_with(&d.join(name).display().to_string()) && e.contains(want),
            "{name}: {e}\n  wanted: {want}"
        );
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("none.csv");
    let e = open(&p, &ReadOptions { fs: Some(1.0) }).unwrap_err();
    assert!(matches!(e, InputError::Io { .. }));
    assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
}
