//! The shipped configs (`configs/*.toml`) parse, validate, and say what their comments say.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use wonhee_model::{FfnKind, ImputeBase, MissingInput};
use wonhee_train::{RunConfig, SamplerKind, Schedule};

fn load(name: &str) -> RunConfig {
    let p = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join(format!("../../configs/{name}.toml"));
    RunConfig::from_toml_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../configs");
    let mut n = 0;
    for folder in [dir.clone(), dir.join("ablation")] {
        for e in std::fs::read_dir(&folder).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                RunConfig::from_toml_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
    }
    assert!(
        n >= 7,
        "expected quick, paper, paper-moe, ci, inter-patient and the ablations; found {n}"
    );
}

#[test]
fn paper_config_is_the_paper() {
    let c = load("paper");
    let m = &c.model;
    assert_eq!(
        (
            m.seq_len,
            m.patch,
            m.d_model,
            m.n_heads,
            m.n_layers,
            m.head_layers
        ),
        (640, 1, 128, 4, 4, 2)
    );
    assert_eq!(m.ffn, FfnKind::Swiglu);
    assert_eq!(m.missing_input, MissingInput::Replace);
    assert_eq!(m.impute_base, ImputeBase::None);
    let t = &c.train;
    assert_eq!((t.batch_size, t.epochs, t.lr), (128, 3.0, 3e-4));
    assert_eq!(t.max_steps, None);
    assert_eq!(t.schedule, Schedule::Constant);
    assert_eq!(t.sampler, SamplerKind::Balanced);
    assert_eq!(t.val_first_steps, 50);

    let moe = load("paper-moe");
    assert_eq!(moe.model.ffn, FfnKind::SoftMoe);
    assert_eq!(moe.model.n_experts, 5);
    assert_eq!(
        (moe.model.patch, moe.model.d_model, moe.train.batch_size),
        (1, 128, 128)
    );
}
