//! `wonhee compare` (EC57 beat-by-beat scoring) on the synthetic fixtures, with answers known by
//! construction.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::{fixtures, read_csv, stderr_of, wonhee};

/// The beats of `s100.atr` as (sample, AAMI class letter), read through `wonhee annotations`.
fn s100_beats(tmp: &Path) -> Vec<(i64, &'static str)> {
    let out = tmp.join("atr.csv");
    let o = wonhee()
        .arg("annotations")
        .arg(fixtures().join("synth/s100"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (header, rows) = read_csv(&out);
    let (si, yi) = (
        header.iter().position(|h| h == "sample").unwrap(),
        header.iter().position(|h| h == "symbol").unwrap(),
    );
    rows.iter()
        .filter_map(|r| {
            let class = match r[yi].as_str() {
                "N" => "N",
                "A" => "S",
                "V" => "V",
                "F" => "F",
                _ => return None,
            };
            Some((r[si].parse().unwrap(), class))
        })
        .collect()
}

fn write_csv(path: &Path, beats: &[(i64, &str)]) {
    let mut s = String::from("sample,time_s,pred_class\n");
    for (b, c) in beats {
        s.push_str(&format!("{b},{},{c}\n", *b as f64 / 360.0));
    }
    std::fs::write(path, s).unwrap();
}

/// The test set: two N beats dropped, one extra beat, one beat 20 samples late, one V called N
/// and one S called V.
fn damaged(beats: &[(i64, &'static str)]) -> Vec<(i64, &'static str)> {
    let n_at: Vec<usize> = (0..beats.len()).filter(|&i| beats[i].1 == "N").collect();
    let v_at = (0..beats.len()).find(|&i| beats[i].1 == "V").unwrap();
    let s_at = (0..beats.len()).find(|&i| beats[i].1 == "S").unwrap();
    let mut t = beats.to_vec();
    t[v_at].1 = "N";
    t[s_at].1 = "V";
    t[n_at[20]].0 += 20;
    // Halfway between two beats (about 0.8 s apart): far outside the 54-sample window.
    let mid = (beats[n_at[30]].0 + beats[n_at[30] + 1].0) / 2;
    t.push((mid, "N"));
    let drop = [n_at[10], n_at[40]];
    let mut t: Vec<_> = t
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, b)| b)
        .collect();
    t.sort_by_key(|b| b.0);
    t
}

#[test]
fn one_record_table_and_json_with_known_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let beats = s100_beats(tmp.path());
    assert_eq!(beats.len(), 74);
    let test = tmp.path().join("s100.csv");
    write_csv(&test, &damaged(&beats));
    let rec = fixtures().join("synth/s100");

    let o = wonhee()
        .args(["compare", "--json", "--start", "0", "--ref"])
        .arg(&rec)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["counts"];
    // 74 reference beats, 2 dropped: TP 72, FN 2; one extra: FP 1.
    assert_eq!(
        (
            c["qrs_tp"].as_u64(),
            c["qrs_fn"].as_u64(),
            c["qrs_fp"].as_u64()
        ),
        (Some(72), Some(2), Some(1))
    );
    // 8 V: 7 right, 1 called N; 1 S called V.
    assert_eq!(
        (
            c["veb_tp"].as_u64(),
            c["veb_fn"].as_u64(),
            c["veb_fp"].as_u64()
        ),
        (Some(7), Some(1), Some(1))
    );
    // 7 S: 6 right, 1 called V; nothing else called S.
    assert_eq!(
        (
            c["sveb_tp"].as_u64(),
            c["sveb_fn"].as_u64(),
            c["sveb_fp"].as_u64()
        ),
        (Some(6), Some(1), Some(0))
    );
    let s = &v["stats"];
    assert!((s["qrs_se"].as_f64().unwrap() - 72.0 / 74.0).abs() < 1e-12);
    assert!((s["veb_ppv"].as_f64().unwrap() - 7.0 / 8.0).abs() < 1e-12);
    assert_eq!(s["sveb_ppv"].as_f64(), Some(1.0));
    assert_eq!(v["window_samples"], 54);
    // Matrix rows N S V F Q O X, columns n s v f q o x.
    let m = &v["matrix"]["counts"];
    assert_eq!(m[0][5], 2); // No: the dropped beats
    assert_eq!(m[5][0], 1); // On: the extra beat
    assert_eq!(m[2][0], 1); // Vn
    assert_eq!(m[1][2], 1); // Sv
    assert_eq!(m[3][3], 7); // Ff

    // Tables by default.
    let o = wonhee()
        .args(["compare", "--start", "0", "--ref"])
        .arg(&rec)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("QRS TP 72  FN 2  FP 1"), "{text}");
    assert!(text.contains("VEB  Se   87.50%  +P   87.50%"), "{text}");
    // The record is one minute long: EC57's default start (5 min) leaves nothing to compare.
    let o = wonhee()
        .args(["compare", "--json", "--ref"])
        .arg(&rec)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("--start"), "{}", stderr_of(&o));

    // The same beats as a WFDB annotation file (`atr` against itself): perfect.
    let o = wonhee()
        .args(["compare", "--json", "--start", "0", "--ref"])
        .arg(&rec)
        .arg("--test")
        .arg(fixtures().join("synth/s100.atr"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stats"]["qrs_se"], 1.0);
    assert_eq!(v["stats"]["sveb_ppv"], 1.0);

    // Without a class column every beat is N: VEB Se 0, no false VEB.
    let plain = tmp.path().join("plain.csv");
    let mut s = String::from("sample\n");
    for (b, _) in &beats {
        s.push_str(&format!("{b}\n"));
    }
    std::fs::write(&plain, s).unwrap();
    let o = wonhee()
        .args(["compare", "--json", "--start", "0", "--ref"])
        .arg(&rec)
        .arg("--test")
        .arg(&plain)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["counts"]["qrs_tp"], 74);
    assert_eq!(v["stats"]["veb_se"], 0.0);
    assert_eq!(v["counts"]["veb_fp"], 0);
}

#[test]
fn whole_database_folder_gives_per_record_gross_and_average() {
    let tmp = tempfile::tempdir().unwrap();
    let beats = s100_beats(tmp.path());
    let dir = tmp.path().join("tests");
    std::fs::create_dir(&dir).unwrap();
    write_csv(&dir.join("s100.csv"), &damaged(&beats));
    for r in ["s101", "s102", "s103"] {
        std::fs::copy(
            fixtures().join(format!("synth/{r}.atr")),
            dir.join(format!("{r}.atr")),
        )
        .unwrap();
    }
    let o = wonhee()
        .args(["compare", "--json", "--start", "0", "--ref"])
        .arg(fixtures().join("synth"))
        .arg("--test")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), 4);
    let total: u64 = recs
        .iter()
        .map(|r| r["counts"]["qrs_tp"].as_u64().unwrap() + r["counts"]["qrs_fn"].as_u64().unwrap())
        .sum();
    let g = &v["gross_counts"];
    assert_eq!(g["qrs_fn"], 2);
    assert_eq!(g["qrs_fp"], 1);
    assert_eq!(g["qrs_tp"].as_u64().unwrap(), total - 2);
    // Average QRS Se: s100's 72/74 and three perfect records.
    let avg = v["average"]["qrs_se"].as_f64().unwrap();
    assert!((avg - (72.0 / 74.0 + 3.0) / 4.0).abs() < 1e-12);

    let o = wonhee()
        .args(["compare", "--start", "0", "--ref"])
        .arg(fixtures().join("synth"))
        .arg("--test")
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Gross over 4 records"), "{text}");
    assert!(text.contains("Average over records"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("s103 ")), "{text}");

    // A record without a test file is an error naming the folder and the record.
    std::fs::remove_file(dir.join("s102.atr")).unwrap();
    let o = wonhee()
        .args(["compare", "--start", "0", "--ref"])
        .arg(fixtures().join("synth"))
        .arg("--test")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("no test file for record s102"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn bad_test_files_are_one_line_errors_naming_file_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = fixtures().join("synth/s100");
    let run = |name: &str, content: Option<&str>| {
        let p = tmp.path().join(name);
        if let Some(c) = content {
            std::fs::write(&p, c).unwrap();
        }
        let o = wonhee()
            .args(["compare", "--ref"])
            .arg(&rec)
            .arg("--test")
            .arg(&p)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{name} should fail");
        let e = stderr_of(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.contains(name), "{e}");
        e
    };
    run("missing.csv", None);
    let e = run("nosample.csv", Some("time_s\n0.5\n"));
    assert!(e.contains("no `sample` column"), "{e}");
    let e = run("text.csv", Some("sample\n100\nabc\n"));
    assert!(e.contains("row 3") && e.contains("`abc`"), "{e}");
    let e = run("neg.csv", Some("sample\n-5\n"));
    assert!(e.contains("row 2") && e.contains("negative"), "{e}");
    let e = run("class.csv", Some("sample,pred_class\n100,Z\n"));
    assert!(e.contains("row 2") && e.contains("pred_class"), "{e}");
    let e = run("bad.qrs", Some("abc"));
    assert!(e.contains("bad.qrs"), "{e}");
}
