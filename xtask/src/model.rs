//! `cargo xtask model [--check]`: retrain the model shipped in `models/wonhee-ds1` (DS1 only,
//! `configs/inter-patient.toml`, seed 42) from MIT-BIH, bit for bit, and install it (or, with
//! `--check`, only compare its weights with the shipped ones).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::pipeline::wonhee;
use sha2::{Digest, Sha256};

/// Where the shipped model lives, relative to the workspace root.
pub const DIR: &str = "models/wonhee-ds1";
/// The configuration it is trained with.
pub const CONFIG: &str = "configs/inter-patient.toml";
/// Files copied from the run folder into [`DIR`].
const FILES: [&str; 3] = ["config.toml", "run.json", "model.safetensors"];

/// Prepares the inter-patient split of `data`, trains [`CONFIG`] on DS1, and installs the run's
/// files in [`DIR`] (or compares the weights' SHA-256 with the shipped ones when `check`).
pub fn run(root: &Path, data: &Path, check: bool) -> Result<()> {
    let wonhee_bin = crate::cargo::build_wonhee(root, false)?;
    let tmp = tempfile::tempdir()?;
    let prepared = tmp.path().join("prepared");
    let run_dir = tmp.path().join("run");
    let s = crate::pipeline::s;
    println!("prepare (inter-patient split: DS1 trains, DS2 is never read by training) ...");
    let mut args = vec![
        "prepare".into(),
        "--data".into(),
        s(data),
        "--split".into(),
        "inter-patient".into(),
        "--out".into(),
        s(&prepared),
    ];
    let config =
        std::fs::read_to_string(root.join(CONFIG)).with_context(|| format!("reading {CONFIG}"))?;
    if crate::pipeline::reads_second_lead(&config)? {
        args.push("--second-lead".into());
    }
    wonhee(&wonhee_bin, &args)?;
    println!("train ...");
    wonhee(
        &wonhee_bin,
        &[
            "train".into(),
            "--config".into(),
            s(&root.join(CONFIG)),
            "--data".into(),
            s(&prepared),
            "--out".into(),
            s(&run_dir),
        ],
    )?;
    let new = sha256_file(&run_dir.join("model.safetensors"))?;
    let dir = root.join(DIR);
    if check {
        let old = sha256_file(&dir.join("model.safetensors"))?;
        if old != new {
            bail!(
                "retrained weights differ from {DIR}/model.safetensors ({new} vs {old}); training is bit-exact only on the same instruction set (see {DIR}/README.md)"
            );
        }
        println!("retrained weights equal the shipped ones: {new}");
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    for f in FILES {
        let bytes = std::fs::read(run_dir.join(f)).with_context(|| format!("reading {f}"))?;
        wonhee_fs::write_atomic(&dir.join(f), &bytes)?;
    }
    wonhee_fs::write_atomic(
        &dir.join("model.safetensors.sha256"),
        format!("{new}  model.safetensors\n").as_bytes(),
    )?;
    println!("installed the retrained model in {DIR} (weights {new})");
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
