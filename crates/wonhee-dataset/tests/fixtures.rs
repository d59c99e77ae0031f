//! Dataset preparation on the synthetic records in `fixtures/` (made by `cargo xtask fixtures`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use wonhee_dataset::{
    ClassScheme, Dataset, DatasetError, PrepareConfig, RHYTHM_FEATURES, ResampleMethod, Side,
    SplitKind, WeightedSampler, prepare, prepare_to, read_record_list, rr_intervals, write_dataset,
};

fn fixtures(sub: &str) -> PathBuf {
    PathBuf::from(format!(
        "{}/../../fixtures",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ))
    .join(sub)
}

fn prep(cfg: &PrepareConfig) -> wonhee_dataset::Result<wonhee_dataset::Prepared> {
    let dir = fixtures("synth");
    prepare(&dir, &read_record_list(&dir)?, cfg, &|| ())
}

#[test]
fn paper_split_counts_leads_and_windows() {
    let cfg = PrepareConfig::default();
    let p = prep(&cfg).unwrap();
    let s = &p.summary;
    assert_eq!(p.records, vec!["s100", "s101", "s102", "s103"]);
    // s101 has MLII as signal 1; s102 has no MLII and falls back to signal 0.
    assert_eq!(s.records[1].lead_index, 1);
    assert_eq!(s.records[1].lead, "MLII");
    assert_eq!(s.lead_fallbacks, vec!["s102"]);
    assert_eq!(s.records[2].lead, "V5");
    // 60 s at 360 Hz -> 7680 samples at 128 Hz.
    assert!(
        s.records
            .iter()
            .all(|r| r.n_samples == 21_600 && r.n_resampled == 7680)
    );
    // Every beat is either a window or dropped; beats in the first/last 2.5 s are dropped.
    for r in &s.records {
        for c in 0..5 {
            assert_eq!(r.beats[c], r.windows[c] + r.dropped[c]);
        }
        assert!(
            r.dropped.iter().sum::<usize>() >= 4,
            "{}: {:?}",
            r.record,
            r.dropped
        );
    }
    assert_eq!(s.n_windows, p.beats.len());
    let half = 320;
    for i in 0..p.beats.len() {
        let c = p.beats.centre[i];
        assert!(c >= half && c + half <= 7680);
        assert_eq!(
            c,
            ((p.beats.sample[i] as f64) * 128.0 / 360.0).round() as i64
        );
    }
    // Stratified 80:20: per class, round(0.2 * n) test windows.
    let total: Vec<usize> = (0..5)
        .map(|c| s.records.iter().map(|r| r.windows[c]).sum())
        .collect();
    let test = &s.splits["test"].per_class;
    for c in 0..5 {
        assert_eq!(
            test[c],
            (0.2 * total[c] as f64).round() as usize,
            "class {c}"
        );
    }
    // Neighbouring beats share most of their window: the paper split is optimistic.
    assert!(s.overlap.fraction_overlapping > 0.99, "{:?}", s.overlap);
    assert!(s.overlap.mean_shared_fraction > 0.7);
    let sc = s.scaler.unwrap();
    assert!(sc.mean.abs() < 0.2 && (sc.std - 1.0).abs() < 0.2, "{sc:?}");
}

#[test]
fn signals_match_an_f64_reference_to_a_millionth_of_their_range() {
    // Prepared signals (exact integer z-score, f32 polyphase kernel) against the plain f64 path:
    // physical values -> z-score -> `resample_poly`, for each record's chosen lead.
    let p = prep(&PrepareConfig::default()).unwrap();
    for (i, name) in p.records.iter().enumerate() {
        let rec = wonhee_wfdb::Record::open(fixtures("synth").join(name)).unwrap();
        let lead = p.summary.records[i].lead_index;
        let mut x = rec.read_signals().unwrap().physical_f64(lead);
        wonhee_signal::zscore(&mut x).unwrap();
        let y = wonhee_signal::resample_poly(&x, 128, 360).unwrap();
        let got = &p.signals[i];
        assert_eq!(got.len(), y.len());
        let (lo, hi) = y
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let worst = y
            .iter()
            .zip(got)
            .map(|(&a, &b)| (a - f64::from(b)).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-6 * (hi - lo),
            "{name}: {worst} of range {}",
            hi - lo
        );
        assert!(worst > 0.0, "{name}: f32 storage cannot be exact");
    }
}

#[test]
fn scaler_is_fitted_on_training_windows_only() {
    let p = prep(&PrepareConfig::default()).unwrap();
    let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
    for i in 0..p.beats.len() {
        if p.beats.side[i] != Side::Train {
            continue;
        }
        let s = &p.signals[usize::from(p.beats.record[i])];
        let start = (p.beats.centre[i] - 320) as usize;
        for &v in &s[start..start + 640] {
            n += 1.0;
            sum += f64::from(v);
            sq += f64::from(v) * f64::from(v);
        }
    }
    let mean = sum / n;
    let std = (sq / n - mean * mean).sqrt();
    let sc = p.summary.scaler.unwrap();
    assert!(
        (sc.mean - mean).abs() < 1e-9 && (sc.std - std).abs() < 1e-9,
        "{sc:?} vs {mean} {std}"
    );
    // A scaler over all windows differs: test data did not leak into it.
    let mut all = 0f64;
    for i in 0..p.beats.len() {
        let s = &p.signals[usize::from(p.beats.record[i])];
        all += s[(p.beats.centre[i] - 320) as usize..][..640]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
    }
    assert_ne!(all / (p.beats.len() as f64 * 640.0), sc.mean);
}

#[test]
fn write_open_and_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let p = prep(&PrepareConfig::default()).unwrap();
    write_dataset(&p, &out, true, false).unwrap();
    // Refuses to overwrite without permission.
    assert!(
        write_dataset(&p, &out, false, false)
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    #[cfg(unix)]
    for f in [
        "signals.safetensors",
        "beats.parquet",
        "summary.json",
        "windows.safetensors",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o044, 0o044, "{f}: mode {mode:o} is owner-only");
    }
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.len(), p.beats.len());
    assert_eq!(ds.labels(), p.beats.label.as_slice());
    assert_eq!(ds.sides(), p.beats.side.as_slice());
    assert_eq!(ds.window_len(), 640);
    for i in [0, 7, ds.len() - 1] {
        let r = usize::from(ds.window_records()[i]);
        let start = (ds.centres()[i] - 320) as usize;
        assert_eq!(ds.window(i), &p.signals[r][start..start + 640]);
    }
    let sc = ds.scaler(None).unwrap();
    let idx = [3, 1, 4];
    let mut batch = vec![0f32; 3 * 640];
    ds.fill_batch(&idx, &sc, &mut batch).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        for j in 0..640 {
            let e = ((f64::from(ds.window(i)[j]) - sc.mean) / sc.std) as f32;
            assert!((batch[k * 640 + j] - e).abs() < 1e-5);
        }
    }
    assert!(ds.fill_batch(&idx, &sc, &mut batch[..10]).is_err());
    assert!(ds.fill_batch(&[ds.len()], &sc, &mut batch[..640]).is_err());
    // Materialized windows: [N, 640] train-scaled.
    let bytes = std::fs::read(out.join("windows.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor("windows").unwrap();
    assert_eq!(w.shape(), &[ds.len(), 640]);
    let vals: &[f32] = bytemuck::cast_slice(&w.data()[..640 * 4 * 5]);
    ds.fill_batch(&[4], &sc, &mut batch[..640]).unwrap();
    assert!(
        vals[4 * 640..5 * 640] == batch[..640],
        "materialized window 4 differs from fill_batch"
    );
    // Sampler over the training windows.
    let train = ds.indices(Side::Train);
    let mut s = WeightedSampler::class_balanced(train.clone(), ds.labels(), 5, 1).unwrap();
    assert!(s.sample(100).iter().all(|i| train.contains(i)));
}

#[test]
fn deterministic_and_seeded() {
    let a = prep(&PrepareConfig::default()).unwrap();
    let b = prep(&PrepareConfig::default()).unwrap();
    assert_eq!(a.beats, b.beats);
    assert_eq!(a.signals, b.signals);
    assert_eq!(a.summary, b.summary);
    let c = prep(&PrepareConfig {
        seed: 7,
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_ne!(a.beats.side, c.beats.side);
    assert_eq!(a.signals, c.signals);
}

#[test]
fn other_options() {
    // FFT resampling gives the same lengths and close values.
    let poly = prep(&PrepareConfig::default()).unwrap();
    let fft = prep(&PrepareConfig {
        resample: ResampleMethod::Fft,
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_eq!(fft.signals[0].len(), poly.signals[0].len());
    let diff: f32 = poly.signals[0][1000..6000]
        .iter()
        .zip(&fft.signals[0][1000..6000])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 0.1, "{diff}");
    // Six classes: paced beats get their own class.
    let six = prep(&PrepareConfig {
        classes: ClassScheme::Aami6,
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_eq!(six.summary.classes, vec!["N", "S", "V", "F", "Q", "P"]);
    assert!(six.summary.records[2].windows[5] > 0);
    // Filters change the signal but not the windows.
    let filt = prep(&PrepareConfig {
        remove_baseline: true,
        bandpass: Some([0.5, 40.0]),
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_eq!(filt.beats.centre, poly.beats.centre);
    assert_ne!(filt.signals[0], poly.signals[0]);
    // Record folds: every window in one fold, one scaler per fold.
    let folds = prep(&PrepareConfig {
        split: SplitKind::RecordFolds { k: 2 },
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_eq!(folds.summary.fold_scalers.len(), 2);
    assert!(folds.summary.scaler.is_none());
    assert!(
        folds
            .beats
            .side
            .iter()
            .all(|s| matches!(s, Side::Fold(0 | 1)))
    );
    // Another lead by name.
    let v5 = prep(&PrepareConfig {
        lead: "V5".into(),
        ..PrepareConfig::default()
    })
    .unwrap();
    assert_eq!(v5.summary.records[0].lead, "V5");
    assert_eq!(v5.summary.lead_fallbacks, vec!["s103"]);
}

#[test]
fn bad_input_is_a_clear_error() {
    // Synthetic records are not in de Chazal's lists: nothing is left.
    let e = prep(&PrepareConfig {
        split: SplitKind::InterPatient,
        ..PrepareConfig::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("no beat windows"), "{e}");
    // A record shorter than one window.
    let short = fixtures("short");
    let e = prepare(&short, &["short".into()], &PrepareConfig::default(), &|| ())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("short.hea")
            && e.to_string().contains("shorter than one 640-sample window"),
        "{e}"
    );
    // A truncated signal file and a missing record.
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(fixtures("synth")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.path().join(f.file_name())).unwrap();
    }
    let dat = tmp.path().join("s101.dat");
    let bytes = std::fs::read(&dat).unwrap();
    std::fs::write(&dat, &bytes[..1000]).unwrap();
    let names = read_record_list(tmp.path()).unwrap();
    let e = prepare(tmp.path(), &names, &PrepareConfig::default(), &|| ())
        .err()
        .unwrap();
    assert!(
        matches!(e, DatasetError::Wfdb(_)) && e.to_string().contains("s101.dat"),
        "{e}"
    );
    let e = prepare(
        tmp.path(),
        &["nope".into()],
        &PrepareConfig::default(),
        &|| (),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("nope.hea"), "{e}");
    // A corrupt dataset folder is refused when opened.
    let out = tmp.path().join("ds");
    write_dataset(
        &prep(&PrepareConfig::default()).unwrap(),
        &out,
        false,
        false,
    )
    .unwrap();
    std::fs::write(out.join("summary.json"), b"{").unwrap();
    let e = Dataset::open(&out).err().unwrap().to_string();
    assert!(e.contains("summary.json"), "{e}");
    assert!(Dataset::open(Path::new("/nonexistent")).is_err());
}

/// The context features a dataset gives are those `predict_record`'s path computes from the
/// raw record (edge beats included), and the synthetic V beats stand out from the median beat.
#[test]
fn context_features_match_the_raw_record_and_v_beats_stand_out() {
    let dir = fixtures("synth");
    let cfg = PrepareConfig::default();
    let p = prep(&cfg).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    write_dataset(&p, &out, false, false).unwrap();
    let ds = Dataset::open(&out).unwrap();
    let ctx = ds.context();
    assert_eq!(ctx.len(), ds.len());
    for (r, name) in ds.records().iter().enumerate() {
        let of_record: Vec<usize> = (0..ds.len())
            .filter(|&i| usize::from(ds.window_records()[i]) == r)
            .collect();
        let rw = wonhee_dataset::prepare_record(&dir, name, &cfg, true).unwrap();
        let raw =
            wonhee_dataset::window_context(&rw.signal, &rw.centre, f64::from(cfg.fs), cfg.window);
        assert!(rw.centre.len() > of_record.len(), "{name}: edge beats");
        for i in of_record {
            let j = rw
                .sample
                .iter()
                .position(|&s| s == ds.samples()[i])
                .unwrap();
            assert_eq!(ctx[i], raw[j], "{name} beat at {}", ds.samples()[i]);
        }
    }
    // Shape distance (feature 1) of V beats (label 2) above that of N beats (label 0).
    let mean = |class: u8| {
        let v: Vec<f32> = (0..ds.len())
            .filter(|&i| ds.labels()[i] == class)
            .map(|i| ctx[i][1])
            .collect();
        v.iter().sum::<f32>() / v.len().max(1) as f32
    };
    assert!(mean(2) > mean(0) + 0.5, "V {} vs N {}", mean(2), mean(0));
    // All eleven features: the rhythm ones, then the context ones; a narrower width reads a
    // prefix of each window's (8: what models made before the timing features read); other
    // widths are errors.
    let idx = [3, 0];
    let all = wonhee_dataset::BEAT_FEATURES;
    assert_eq!(all, 11);
    let mut f = vec![0f32; 2 * all];
    ds.fill_features(&idx, all, &mut f).unwrap();
    assert_eq!(f[..RHYTHM_FEATURES], ds.rr().unwrap()[3].features());
    assert_eq!(f[RHYTHM_FEATURES..all], ctx[3]);
    assert_eq!(f[all + RHYTHM_FEATURES..], ctx[0]);
    for width in wonhee_dataset::BEAT_FEATURE_WIDTHS {
        let mut g = vec![0f32; 2 * width];
        ds.fill_features(&idx, width, &mut g).unwrap();
        assert_eq!(g[..width], f[..width], "width {width}");
        assert_eq!(g[width..], f[all..all + width], "width {width}");
    }
    let e = ds
        .fill_features(&idx, 6, &mut f[..12])
        .unwrap_err()
        .to_string();
    assert!(e.contains('6'), "{e}");
}

#[test]
fn rr_intervals_are_stored_and_premature_beats_come_early() {
    let dir = fixtures("synth");
    let p = prep(&PrepareConfig::default()).unwrap();
    // Each beat's intervals are those of all the record's beats, the dropped edge beats
    // included: recompute them from the annotation files.
    let names = read_record_list(&dir).unwrap();
    for (r, name) in names.iter().enumerate() {
        let ann = wonhee_wfdb::Annotations::open(dir.join(name), "atr").unwrap();
        let beats: Vec<i64> = ann
            .annotations
            .iter()
            .filter(|a| ClassScheme::Aami5.label(a.symbol()).is_some())
            .map(|a| a.sample)
            .collect();
        let all = rr_intervals(&beats, 360.0);
        let kept: Vec<usize> = (0..p.beats.len())
            .filter(|&i| usize::from(p.beats.record[i]) == r)
            .collect();
        assert!(
            kept.len() + 4 <= beats.len(),
            "{name}: edge beats are dropped"
        );
        for &i in &kept {
            let j = beats.iter().position(|&s| s == p.beats.sample[i]).unwrap();
            assert_eq!(
                p.beats.rr[i], all[j],
                "{name} beat at {}",
                p.beats.sample[i]
            );
        }
    }
    // The synthetic rhythm: premature beats (S, V) at 0.65 of the RR interval, then a pause.
    let mean = |class: u8, f: usize| {
        let v: Vec<f32> = (0..p.beats.len())
            .filter(|&i| p.beats.label[i] == class)
            .map(|i| p.beats.rr[i].features()[f])
            .collect();
        assert!(!v.is_empty(), "no beats of class {class}");
        v.iter().sum::<f32>() / v.len() as f32
    };
    // (N beats right after one have a long pre-RR interval, so their mean is above 0.)
    for class in [1, 2] {
        assert!(mean(class, 0) < -0.25, "class {class}: {}", mean(class, 0));
        assert!(mean(class, 0) < mean(0, 0) - 0.3, "class {class}");
        assert!(mean(class, 1) > 0.1, "class {class}: {}", mean(class, 1));
    }

    // Stored, read back, and given as features.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    write_dataset(&p, &out, false, false).unwrap();
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.rr().unwrap(), p.beats.rr.as_slice());
    let idx = [5, 0, ds.len() - 1];
    let mut f = vec![0f32; idx.len() * RHYTHM_FEATURES];
    ds.fill_rhythm(&idx, &mut f).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        assert_eq!(
            f[k * RHYTHM_FEATURES..(k + 1) * RHYTHM_FEATURES],
            p.beats.rr[i].features()
        );
    }
    assert!(ds.fill_rhythm(&idx, &mut f[..5]).is_err());
    assert!(ds.fill_rhythm(&[ds.len()], &mut f[..4]).is_err());

    // A dataset from before the RR columns opens, but has no rhythm features to give.
    use polars::prelude::{ParquetReader, ParquetWriter, SerReader};
    let beats = out.join("beats.parquet");
    let df = ParquetReader::new(std::fs::File::open(&beats).unwrap())
        .finish()
        .unwrap();
    let mut old = df
        .drop_many(["rr_pre", "rr_post", "rr_local", "rr_average"])
        .clone();
    ParquetWriter::new(std::fs::File::create(&beats).unwrap())
        .finish(&mut old)
        .unwrap();
    let ds = Dataset::open(&out).unwrap();
    assert!(ds.rr().is_err());
    let e = ds.fill_rhythm(&[0], &mut f[..4]).unwrap_err().to_string();
    assert!(e.contains("beats.parquet") && e.contains("prepare"), "{e}");
    // A partial or corrupt set of RR columns is an error naming the file, row and column.
    let mut partial = df.drop("rr_post").unwrap();
    ParquetWriter::new(std::fs::File::create(&beats).unwrap())
        .finish(&mut partial)
        .unwrap();
    let e = Dataset::open(&out).err().unwrap().to_string();
    assert!(e.contains("beats.parquet") && e.contains("rr_post"), "{e}");
    let mut neg = df.clone();
    let mut v: Vec<f32> = p.beats.rr.iter().map(|r| r.local).collect();
    v[3] = -1.0;
    neg.replace(
        "rr_local",
        polars::prelude::Column::new("rr_local".into(), v),
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&beats).unwrap())
        .finish(&mut neg)
        .unwrap();
    let e = Dataset::open(&out).err().unwrap().to_string();
    assert!(e.contains("row 3") && e.contains("rr_local"), "{e}");
}

#[test]
fn prepare_to_writes_what_prepare_and_write_dataset_write() {
    let dir = fixtures("synth");
    let names = read_record_list(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for split in [
        SplitKind::Paper { test_fraction: 0.2 },
        SplitKind::RecordFolds { k: 2 },
    ] {
        let cfg = PrepareConfig {
            split,
            ..PrepareConfig::default()
        };
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let p = prepare(&dir, &names, &cfg, &|| ()).unwrap();
        write_dataset(&p, &a, false, true).unwrap();
        let q = prepare_to(&dir, &names, &cfg, &b, false, true, &|| ()).unwrap();
        assert_eq!(p.signals, q.signals);
        assert_eq!(p.beats.centre, q.beats.centre);
        let (da, db) = (Dataset::open(&a).unwrap(), Dataset::open(&b).unwrap());
        assert_eq!(da.records(), db.records());
        for r in 0..da.records().len() {
            assert_eq!(da.record_signal(r), db.record_signal(r));
            assert_eq!(db.record_signal(r), q.signals[r].as_slice());
        }
        assert_eq!(da.labels(), db.labels());
        assert_eq!(da.sides(), db.sides());
        assert_eq!(
            std::fs::read(a.join("beats.parquet")).unwrap(),
            std::fs::read(b.join("beats.parquet")).unwrap()
        );
        assert_eq!(
            std::fs::read(a.join("summary.json")).unwrap(),
            std::fs::read(b.join("summary.json")).unwrap()
        );
    }
    // Refuses an existing folder without overwrite, before any work.
    let e = prepare_to(
        &dir,
        &names,
        &PrepareConfig::default(),
        &tmp.path().join("a"),
        false,
        false,
        &|| (),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("already exists"), "{e}");
    // A bad record: an error naming it, and nothing left behind.
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), bad.join(f.file_name())).unwrap();
    }
    let dat = bad.join("s102.dat");
    let bytes = std::fs::read(&dat).unwrap();
    std::fs::write(&dat, &bytes[..999]).unwrap();
    let out = tmp.path().join("never");
    let e = prepare_to(
        &bad,
        &names,
        &PrepareConfig::default(),
        &out,
        false,
        false,
        &|| (),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("s102.dat"), "{e}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().starts_with(".wonhee"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `second_lead` stores each record's first signal other than the lead used, processed exactly
/// as that signal is when it is the lead; the dataset folder gives its windows.
#[test]
fn second_lead_is_the_other_signal_processed_alike() {
    let dir = fixtures("synth");
    let names = read_record_list(&dir).unwrap();
    let cfg = PrepareConfig {
        second_lead: true,
        ..PrepareConfig::default()
    };
    let p = prep(&cfg).unwrap();
    // The first lead and the windows are those of a dataset prepared without it.
    let plain = prep(&PrepareConfig::default()).unwrap();
    assert_eq!(p.signals, plain.signals);
    assert_eq!(p.beats, plain.beats);
    assert_eq!(p.summary.scaler, plain.summary.scaler);
    assert_eq!(p.summary.fold_scalers, plain.summary.fold_scalers);
    assert!(plain.signals2.is_empty());
    assert!(
        plain
            .summary
            .records
            .iter()
            .all(|r| r.second_lead.is_none())
    );
    // s100: MLII then V5; s101: V5 then MLII; s102: no MLII (V5 used), V2; s103: MLII, V1.
    let want = [("V5", 1), ("V5", 0), ("V2", 1), ("V1", 1)];
    assert_eq!(p.signals2.len(), names.len());
    for (r, (lead, index)) in want.iter().enumerate() {
        let s = p.summary.records[r].second_lead.as_ref().unwrap();
        assert_eq!(
            (s.lead.as_str(), s.lead_index),
            (*lead, *index),
            "{}",
            names[r]
        );
        // The same signal prepared as the lead.
        let alone = prepare(
            &dir,
            std::slice::from_ref(&names[r]),
            &PrepareConfig {
                lead: (*lead).to_owned(),
                ..PrepareConfig::default()
            },
            &|| (),
        )
        .unwrap();
        assert_eq!(alone.summary.records[0].lead_index, *index);
        assert_eq!(p.signals2[r], alone.signals[0], "{}", names[r]);
        assert_eq!(s.zscore, alone.summary.records[0].zscore);
        assert_ne!(p.signals2[r], p.signals[r]);
    }
    // Written and opened: window2 and fill_batch2 give its windows, unscaled.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    write_dataset(&p, &out, false, false).unwrap();
    let ds = Dataset::open(&out).unwrap();
    assert!(ds.has_second_lead());
    let idx = [5, 0, ds.len() - 1];
    let mut x2 = vec![0f32; idx.len() * 640];
    ds.fill_batch2(&idx, &mut x2).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        let r = usize::from(ds.window_records()[i]);
        let start = (ds.centres()[i] - 320) as usize;
        let want = &p.signals2[r][start..start + 640];
        assert_eq!(ds.window2(i).unwrap(), want);
        assert_eq!(&x2[k * 640..(k + 1) * 640], want);
    }
    assert!(ds.fill_batch2(&idx, &mut x2[..640]).is_err());
    // prepare_to writes the same folder.
    let out_to = tmp.path().join("ds-to");
    prepare_to(&dir, &names, &cfg, &out_to, false, false, &|| ()).unwrap();
    for f in ["signals.safetensors", "signals2.safetensors"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out_to.join(f)).unwrap(),
            "{f}"
        );
    }
    // A dataset without it says how to get one.
    let out_plain = tmp.path().join("plain");
    write_dataset(&plain, &out_plain, false, false).unwrap();
    let ds_plain = Dataset::open(&out_plain).unwrap();
    assert!(!ds_plain.has_second_lead() && ds_plain.window2(0).is_none());
    let e = ds_plain
        .fill_batch2(&[0], &mut x2[..640])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--second-lead"), "{e}");
    // A missing or short signals2 file is refused when opened, naming it.
    std::fs::remove_file(out_to.join("signals2.safetensors")).unwrap();
    let e = Dataset::open(&out_to).err().unwrap().to_string();
    assert!(e.contains("signals2.safetensors"), "{e}");
    std::fs::copy(
        out_plain.join("signals.safetensors"),
        out_to.join("signals2.safetensors"),
    )
    .unwrap();
    assert!(Dataset::open(&out_to).is_ok());
    let short: Vec<Vec<f32>> = p.signals2.iter().map(|s| s[..100].to_vec()).collect();
    let short_p = wonhee_dataset::Prepared {
        signals2: short,
        ..p
    };
    let out_short = tmp.path().join("short2");
    write_dataset(&short_p, &out_short, false, false).unwrap();
    let e = Dataset::open(&out_short).err().unwrap().to_string();
    assert!(
        e.contains("signals2.safetensors") && e.contains("second lead has 100 samples"),
        "{e}"
    );
    // A record with one signal cannot give a second lead.
    let one = tmp.path().join("one");
    std::fs::create_dir(&one).unwrap();
    let hea = std::fs::read_to_string(dir.join("s103.hea")).unwrap();
    let mut lines: Vec<&str> = hea.lines().collect();
    lines[0] = "s103 1 360 21600";
    lines.remove(2);
    std::fs::write(one.join("s103.hea"), lines.join("\n")).unwrap();
    for ext in ["dat", "atr"] {
        std::fs::copy(
            dir.join(format!("s103.{ext}")),
            one.join(format!("s103.{ext}")),
        )
        .unwrap();
    }
    let e = prepare(&one, &["s103".into()], &cfg, &|| ())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("s103.hea") && e.contains("one signal"), "{e}");
}

/// `fill_beat_inputs` with `lead2`: the beat features, then the shape context features of the
/// beat in the second lead (as `window_context` computes them from that lead).
#[test]
fn lead2_features_are_the_second_leads_shape_context() {
    let cfg = PrepareConfig {
        second_lead: true,
        ..PrepareConfig::default()
    };
    let p = prep(&cfg).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    write_dataset(&p, &out, false, false).unwrap();
    let ds = Dataset::open(&out).unwrap();
    let idx: Vec<usize> = (0..ds.len()).step_by(7).collect();
    let (w, row) = (8, 8 + wonhee_dataset::LEAD2_FEATURES);
    let mut first = vec![0f32; idx.len() * w];
    ds.fill_features(&idx, w, &mut first).unwrap();
    let mut both = vec![0f32; idx.len() * row];
    ds.fill_beat_inputs(&idx, w, true, &mut both).unwrap();
    // Each record's second-lead context, computed from its signal and centres directly.
    let c2 = ds.context2().unwrap();
    for r in 0..ds.records().len() {
        let windows: Vec<usize> = (0..ds.len())
            .filter(|&i| usize::from(ds.window_records()[i]) == r)
            .collect();
        let centres: Vec<i64> = windows.iter().map(|&i| ds.centres()[i]).collect();
        let want = wonhee_dataset::window_context(&p.signals2[r], &centres, 128.0, 640);
        for (&i, v) in windows.iter().zip(&want) {
            assert_eq!(&c2[i], v);
        }
    }
    let mut differs = false;
    for (k, &i) in idx.iter().enumerate() {
        let o = &both[k * row..(k + 1) * row];
        assert_eq!(&o[..w], &first[k * w..(k + 1) * w]);
        assert_eq!(o[w..], wonhee_dataset::lead2_shape(&c2[i]));
        differs |= o[w..] != ds.context()[i][1..4];
    }
    assert!(differs, "the second lead's features equal the first lead's");
    // Without `lead2` it is fill_features; a wrong buffer or a dataset without it is refused.
    let mut same = vec![0f32; idx.len() * w];
    ds.fill_beat_inputs(&idx, w, false, &mut same).unwrap();
    assert_eq!(same, first);
    assert!(ds.fill_beat_inputs(&idx, w, true, &mut first).is_err());
    let plain = tmp.path().join("plain");
    write_dataset(
        &prep(&PrepareConfig::default()).unwrap(),
        &plain,
        false,
        false,
    )
    .unwrap();
    let e = Dataset::open(&plain)
        .unwrap()
        .fill_beat_inputs(&[0], w, true, &mut both[..row])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--second-lead"), "{e}");
}
