//! Training on a dataset prepared from the synthetic fixtures: files, determinism, bitwise
//! resume, the NaN guard, configuration checks.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::Device;
use wonhee_dataset::{PrepareConfig, prepare, read_record_list, write_dataset};
use wonhee_train::{
    Combine, RunConfig, SamplerKind, Schedule, TrainError, TrainOptions, TrainSummary, train,
};

/// One prepared fixture dataset shared by the tests of this file.
fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = PathBuf::from(format!(
            "{}/../../fixtures/synth",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
        ));
        let out = std::env::temp_dir().join(format!("wonhee-train-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        // With the second lead, for models that read it (others ignore it).
        let cfg = PrepareConfig {
            second_lead: true,
            ..PrepareConfig::default()
        };
        let p = prepare(&src, &read_record_list(&src).unwrap(), &cfg, &|| ()).unwrap();
        write_dataset(&p, &out, false, true).unwrap();
        out
    })
}

fn tiny() -> RunConfig {
    let text = r#"
        [model]
        patch = 16
        d_model = 32
        n_heads = 2
        n_layers = 1
        head_layers = 1
        ffn_mult = 2
        [train]
        batch_size = 8
        max_steps = 6
        checkpoint_every = 3
        val_first_steps = 2
        val_fraction = 0.2
        val_max = 40
        lr = 1e-3
        seed = 5
    "#;
    RunConfig::from_toml_str(text, "tiny").unwrap()
}

fn run(
    dir: &Path,
    cfg: &RunConfig,
    resume: bool,
    stop_after: Option<usize>,
) -> Result<TrainSummary, TrainError> {
    let opts = TrainOptions {
        device: Device::Cpu,
        resume,
        stop_after,
        on_step: &|_| (),
        on_val: &|_| (),
    };
    train(dir, dataset(), cfg, &opts)
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

fn log_without_timing(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("samples_per_s");
            o.remove("elapsed_s");
            v
        })
        .collect()
}

#[test]
fn writes_the_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let s = run(tmp.path(), &tiny(), false, None).unwrap();
    assert!(s.finished);
    assert_eq!((s.steps_done, s.total_steps), (6, 6));
    for f in [
        "config.toml",
        "run.json",
        "model.safetensors",
        "metrics.jsonl",
        "checkpoint/state.json",
        "checkpoint/optimizer.safetensors",
        "checkpoint/model.safetensors",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f}");
        // Ordinary permissions, not the owner-only ones of temporary files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(tmp.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o044, 0o044, "{f}: mode {mode:o}");
        }
    }
    let log = log_without_timing(tmp.path());
    let train_lines = log.iter().filter(|v| v["kind"] == "train").count();
    let val_steps: Vec<u64> = log
        .iter()
        .filter(|v| v["kind"] == "val")
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(train_lines, 6);
    assert!(
        val_steps.contains(&2) && val_steps.contains(&6),
        "{val_steps:?}"
    );
    let info = wonhee_train::RunInfo::read(tmp.path()).unwrap();
    assert_eq!(info.dataset.classes, vec!["N", "S", "V", "F", "Q"]);
    assert!(info.finished && info.dataset.n_val > 0);
    // Training again into the same folder needs --resume.
    let e = run(tmp.path(), &tiny(), false, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--resume"), "{e}");
}

#[test]
fn same_seed_same_weights() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(a.path(), &tiny(), false, None).unwrap();
    run(b.path(), &tiny(), false, None).unwrap();
    assert!(
        weights(a.path()) == weights(b.path()),
        "two runs with the same seed differ"
    );
    let mut other = tiny();
    other.train.seed = 6;
    let c = tempfile::tempdir().unwrap();
    run(c.path(), &other, false, None).unwrap();
    assert!(weights(a.path()) != weights(c.path()));
}

fn resume_matches_uninterrupted(cfg: &RunConfig, stop: usize) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(a.path(), cfg, false, None).unwrap();
    let s = run(b.path(), cfg, false, Some(stop)).unwrap();
    assert!(!s.finished && s.steps_done == stop);
    assert!(!b.path().join("model.safetensors").exists());
    let s = run(b.path(), cfg, true, None).unwrap();
    assert!(s.finished);
    assert!(
        weights(a.path()) == weights(b.path()),
        "resumed run differs from the uninterrupted one"
    );
    assert_eq!(log_without_timing(a.path()), log_without_timing(b.path()));
}

#[test]
fn resume_is_bitwise_identical() {
    resume_matches_uninterrupted(&tiny(), 3);
}

#[test]
fn resume_is_bitwise_identical_with_every_option() {
    let mut cfg = tiny();
    cfg.train.combine = Combine::Pcgrad;
    cfg.train.sampler = SamplerKind::Shuffle;
    cfg.train.noise_std = 0.05;
    cfg.train.augment_scale = 0.2;
    cfg.train.augment_wander = 0.3;
    cfg.train.augment_warp = 0.1;
    cfg.train.augment_shift = 0.05;
    cfg.train.focal_gamma = 2.0;
    cfg.train.grad_clip = Some(0.5);
    cfg.train.schedule = Schedule::Cosine;
    cfg.train.warmup_steps = 2;
    cfg.train.task_weights = [1.0, 0.5, 2.0];
    cfg.train.max_steps = Some(7);
    cfg.model.missing_input = wonhee_model::MissingInput::Interpolate;
    cfg.model.impute_base = wonhee_model::ImputeBase::Linear;
    cfg.model.rhythm_inputs = wonhee_dataset::RHYTHM_FEATURES;
    cfg.model.second_lead = true;
    cfg.model.lead2_context = true;
    // A stop that is not on a checkpoint boundary, inside the second shuffle epoch.
    resume_matches_uninterrupted(&cfg, 5);
}

#[test]
fn second_lead_trains_and_needs_a_dataset_with_one() {
    let mut cfg = tiny();
    cfg.model.second_lead = true;
    let a = tempfile::tempdir().unwrap();
    run(a.path(), &cfg, false, None).unwrap();
    let vm = wonhee_model::init_varmap(&cfg.model, 0, &Device::Cpu).unwrap();
    wonhee_model::load_weights(&vm, a.path().join("model.safetensors")).unwrap();
    // The second lead's embedding was trained (it moved from its initial values).
    let init = wonhee_model::init_varmap(&cfg.model, cfg.train.seed, &Device::Cpu).unwrap();
    let get = |vm: &candle_nn::VarMap| -> Vec<f32> {
        let d = vm.data().lock().unwrap();
        d["lead2.weight"]
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    assert_ne!(get(&vm), get(&init));
    // A dataset prepared without it is refused, saying how to prepare one.
    let src = PathBuf::from(format!(
        "{}/../../fixtures/synth",
        env!("CARGO_MANIFEST_DIR")
    ));
    let plain = prepare(
        &src,
        &read_record_list(&src).unwrap(),
        &PrepareConfig::default(),
        &|| (),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("plain");
    write_dataset(&plain, &ds, false, false).unwrap();
    let opts = TrainOptions {
        device: Device::Cpu,
        resume: false,
        stop_after: None,
        on_step: &|_| (),
        on_val: &|_| (),
    };
    let e = train(&tmp.path().join("run"), &ds, &cfg, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("second lead") && e.contains("--second-lead"),
        "{e}"
    );
}

#[test]
fn nan_guard_names_step_and_task_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = tiny();
    cfg.train.lr = 1e30;
    cfg.train.checkpoint_every = 1;
    cfg.train.max_steps = Some(20);
    let e = run(tmp.path(), &cfg, false, None).unwrap_err();
    match &e {
        TrainError::NonFinite { step, task, .. } => {
            assert!(*step >= 2, "step {step}");
            let state: serde_json::Value = serde_json::from_slice(
                &std::fs::read(tmp.path().join("checkpoint/state.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                state["step"].as_u64().unwrap() as usize,
                step - 1,
                "last good checkpoint"
            );
            assert!(!task.is_empty());
        }
        other => panic!("expected a non-finite loss error, got {other}"),
    }
    assert!(e.to_string().contains("step"), "{e}");
}

#[test]
fn configuration_mismatches_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), &tiny(), false, Some(3)).unwrap();
    let mut other = tiny();
    other.train.lr = 2e-3;
    let e = run(tmp.path(), &other, true, None).unwrap_err().to_string();
    assert!(e.contains("another configuration"), "{e}");
    let mut six = tiny();
    six.model.n_classes = 6;
    let e = run(tempfile::tempdir().unwrap().path(), &six, false, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("classes"), "{e}");
    let mut rhythm = tiny();
    rhythm.model.rhythm_inputs = 3;
    let e = run(tempfile::tempdir().unwrap().path(), &rhythm, false, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rhythm_inputs is 3"), "{e}");
}
