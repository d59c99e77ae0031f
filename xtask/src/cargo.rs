//! Calling cargo from xtask: the target folder and the release `wonhee` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A command running the cargo that runs us (`$CARGO`, else `cargo` from the PATH), without
/// the variables `cargo run` set for xtask itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...).
/// Build scripts such as ring's declare `rerun-if-env-changed` on those names, and cargo
/// compares them in its own environment: inherited, they would make every build from xtask
/// rebuild ring and everything above it (minutes on 2 cores), and the next plain
/// `cargo build` rebuild it back.
pub fn cargo() -> Command {
    let mut cmd = Command::new(
        std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from),
    );
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The workspace's target folder, as cargo sees it (honours `CARGO_TARGET_DIR`).
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let out = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    v["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata: no target_directory")
}

/// Builds the release `wonhee` CLI (with the `cuda` feature where asked) and returns its path.
pub fn build_wonhee(root: &Path, cuda: bool) -> Result<PathBuf> {
    build_release_wonhee(root, if cuda { &["--features", "cuda"] } else { &[] })
}

/// Builds the release `wonhee` CLI without AVX-512 matrix kernels (`--no-default-features`:
/// AVX2 + FMA at most, as an AVX2-only machine runs it) and returns the path of a copy,
/// `wonhee-avx2` beside it, which a later default build leaves alone.
pub fn build_wonhee_avx2(root: &Path) -> Result<PathBuf> {
    let exe = build_release_wonhee(root, &["--no-default-features"])?;
    let copy = exe.with_file_name(format!("wonhee-avx2{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(&exe, &copy)
        .with_context(|| format!("copying {} to {}", exe.display(), copy.display()))?;
    Ok(copy)
}

/// `cargo build --release -p wonhee-cli --bin wonhee` plus `extra`; the executable's path.
fn build_release_wonhee(root: &Path, extra: &[&str]) -> Result<PathBuf> {
    let flags: String = extra.iter().map(|f| format!(" {f}")).collect();
    println!("building wonhee (release{flags}) ...");
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["build", "--release", "-p", "wonhee-cli", "--bin", "wonhee"])
        .args(["--message-format", "json-render-diagnostics"])
        .args(extra);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build -p wonhee-cli failed");
    }
    let mut exe = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact"
            && v["target"]["name"] == "wonhee"
            && let Some(p) = v["executable"].as_str()
        {
            exe = Some(PathBuf::from(p));
        }
    }
    exe.context("cargo build did not report the wonhee executable")
}
