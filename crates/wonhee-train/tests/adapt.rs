//! The patient-specific protocol on a tiny run trained on the synthetic fixtures (record folds):
//! which beats are labelled and scored, that zero fine-tuning steps change nothing, that the
//! unadapted side agrees with `evaluate`, determinism, and that fine-tuning moves the model.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::Device;
use wonhee_dataset::{
    Dataset, PrepareConfig, Side, SplitKind, prepare, read_record_list, write_dataset,
};
use wonhee_eval::{Bootstrap, EvalProtocol};
use wonhee_train::{
    AdaptOptions, EvalOptions, Run, RunConfig, TrainOptions, adapt, evaluate, train,
};

fn fixtures() -> PathBuf {
    PathBuf::from(format!(
        "{}/../../fixtures/synth",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
    ))
}

/// Record folds of the fixtures and a tiny run that holds fold 0 out; also a paper-split
/// dataset with a run on it.
fn trained() -> &'static (PathBuf, PathBuf, PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("wonhee-adapt-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let src = fixtures();
        let names = read_record_list(&src).unwrap();
        let cfg = RunConfig::from_toml_str(
            r#"
            [model]
            patch = 16
            d_model = 32
            n_heads = 2
            n_layers = 1
            head_layers = 1
            ffn_mult = 2
            rhythm_inputs = 8
            [train]
            batch_size = 16
            max_steps = 20
            lr = 3e-3
            seed = 3
            fold = 0
            "#,
            "tiny",
        )
        .unwrap();
        let opts = TrainOptions {
            device: Device::Cpu,
            resume: false,
            stop_after: None,
            on_step: &|_| (),
            on_val: &|_| (),
        };
        let mut dirs = Vec::new();
        for (name, split) in [
            ("folds", SplitKind::RecordFolds { k: 2 }),
            ("paper", SplitKind::Paper { test_fraction: 0.2 }),
        ] {
            let pc = PrepareConfig {
                split,
                ..PrepareConfig::default()
            };
            let p = prepare(&src, &names, &pc, &|| ()).unwrap();
            let (data, run) = (base.join(format!("{name}-data")), base.join(name));
            write_dataset(&p, &data, false, true).unwrap();
            let mut cfg = cfg.clone();
            if name == "paper" {
                cfg.train.fold = None;
            }
            train(&run, &data, &cfg, &opts).unwrap();
            dirs.push((data, run));
        }
        (
            dirs[0].0.clone(),
            dirs[0].1.clone(),
            dirs[1].0.clone(),
            dirs[1].1.clone(),
        )
    })
}

fn options(steps: usize) -> AdaptOptions {
    AdaptOptions {
        minutes: 0.25,
        steps,
        batch_size: 8,
        lr: 1e-3,
        replay: 0.5,
        seed: 5,
    }
}

#[test]
fn beats_after_the_labelled_minutes_are_scored() {
    let (data, run_dir, _, _) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let boot = Bootstrap::new(20, 1);
    let a = adapt(&run, &ds, &options(0), &boot, &|_, _, _| ()).unwrap();

    let held_out = ds.indices(Side::Fold(0));
    let cutoff = 0.25 * 60.0 * f64::from(ds.summary().config.fs);
    let scored: Vec<usize> = held_out
        .iter()
        .copied()
        .filter(|&i| ds.centres()[i] as f64 >= cutoff)
        .collect();
    assert!(!scored.is_empty() && scored.len() < held_out.len());
    assert_eq!(a.after.n, scored.len() as u64);
    assert_eq!(
        a.records.iter().map(|r| r.scored).sum::<usize>(),
        scored.len()
    );
    let labelled: usize = a
        .records
        .iter()
        .map(|r| r.labelled.iter().sum::<usize>())
        .sum();
    assert_eq!(labelled + scored.len(), held_out.len());
    let mut names: Vec<&str> = a.records.iter().map(|r| r.record.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), a.records.len(), "one entry per record");

    assert!(
        a.records.iter().all(|r| !r.adapted),
        "zero steps adapt nothing"
    );
    // Zero steps: the copy is the run's model, so both sides agree beat for beat.
    assert_eq!(a.after.confusion, a.before.confusion);
    for r in &a.records {
        assert_eq!(r.correct_after, r.correct_before, "{}", r.record);
    }
}

#[test]
fn the_unadapted_side_is_what_evaluate_gives_on_those_beats() {
    let (data, run_dir, _, _) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let boot = Bootstrap::new(0, 1);
    let a = adapt(&run, &ds, &options(0), &boot, &|_, _, _| ()).unwrap();
    let eval = EvalOptions {
        batch: 32,
        protocol: EvalProtocol::new(1),
        bootstrap: Bootstrap::new(0, 1),
        max_regression_windows: Some(1),
        examples: 0,
        progress: &|_, _, _| {},
    };
    let (m, _) = evaluate(&run, &ds, &eval).unwrap();
    let whole = m.classification.unwrap();
    // Per record, evaluate's confusion covers every held-out beat; adapt's covers the scored
    // ones, a subset: never more of any cell.
    for r in &a.before.per_record {
        let w = whole
            .per_record
            .iter()
            .find(|w| w.record == r.record)
            .unwrap();
        for (row, wrow) in r.confusion.iter().zip(&w.confusion) {
            for (c, wc) in row.iter().zip(wrow) {
                assert!(c <= wc, "record {}", r.record);
            }
        }
    }
}

#[test]
fn fine_tuning_is_deterministic_and_moves_the_model() {
    let (data, run_dir, _, _) = trained();
    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let boot = Bootstrap::new(0, 1);
    let mut o = options(15);
    o.lr = 2e-2;
    let a = adapt(&run, &ds, &o, &boot, &|_, _, _| ()).unwrap();
    let b = adapt(&run, &ds, &o, &boot, &|_, _, _| ()).unwrap();
    assert_eq!(a.records, b.records);
    assert_eq!(a.after.confusion, b.after.confusion);
    assert!(a.records.iter().all(|r| r.adapted));
    // A large learning rate for 15 steps must change some prediction.
    assert_ne!(
        a.after.confusion, a.before.confusion,
        "fine-tuning left every prediction unchanged"
    );
}

#[test]
fn bad_settings_and_beat_level_splits_are_refused() {
    let (data, run_dir, paper_data, paper_run) = trained();
    let boot = Bootstrap::new(0, 1);
    let run = Run::open(paper_run, &Device::Cpu).unwrap();
    let ds = Dataset::open(paper_data).unwrap();
    let e = adapt(&run, &ds, &options(1), &boot, &|_, _, _| ())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("record-level split"), "{e}");

    let run = Run::open(run_dir, &Device::Cpu).unwrap();
    let ds = Dataset::open(data).unwrap();
    let mut o = options(1);
    o.replay = 1.0;
    let e = adapt(&run, &ds, &o, &boot, &|_, _, _| ())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("replay"), "{e}");
    let mut o = options(1);
    o.minutes = 10.0;
    let e = adapt(&run, &ds, &o, &boot, &|_, _, _| ())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no beats after"), "{e}");
}
