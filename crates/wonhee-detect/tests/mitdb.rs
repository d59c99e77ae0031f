//! Detection on all 48 MIT-BIH records (MLII where present, else lead 0, whole records): beats
//! matched to the reference within 150 ms, ventricular flutter/fibrillation episodes left out
//! as EC57 does; per-record and gross Se and +P. A simple matcher until the EC57 comparator
//! of issue 17 is written.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use wonhee_detect::Method;

/// Gross (Se %, +P %, median offset in samples) of detection on every record after `change`,
/// which maps (signal, rate) to a new signal and rate (reference times are scaled to it).
fn score(
    method: wonhee_detect::Method,
    change: &dyn Fn(Vec<f32>, f64) -> (Vec<f32>, f64),
) -> (f64, f64, i64) {
    score_with(
        &|x, fs| wonhee_detect::detect(x, fs, &wonhee_detect::Options { method }).unwrap(),
        change,
    )
}

/// As [`score`], with any detector.
fn score_with(
    detector: &dyn Fn(&[f32], f64) -> Vec<usize>,
    change: &dyn Fn(Vec<f32>, f64) -> (Vec<f32>, f64),
) -> (f64, f64, i64) {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let root = wonhee_fs::workspace_root(Path::new(&manifest));
    let dir = wonhee_fs::mitdb_or_error(None, &root).unwrap();
    let names: Vec<String> = std::fs::read_to_string(dir.join("RECORDS"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let (mut tp, mut fn_, mut fp) = (0usize, 0usize, 0usize);
    let mut offsets: Vec<i64> = Vec::new();
    for name in &names {
        let rec = wonhee_wfdb::Record::open(dir.join(name)).unwrap();
        let lead = rec
            .header()
            .signals
            .iter()
            .position(|s| s.description == "MLII")
            .unwrap_or(0);
        let x0 = rec.read_signals().unwrap().physical_f32(lead);
        let fs0 = rec.header().fs;
        let (x, fs) = change(x0, fs0);
        let det = detector(&x, fs);
        let ann = wonhee_wfdb::Annotations::open(dir.join(name), "atr").unwrap();
        let beat = |s: &str| "NLRBAaJSVrFejnE/fQ?".contains(s) && s.len() == 1;
        let refs: Vec<usize> = ann
            .annotations
            .iter()
            .filter(|a| beat(a.symbol()))
            .map(|a| (a.sample as f64 * fs / fs0).round() as usize)
            .collect();
        // EC57 leaves ventricular flutter/fibrillation episodes out of QRS statistics.
        let mut vf: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for a in &ann.annotations {
            match a.symbol() {
                "[" => start = Some((a.sample as f64 * fs / fs0) as usize),
                "]" => {
                    if let Some(s) = start.take() {
                        vf.push((s, (a.sample as f64 * fs / fs0).ceil() as usize));
                    }
                }
                _ => {}
            }
        }
        let in_vf = |t: usize| vf.iter().any(|&(a, b)| t >= a && t <= b);
        let refs: Vec<usize> = refs.into_iter().filter(|&t| !in_vf(t)).collect();
        let det: Vec<usize> = det.into_iter().filter(|&t| !in_vf(t)).collect();
        let win = (0.150 * fs) as i64;
        let (mut j, mut r_tp) = (0usize, 0usize);
        let mut used = vec![false; det.len()];
        for &r in &refs {
            while j < det.len() && (det[j] as i64) < r as i64 - win {
                j += 1;
            }
            let best = (j..det.len())
                .take_while(|&k| (det[k] as i64) <= r as i64 + win)
                .filter(|&k| !used[k])
                .min_by_key(|&k| (det[k] as i64 - r as i64).abs());
            if let Some(k) = best {
                used[k] = true;
                r_tp += 1;
                offsets.push(det[k] as i64 - r as i64);
            }
        }
        let r_fn = refs.len() - r_tp;
        let r_fp = det.len() - r_tp;
        eprintln!(
            "{name}: ref {} det {} FN {r_fn} FP {r_fp} Se {:.2} +P {:.2}",
            refs.len(),
            det.len(),
            100.0 * r_tp as f64 / refs.len() as f64,
            100.0 * r_tp as f64 / det.len().max(1) as f64
        );
        tp += r_tp;
        fn_ += r_fn;
        fp += r_fp;
    }
    offsets.sort_unstable();
    let se = 100.0 * tp as f64 / (tp + fn_) as f64;
    let pp = 100.0 * tp as f64 / (tp + fp) as f64;
    let median = offsets[offsets.len() / 2];
    println!("gross: TP {tp} FN {fn_} FP {fp} Se {se:.3}% +P {pp:.3}%  median offset {median}");
    (se, pp, median)
}

/// `x` at `fs` resampled to `to` Hz with the project's polyphase resampler.
fn resampled(x: Vec<f32>, fs: f64, to: usize) -> (Vec<f32>, f64) {
    let from = fs.round() as usize;
    let g = gcd(from, to);
    let r = wonhee_signal::PolyphaseResampler::new(to / g, from / g).unwrap();
    let mut out = vec![0f32; r.output_len(x.len())];
    r.process_f32_into(&x, &mut out);
    (out, to as f64)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn every_method_finds_99_8_percent_of_mitdb_beats_with_99_8_percent_precision() {
    for method in [Method::Elgendi, Method::PanTompkins] {
        let (se, pp, median) = score(method, &|x, fs| (x, fs));
        assert!(
            se >= 99.8 && pp >= 99.8,
            "{method:?}: Se {se:.3}% +P {pp:.3}%"
        );
        assert_eq!(
            median, 0,
            "{method:?}: detections sit where annotators put the beats"
        );
    }
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn detection_holds_at_250_and_500_hz_and_under_wander_and_hum() {
    let (se, pp, _) = score(Method::default(), &|x, fs| (x, fs));
    for to in [250, 500] {
        let (s, p, _) = score(Method::default(), &|x, fs| resampled(x, fs, to));
        assert!(
            s >= se - 0.3 && p >= pp - 0.3,
            "{to} Hz: Se {s:.3}% +P {p:.3}%"
        );
    }
    // 0.5 mV baseline wander at 0.3 Hz and 0.1 mV of 50 Hz hum.
    let (s, p, _) = score(Method::default(), &|x, fs| {
        let noisy = x
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = i as f64 / fs;
                let wander = 0.5 * (std::f64::consts::TAU * 0.3 * t).sin();
                let hum = 0.1 * (std::f64::consts::TAU * 50.0 * t).sin();
                v + (wander + hum) as f32
            })
            .collect();
        (noisy, fs)
    });
    assert!(
        s >= se - 0.5 && p >= pp - 0.5,
        "noise: Se {s:.3}% +P {p:.3}%"
    );
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn the_default_method_is_the_best_on_mitdb() {
    let (se, pp, _) = score(Method::default(), &|x, fs| (x, fs));
    let (se_e, pp_e, _) = score(Method::Elgendi, &|x, fs| (x, fs));
    println!("Pan-Tompkins {se:.3} / {pp:.3}, Elgendi {se_e:.3} / {pp_e:.3}");
    assert!(
        se + pp >= se_e + pp_e,
        "Elgendi is better: make it the default"
    );
}

#[test]
#[ignore = "needs MIT-BIH at $WONHEE_MITDB or ../shared/data/mitdb"]
fn streaming_in_one_second_chunks_scores_as_offline() {
    let (se, pp, _) = score(Method::default(), &|x, fs| (x, fs));
    let stream = |x: &[f32], fs: f64| {
        let mut s = wonhee_detect::Streaming::new(fs, wonhee_detect::Options::default()).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(fs as usize) {
            out.extend(s.push(c));
        }
        out.extend(s.finish());
        out
    };
    let (s, p, median) = score_with(&stream, &|x, fs| (x, fs));
    assert!(
        (s - se).abs() <= 0.1 && (p - pp).abs() <= 0.1,
        "Se {s:.3}% +P {p:.3}%"
    );
    assert_eq!(median, 0);
}
