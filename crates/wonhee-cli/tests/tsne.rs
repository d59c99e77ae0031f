//! `wonhee tsne` end to end: feature tables in and out, bad input, a prepared dataset.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{prepare_synth, read_csv, stderr_of, wonhee};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Three separated blobs of 40 points in 6-D, labelled `a`, `b`, `c`, label in the middle.
fn blobs_csv(dir: &Path) -> (PathBuf, Vec<String>) {
    let mut s = String::from("f0,f1,f2,label,f3,f4,f5\n");
    let mut labels = Vec::new();
    for i in 0..120usize {
        let class = i % 3;
        let centre = 10.0 * class as f64;
        let v: Vec<f64> = (0..6)
            .map(|f| centre + ((i * 37 + f * 11) % 17) as f64 / 17.0)
            .collect();
        let name = ["a", "b", "c"][class];
        writeln!(
            s,
            "{},{},{},{name},{},{},{}",
            v[0], v[1], v[2], v[3], v[4], v[5]
        )
        .unwrap();
        labels.push(name.to_owned());
    }
    let path = dir.join("blobs.csv");
    std::fs::write(&path, s).unwrap();
    (path, labels)
}

/// Fraction of points whose nearest other point has the same label.
fn nn_agreement(xy: &[[f64; 2]], labels: &[String]) -> f64 {
    let hits = (0..xy.len())
        .filter(|&i| {
            let j = (0..xy.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d =
                        |k: usize| (xy[i][0] - xy[k][0]).powi(2) + (xy[i][1] - xy[k][1]).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            labels[i] == labels[j]
        })
        .count();
    hits as f64 / xy.len() as f64
}

#[test]
fn csv_in_csv_and_parquet_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, labels) = blobs_csv(tmp.path());
    let out = tmp.path().join("emb.csv");
    let feats = tmp.path().join("feats.csv");
    let o = wonhee()
        .args([
            "tsne",
            "--perplexity",
            "10",
            "--iterations",
            "300",
            "--seed",
            "1",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--features-out")
        .arg(&feats)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["x", "y", "label"]);
    assert_eq!(rows.len(), 120);
    let got_labels: Vec<String> = rows.iter().map(|r| r[2].clone()).collect();
    assert_eq!(got_labels, labels);
    let xy: Vec<[f64; 2]> = rows
        .iter()
        .map(|r| [r[0].parse().unwrap(), r[1].parse().unwrap()])
        .collect();
    assert!(xy.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(nn_agreement(&xy, &labels), 1.0);

    // The features table holds the input's numbers, the label last.
    let (fh, frows) = read_csv(&feats);
    assert_eq!(fh, ["f0", "f1", "f2", "f3", "f4", "f5", "label"]);
    let (_, inrows) = read_csv(&input);
    for (a, b) in frows.iter().zip(&inrows) {
        let x: f64 = a[4].parse().unwrap();
        let y: f64 = b[5].parse().unwrap();
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }

    // Parquet out, one thread: the same coordinates.
    let pq = tmp.path().join("emb.parquet");
    let o = wonhee()
        .args([
            "tsne",
            "--perplexity",
            "10",
            "--iterations",
            "300",
            "--seed",
            "1",
        ])
        .args(["--threads", "1"])
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&pq)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    use polars::prelude::{ParquetReader, SerReader};
    let df = ParquetReader::new(std::fs::File::open(&pq).unwrap())
        .finish()
        .unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["x", "y", "label"]);
    let x = df.column("x").unwrap().f64().unwrap();
    for (a, b) in x.iter().zip(&xy) {
        let a = a.unwrap();
        assert!(
            (a - b[0]).abs() <= 1e-12 * b[0].abs().max(1.0),
            "{a} vs {}",
            b[0]
        );
    }
}

#[test]
fn parquet_input_without_label() {
    use polars::prelude::{Column, DataFrame, ParquetWriter};
    let tmp = tempfile::tempdir().unwrap();
    let n = 60;
    let a: Vec<f64> = (0..n)
        .map(|i| (i % 2) as f64 * 5.0 + (i as f64 * 0.37).sin())
        .collect();
    let b: Vec<i32> = (0..n).map(|i| (i % 7) as i32).collect();
    let c: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("a".into(), a),
            Column::new("b".into(), b),
            Column::new("c".into(), c),
        ],
    )
    .unwrap();
    let input = tmp.path().join("in.parquet");
    ParquetWriter::new(std::fs::File::create(&input).unwrap())
        .finish(&mut df)
        .unwrap();
    let out = tmp.path().join("out.csv");
    let o = wonhee()
        .args(["tsne", "--perplexity", "5", "--iterations", "100"])
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["x", "y"]);
    assert_eq!(rows.len(), n);

    // A text column that is not `label` is an error naming it.
    let mut df = DataFrame::new(
        2,
        vec![
            Column::new("a".into(), [1.0f64, 2.0]),
            Column::new("name".into(), ["p", "q"]),
        ],
    )
    .unwrap();
    let bad = tmp.path().join("text.parquet");
    ParquetWriter::new(std::fs::File::create(&bad).unwrap())
        .finish(&mut df)
        .unwrap();
    let o = wonhee()
        .arg("tsne")
        .arg("--input")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = stderr_of(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("text.parquet") && err.contains("`name`"),
        "{err}"
    );
}

#[test]
fn bad_input_names_the_file_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (blobs, _) = blobs_csv(tmp.path());
    let good = std::fs::read_to_string(&blobs).unwrap();
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "word.csv",
            "a,b,label\n1,2,x\n3,oops,y\n".into(),
            &["word.csv", "row 2", "`b`", "oops"],
        ),
        (
            "nan.csv",
            "a,b\n1,2\n3,4\nNaN,5\n".into(),
            &["nan.csv", "row 3", "`a`", "NaN"],
        ),
        (
            "empty_cell.csv",
            "a,b\n1,\n".into(),
            &["empty_cell.csv", "row 1", "`b`", "empty"],
        ),
        (
            "ragged.csv",
            "a,b,c\n1,2,3\n4,5\n".into(),
            &["ragged.csv", "row 2", "ragged"],
        ),
        (
            "labels_only.csv",
            "label\nx\ny\n".into(),
            &["labels_only.csv", "no numeric feature columns"],
        ),
        (
            "header_only.csv",
            "a,b\n".into(),
            &["header_only.csv", "no data rows"],
        ),
        // 120 points, perplexity 50 needs 151.
        ("few.csv", good, &["few.csv", "too few", "perplexity"]),
    ];
    for (name, text, needles) in cases {
        let input = tmp.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = tmp.path().join(format!("{name}.out.csv"));
        let o = wonhee()
            .args(["tsne", "--perplexity", "50"])
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = stderr_of(&o);
        assert!(!o.status.success(), "{name}: should fail");
        for n in needles {
            assert!(err.contains(n), "{name}: `{n}` not in: {err}");
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: output written");
    }
    // A missing file and a wrong extension.
    let o = wonhee()
        .args(["tsne", "--input"])
        .arg(tmp.path().join("nope.csv"))
        .arg("--out")
        .arg(tmp.path().join("o.csv"))
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr_of(&o).contains("nope.csv"));
    let o = wonhee()
        .args(["tsne", "--input"])
        .arg(&blobs)
        .arg("--out")
        .arg(tmp.path().join("o.txt"))
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr_of(&o).contains("o.txt"));
}

#[test]
fn class_balanced_windows_of_a_prepared_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let prep = tmp.path().join("prep");
    prepare_synth(&prep).assert().success();
    let out = tmp.path().join("fig2.csv");
    let feats = tmp.path().join("fig2-features.parquet");
    let per_class = 25;
    let o = wonhee()
        .args(["tsne", "--perplexity", "5", "--iterations", "150"])
        .args(["--per-class", &per_class.to_string()])
        .arg("--data")
        .arg(&prep)
        .arg("--out")
        .arg(&out)
        .arg("--features-out")
        .arg(&feats)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["x", "y", "label", "record", "sample"]);
    assert!(rows.len() > 15, "{} rows", rows.len());
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in &rows {
        *counts.entry(r[2].clone()).or_default() += 1;
        assert!(
            ["s100", "s101", "s102", "s103"].contains(&r[3].as_str()),
            "{r:?}"
        );
    }
    assert!(
        counts
            .keys()
            .all(|k| ["N", "S", "V", "F", "Q"].contains(&k.as_str()))
    );
    assert!(counts.values().all(|&c| c <= per_class), "{counts:?}");
    assert!(counts.values().any(|&c| c == per_class), "{counts:?}");

    use polars::prelude::{ParquetReader, SerReader};
    let df = ParquetReader::new(std::fs::File::open(&feats).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), rows.len());
    // 640-point windows, every 5th point, then label, record, sample.
    assert_eq!(df.width(), 128 + 3);
    assert_eq!(df.get_column_names()[1].as_str(), "p5");

    // Same seed, same sample and coordinates, on one thread too.
    let again = tmp.path().join("again.csv");
    wonhee()
        .args(["tsne", "--perplexity", "5", "--iterations", "150"])
        .args(["--per-class", &per_class.to_string(), "--threads", "1"])
        .arg("--data")
        .arg(&prep)
        .arg("--out")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    // --per-class is required with --data.
    let o = wonhee()
        .arg("tsne")
        .arg("--data")
        .arg(&prep)
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr_of(&o).contains("per-class"));
}
