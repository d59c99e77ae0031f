//! EC57 beat-by-beat comparison (`bxb`) on hand-made annotation sets whose answers are worked
//! out by hand in the comments, and on MIT-BIH (ignored: needs the data).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use wonhee_eval::{
    Ec57Annotation as A, Ec57Class, Ec57Label, Ec57Options, Ec57Record, Ec57Summary, SymbolMap,
    beat_class, compare_beats, ec57_label,
};

/// 100 Hz: the 150 ms window is 15 samples.
const FS: f64 = 100.0;

fn beats(list: &[(i64, char)]) -> Vec<A> {
    list.iter()
        .map(|&(s, c)| A::beat(s, Ec57Class::from_letter(&c.to_string()).unwrap()))
        .collect()
}

fn opts(start_s: f64, end: Option<i64>) -> Ec57Options {
    Ec57Options {
        window_s: 0.15,
        start_s,
        end_sample: end,
    }
}

fn cmp(r: &[A], t: &[A], o: Ec57Options) -> Ec57Record {
    compare_beats("rec", r, t, FS, &o).unwrap()
}

/// The non-zero cells as "Rc=n" strings, in matrix order.
fn cells(rec: &Ec57Record) -> Vec<String> {
    let l = wonhee_eval::MATRIX_LABELS;
    let mut v = Vec::new();
    for (i, row) in rec.matrix.counts.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            if n > 0 {
                v.push(format!("{}{}={n}", l[i], l[j].to_ascii_lowercase()));
            }
        }
    }
    v
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn exact_matches_fill_the_diagonal() {
    let r = beats(&[(100, 'N'), (200, 'V'), (300, 'S'), (400, 'F'), (500, 'Q')]);
    let rec = cmp(&r, &r, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=1", "Ss=1", "Vv=1", "Ff=1", "Qq=1"]);
    let c = rec.counts;
    assert_eq!((c.qrs_tp, c.qrs_fn, c.qrs_fp), (5, 0, 0));
    // VEB TN = Nn+Ss+Ff+Qq; SVEB TN = Nn+Vv+Ff+Qq.
    assert_eq!((c.veb_tp, c.veb_fn, c.veb_fp, c.veb_tn), (1, 0, 0, 4));
    assert_eq!((c.sveb_tp, c.sveb_fn, c.sveb_fp, c.sveb_tn), (1, 0, 0, 4));
    let s = rec.stats;
    assert!(close(s.qrs_se, 1.0) && close(s.qrs_ppv, 1.0));
    assert!(close(s.veb_se, 1.0) && close(s.veb_ppv, 1.0) && close(s.veb_fpr, 0.0));
    assert!(close(s.sveb_se, 1.0) && close(s.sveb_ppv, 1.0) && close(s.sveb_fpr, 0.0));
    assert_eq!(rec.window_samples, 15);
}

#[test]
fn jitter_inside_and_outside_the_window() {
    let r = beats(&[(100, 'N'), (200, 'N'), (300, 'N')]);
    // +10 and +15 (exactly the window) match; +16 does not.
    let t = beats(&[(110, 'N'), (215, 'N'), (316, 'N')]);
    // With the record's end: the beat at 300 is missed and the one at 316 is extra.
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2", "No=1", "On=1"]);
    assert!(close(rec.stats.qrs_se, 2.0 / 3.0) && close(rec.stats.qrs_ppv, 2.0 / 3.0));
    // Without an end the walk stops with the reference beats: 316 is not counted.
    let rec = cmp(&r, &t, opts(0.0, None));
    assert_eq!(cells(&rec), ["Nn=2", "No=1"]);
    assert!(close(rec.stats.qrs_ppv, 1.0));
    // Early beats too: -15 matches, -16 does not.
    let t = beats(&[(85, 'N'), (184, 'N'), (300, 'N')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2", "No=1", "On=1"]);
}

#[test]
fn a_test_beat_between_two_reference_beats() {
    // Reference V at 100 and N at 120; one test beat.
    let r = beats(&[(100, 'V'), (120, 'N')]);
    // At 108 it is closer to 100 (8 < 12): paired with V, N missed.
    let rec = cmp(&r, &beats(&[(108, 'N')]), opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["No=1", "Vn=1"]);
    // At 110 (a tie, 10 = 10) the earlier reference beat is not taken: V missed, paired
    // with N.
    let rec = cmp(&r, &beats(&[(110, 'N')]), opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=1", "Vo=1"]);
}

#[test]
fn the_better_next_pair_rule() {
    // bxb's 2002 rule (window 37): ref 96, 160; test 128, 185. 128 is as far from 96 as from
    // 160 (32), but 185 matches 160 better (25 < 32), so 96-128 and 160-185 are paired.
    let r = beats(&[(96, 'N'), (160, 'N')]);
    let t = beats(&[(128, 'N'), (185, 'N')]);
    let o = Ec57Options {
        window_s: 0.037,
        start_s: 0.0,
        end_sample: Some(1000),
    };
    let rec = compare_beats("rec", &r, &t, 1000.0, &o).unwrap();
    assert_eq!(cells(&rec), ["Nn=2"]);
}

#[test]
fn missed_and_extra_beats() {
    let r = beats(&[(100, 'N'), (200, 'N'), (300, 'N'), (400, 'N')]);
    let t = beats(&[(100, 'N'), (300, 'N'), (350, 'N'), (400, 'N')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=3", "No=1", "On=1"]);
    let c = rec.counts;
    assert_eq!((c.qrs_tp, c.qrs_fn, c.qrs_fp), (3, 1, 1));
    assert!(close(rec.stats.qrs_se, 0.75) && close(rec.stats.qrs_ppv, 0.75));
    // Nothing in the test set: every beat missed, +P undefined.
    let rec = cmp(&r, &[], opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["No=4"]);
    assert!(close(rec.stats.qrs_se, 0.0));
    assert_eq!(rec.stats.qrs_ppv, None);
}

#[test]
fn v_called_n_and_s_called_v() {
    let r = beats(&[(100, 'N'), (200, 'V'), (300, 'S'), (400, 'N'), (500, 'V')]);
    let t = beats(&[(100, 'N'), (200, 'N'), (300, 'V'), (400, 'V'), (500, 'V')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=1", "Nv=1", "Sv=1", "Vn=1", "Vv=1"]);
    let c = rec.counts;
    // VEB: TP Vv=1, FN Vn=1, FP Nv+Sv=2, TN Nn=1.
    assert_eq!((c.veb_tp, c.veb_fn, c.veb_fp, c.veb_tn), (1, 1, 2, 1));
    let s = rec.stats;
    assert!(close(s.veb_se, 0.5) && close(s.veb_ppv, 1.0 / 3.0) && close(s.veb_fpr, 2.0 / 3.0));
    // SVEB: TP 0, FN Sv=1, FP 0, TN Nn+Nv+Vn+Vv=4.
    assert_eq!((c.sveb_tp, c.sveb_fn, c.sveb_fp, c.sveb_tn), (0, 1, 0, 4));
    assert!(close(s.sveb_se, 0.0) && close(s.sveb_fpr, 0.0));
    assert_eq!(s.sveb_ppv, None);
}

#[test]
fn f_and_q_are_not_penalised_as_ectopic_beats() {
    let r = beats(&[(100, 'F'), (200, 'Q'), (300, 'Q'), (400, 'F'), (500, 'N')]);
    let t = beats(&[(100, 'V'), (200, 'V'), (300, 'S'), (400, 'S'), (500, 'Q')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nq=1", "Fs=1", "Fv=1", "Qs=1", "Qv=1"]);
    let c = rec.counts;
    assert_eq!((c.qrs_tp, c.qrs_fn, c.qrs_fp), (5, 0, 0));
    // F or Q called V: not a VEB false positive; VEB TN = Nq+Fs+Qs = 3.
    assert_eq!((c.veb_tp, c.veb_fn, c.veb_fp, c.veb_tn), (0, 0, 0, 3));
    assert_eq!(rec.stats.veb_ppv, None);
    assert!(close(rec.stats.veb_fpr, 0.0));
    // F called S is an SVEB false positive (as bxb counts it), Q called S is not;
    // SVEB TN = Nq+Fv+Qv = 3.
    assert_eq!((c.sveb_tp, c.sveb_fn, c.sveb_fp, c.sveb_tn), (0, 0, 1, 3));
    assert!(close(rec.stats.sveb_ppv, 0.0) && close(rec.stats.sveb_fpr, 0.25));
}

#[test]
fn vf_episodes_are_left_out() {
    let l = |s: i64, label: Ec57Label| A { sample: s, label };
    let r = vec![
        A::beat(100, Ec57Class::N),
        l(150, Ec57Label::VfOn),
        l(180, Ec57Label::Other),   // a flutter wave `!`
        A::beat(200, Ec57Class::V), // inside VF: never compared
        l(300, Ec57Label::VfOff),
        A::beat(400, Ec57Class::N),
    ];
    // Test beats at 200 and 250 fall in the reference VF: not counted at all.
    let t = beats(&[(100, 'N'), (200, 'N'), (250, 'N'), (400, 'N')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2"]);
    // The same test beats with the reference VF marks removed: V matched, 250 extra.
    let r2: Vec<A> = r
        .iter()
        .copied()
        .filter(|a| matches!(a.label, Ec57Label::Beat(_)))
        .collect();
    let rec = cmp(&r2, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2", "Vn=1", "On=1"]);
    // An unterminated episode lasts to the end.
    let r3 = vec![A::beat(100, Ec57Class::N), l(150, Ec57Label::VfOn)];
    let rec = cmp(&r3, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=1"]);
}

#[test]
fn shutdown_intervals_give_x() {
    let l = |s: i64, label: Ec57Label| A { sample: s, label };
    // Test shutdown 150..350: reference beats at 200 and 300 are missed in shutdown (x).
    let r = beats(&[(100, 'N'), (200, 'N'), (300, 'V'), (400, 'N')]);
    let t = vec![
        A::beat(100, Ec57Class::N),
        l(150, Ec57Label::Noise(0x30)),
        l(350, Ec57Label::Noise(0)),
        A::beat(400, Ec57Class::N),
    ];
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2", "Nx=1", "Vx=1"]);
    // Missed in shutdown is still a missed QRS.
    assert_eq!((rec.counts.qrs_fn, rec.counts.veb_fn), (2, 1));
    // A noise mark without both bits is no shutdown.
    let t2 = vec![
        A::beat(100, Ec57Class::N),
        l(150, Ec57Label::Noise(0x10)),
        l(350, Ec57Label::Noise(0)),
        A::beat(400, Ec57Class::N),
    ];
    assert_eq!(
        cells(&cmp(&r, &t2, opts(0.0, Some(1000)))),
        ["Nn=2", "No=1", "Vo=1"]
    );
    // Reference shutdown, one mark (AHA style): from 100+15 to 600-15; a test beat at 300
    // is an extra beat in shutdown (X).
    let r = vec![
        A::beat(100, Ec57Class::N),
        l(300, Ec57Label::Noise(0x30)),
        A::beat(600, Ec57Class::N),
    ];
    let t = beats(&[(100, 'N'), (300, 'N'), (600, 'N')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert_eq!(cells(&rec), ["Nn=2", "Xn=1"]);
    assert_eq!(rec.counts.qrs_fp, 1);
}

#[test]
fn the_start_time() {
    // start = 3 s = sample 300: reference 100, 200, 295 are not compared; the test beat at 298
    // (before the start) pairs with the first reference beat at 310.
    let r = beats(&[(100, 'N'), (200, 'N'), (295, 'N'), (310, 'V'), (400, 'N')]);
    let t = beats(&[(100, 'N'), (298, 'V'), (400, 'N')]);
    let rec = cmp(&r, &t, opts(3.0, Some(1000)));
    assert_eq!(rec.start_sample, 300);
    assert_eq!(cells(&rec), ["Nn=1", "Vv=1"]);
    // A test beat within the window after the start whose successor matches the first
    // reference beat better is dropped uncounted ...
    let r = beats(&[(330, 'N'), (420, 'N')]);
    let t = beats(&[(305, 'N'), (325, 'N'), (420, 'N')]);
    assert_eq!(cells(&cmp(&r, &t, opts(3.0, Some(1000)))), ["Nn=2"]);
    // ... but is an extra beat when the comparison starts at 0.
    assert_eq!(cells(&cmp(&r, &t, opts(0.0, Some(1000)))), ["Nn=2", "On=1"]);
    // EC57's default start is 5 minutes.
    let d = Ec57Options::default();
    assert_eq!((d.window_s, d.start_s, d.end_sample), (0.15, 300.0, None));
    let r = beats(&[(100, 'N'), (29_999, 'N'), (30_000, 'N')]);
    let rec = compare_beats("rec", &r, &r, FS, &d).unwrap();
    assert_eq!(cells(&rec), ["Nn=1"]);
}

#[test]
fn gross_and_average_with_and_without_paced_records() {
    let a = cmp(
        &beats(&[(100, 'N'), (200, 'V')]),
        &beats(&[(100, 'N'), (200, 'V')]),
        opts(0.0, None),
    );
    let mut a = a;
    a.record = "100".into();
    // "102": N called V, V called N, one N missed.
    let mut b = cmp(
        &beats(&[(100, 'N'), (200, 'V'), (300, 'N')]),
        &beats(&[(100, 'V'), (200, 'N')]),
        opts(0.0, None),
    );
    b.record = "102".into();
    assert_eq!(cells(&b), ["Nv=1", "No=1", "Vn=1"]);

    let s = Ec57Summary::new(vec![a.clone(), b.clone()], true);
    assert_eq!(s.excluded_from_arrhythmia, ["102"]);
    // QRS over both records: TP 4, FN 1, FP 0.
    assert_eq!(
        (
            s.gross_counts.qrs_tp,
            s.gross_counts.qrs_fn,
            s.gross_counts.qrs_fp
        ),
        (4, 1, 0)
    );
    assert!(close(s.gross.qrs_se, 0.8) && close(s.gross.qrs_ppv, 1.0));
    assert!(close(s.average.qrs_se, (1.0 + 2.0 / 3.0) / 2.0));
    // VEB from record 100 only.
    assert!(close(s.gross.veb_se, 1.0) && close(s.gross.veb_ppv, 1.0));
    assert!(close(s.average.veb_se, 1.0));
    assert_eq!(s.matrix.get('N', 'v'), 1);
    assert_eq!(s.arrhythmia_matrix.get('N', 'v'), 0);

    let s = Ec57Summary::new(vec![a, b], false);
    assert!(s.excluded_from_arrhythmia.is_empty());
    // VEB gross: TP 1, FN 1, FP 1; average (1 + 0) / 2.
    assert!(close(s.gross.veb_se, 0.5) && close(s.gross.veb_ppv, 0.5));
    assert!(close(s.average.veb_se, 0.5) && close(s.average.veb_ppv, 0.5));
    // No S beats anywhere: SVEB Se undefined in both records and in the aggregate.
    assert_eq!((s.gross.sveb_se, s.average.sveb_se), (None, None));

    let json = serde_json::to_string(&s).unwrap();
    let back: Ec57Summary = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(json.contains("\"qrs_se\""));
}

#[test]
fn symbols_map_to_aami_classes() {
    use Ec57Class::*;
    for (sym, c) in [
        ("N", N),
        ("L", N),
        ("R", N),
        ("B", N),
        ("e", N),
        ("j", N),
        ("A", S),
        ("a", S),
        ("J", S),
        ("S", S),
        ("V", V),
        ("E", V),
        ("r", V),
        ("F", F),
        ("/", Q),
        ("f", Q),
        ("Q", Q),
        ("?", Q),
    ] {
        assert_eq!(beat_class(sym, SymbolMap::Ec57), Some(c), "{sym}");
    }
    assert_eq!(beat_class("e", SymbolMap::Bxb), Some(S));
    assert_eq!(beat_class("j", SymbolMap::Bxb), Some(S));
    for sym in ["+", "~", "|", "!", "x", "\"", "[", "]"] {
        assert_eq!(beat_class(sym, SymbolMap::Ec57), None, "{sym}");
    }
    assert_eq!(ec57_label("[", 0, SymbolMap::Ec57), Ec57Label::VfOn);
    assert_eq!(ec57_label("]", 0, SymbolMap::Ec57), Ec57Label::VfOff);
    assert_eq!(ec57_label("~", 48, SymbolMap::Ec57), Ec57Label::Noise(48));
    assert_eq!(ec57_label("+", 0, SymbolMap::Ec57), Ec57Label::Other);
}

#[test]
fn bad_input_is_an_error_naming_the_place() {
    let r = beats(&[(100, 'N'), (50, 'N')]);
    let e = compare_beats("r1", &r, &[], FS, &opts(0.0, None)).unwrap_err();
    assert!(e.to_string().contains("r1: reference[1]"), "{e}");
    let t = beats(&[(-1, 'N')]);
    let e = compare_beats("r1", &[], &t, FS, &opts(0.0, None)).unwrap_err();
    assert!(e.to_string().contains("r1: test[0]: negative"), "{e}");
    assert!(compare_beats("r1", &[], &[], 0.0, &opts(0.0, None)).is_err());
    assert!(compare_beats("r1", &[], &[], FS, &opts(-1.0, None)).is_err());
    assert!(compare_beats("r1", &[], &[], FS, &opts(5.0, Some(10))).is_err());
    let mut o = opts(0.0, None);
    o.window_s = f64::NAN;
    assert!(compare_beats("r1", &[], &[], FS, &o).is_err());
}

fn mitdb() -> std::path::PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    wonhee_fs::mitdb_or_error(None, &wonhee_fs::workspace_root(Path::new(&manifest)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn read_record(dir: &Path, name: &str) -> (Vec<A>, f64, i64) {
    let rec = wonhee_wfdb::Record::open(dir.join(name)).unwrap();
    let h = rec.header();
    let anns = rec.annotations("atr").unwrap();
    let v = anns
        .annotations
        .iter()
        .map(|a| A {
            sample: a.sample,
            label: ec57_label(a.symbol(), a.subtype, SymbolMap::Ec57),
        })
        .collect();
    (v, h.fs, h.sig_len.unwrap() as i64)
}

#[test]
#[ignore = "needs MIT-BIH"]
fn mitdb_atr_against_itself_is_perfect_and_a_damaged_copy_is_scored_exactly() {
    let dir = mitdb();
    let names = std::fs::read_to_string(dir.join("RECORDS")).unwrap();
    let mut all = Vec::new();
    for name in names.split_whitespace() {
        let (r, fs, len) = read_record(&dir, name);
        let o = Ec57Options {
            end_sample: Some(len),
            ..Ec57Options::default()
        };
        let rec = compare_beats(name, &r, &r, fs, &o).unwrap();
        let c = rec.counts;
        assert!(c.qrs_tp > 1000, "{name}: {c:?}");
        assert_eq!(
            (c.qrs_fn, c.qrs_fp, c.veb_fn, c.veb_fp),
            (0, 0, 0, 0),
            "{name}"
        );
        assert_eq!((c.sveb_fn, c.sveb_fp), (0, 0), "{name}");
        assert_eq!(rec.stats.qrs_se, Some(1.0), "{name}");
        assert_eq!(rec.stats.qrs_ppv, Some(1.0), "{name}");
        let off_diagonal: u64 = (0..7)
            .flat_map(|i| (0..7).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| rec.matrix.counts[i][j])
            .sum();
        assert_eq!(off_diagonal, 0, "{name}");

        // Sanity: drop every 10th beat and move the others 10 samples late (inside the
        // window). Every dropped beat that is compared (after 5 min, outside VF) is missed,
        // nothing is extra, and every kept beat keeps its class.
        let mut damaged = Vec::new();
        let mut dropped = Vec::new();
        let mut k = 0usize;
        for a in &r {
            if let Ec57Label::Beat(_) = a.label {
                k += 1;
                if k.is_multiple_of(10) {
                    dropped.push(a.sample);
                    continue;
                }
                damaged.push(A {
                    sample: a.sample + 10,
                    label: a.label,
                });
            } else {
                damaged.push(*a);
            }
        }
        damaged.sort_by_key(|a| a.sample);
        let mut vf = Vec::new();
        let mut on = None;
        for a in &r {
            match a.label {
                Ec57Label::VfOn if on.is_none() => on = Some(a.sample),
                Ec57Label::VfOff => {
                    if let Some(s) = on.take() {
                        vf.push((s, a.sample));
                    }
                }
                _ => {}
            }
        }
        let start = (300.0 * fs).round() as i64;
        let expect_fn = dropped
            .iter()
            .filter(|&&s| s >= start && !vf.iter().any(|&(a, b)| a <= s && s <= b))
            .count() as u64;
        let d = compare_beats(name, &r, &damaged, fs, &o).unwrap();
        assert_eq!(d.counts.qrs_fp, 0, "{name}");
        assert_eq!(d.counts.qrs_fn, expect_fn, "{name}");
        assert_eq!(d.counts.qrs_tp + d.counts.qrs_fn, c.qrs_tp, "{name}");
        assert_eq!(d.counts.veb_fp + d.counts.sveb_fp, 0, "{name}");
        all.push(rec);
    }
    assert_eq!(all.len(), 48);
    let s = Ec57Summary::new(all, true);
    assert_eq!(s.excluded_from_arrhythmia, ["102", "104", "107", "217"]);
    assert_eq!(s.gross.qrs_se, Some(1.0));
    assert_eq!(s.gross.veb_se, Some(1.0));
    assert_eq!(s.gross.sveb_ppv, Some(1.0));
    assert_eq!(s.average.veb_fpr, Some(0.0));
    // EC57 counts beats after the first 5 minutes only: about 109,000 * 25/30.
    assert!(
        (85_000..95_000).contains(&s.gross_counts.qrs_tp),
        "{}",
        s.gross_counts.qrs_tp
    );
}

#[test]
fn class_accuracy_counts_matched_beats_only() {
    // Matched: N->N, V->N, S->S; unmatched: the reference F (missed) and a test beat at 900
    // (extra). Accuracy over the matched beats: 2 of 3.
    let r = beats(&[(100, 'N'), (200, 'V'), (300, 'S'), (600, 'F')]);
    let t = beats(&[(101, 'N'), (199, 'N'), (302, 'S'), (900, 'N')]);
    let rec = cmp(&r, &t, opts(0.0, Some(1000)));
    assert!(
        close(rec.matrix.class_accuracy(), 2.0 / 3.0),
        "{:?}",
        cells(&rec)
    );
    let none = cmp(&r[..0], &t[..0], opts(0.0, Some(1000)));
    assert_eq!(none.matrix.class_accuracy(), None);
}
