//! The dependency rules of docs/ARCHITECTURE.md, checked on every crate's `Cargo.toml`: data
//! flows one way (wfdb -> signal -> dataset -> model -> train -> eval/report), and each crate
//! links only what its job needs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root (runtime `CARGO_MANIFEST_DIR`: a shared target folder may hold a test
/// binary built from another checkout).
fn root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    wonhee_fs::workspace_root(Path::new(&manifest))
}

/// Normal (non-dev) dependencies of every workspace member, by package name.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let root = root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.push(root.join("xtask"));
    dirs.into_iter()
        .map(|dir| {
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let doc: toml::Table = toml::from_str(&text).unwrap();
            let name = doc["package"]["name"].as_str().unwrap().to_owned();
            let deps = doc
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            (name, deps)
        })
        .collect()
}

/// The project crates in data-flow order: a crate may depend only on crates before it.
const ORDER: [&str; 15] = [
    "wonhee-fs",
    "wonhee-wfdb",
    "wonhee-input",
    "wonhee-signal",
    "wonhee-detect",
    "wonhee-tsne",
    "wonhee-download",
    "wonhee-schema",
    "wonhee-dataset",
    "wonhee-model",
    "wonhee-eval",
    "wonhee-train",
    "wonhee-report",
    "wonhee-cli",
    "xtask",
];

#[test]
fn every_member_is_in_the_map_and_data_flows_one_way() {
    let deps = dependencies();
    let known: Vec<&str> = deps.keys().map(String::as_str).collect();
    let mut sorted = ORDER.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        known, sorted,
        "a crate was added or removed: update ORDER and ARCHITECTURE.md"
    );
    for (name, list) in &deps {
        let at = ORDER.iter().position(|c| c == name).unwrap();
        for d in list.iter().filter(|d| d.starts_with("wonhee-")) {
            let dep_at = ORDER.iter().position(|c| c == d).unwrap();
            assert!(
                dep_at < at,
                "{name} depends on {d}, which comes after it in the data flow"
            );
        }
    }
}

/// `(crate, dependencies it must not have)`; a name ending in `*` is a prefix.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // The lowest crates know nothing of the project above them.
    ("wonhee-fs", &["wonhee-*"]),
    (
        "wonhee-wfdb",
        &[
            "wonhee-signal",
            "wonhee-dataset",
            "wonhee-model",
            "candle-*",
            "polars",
        ],
    ),
    // Recordings from files as leads: no data frames, no model, nothing downstream.
    (
        "wonhee-input",
        &[
            "candle-*",
            "polars",
            "wonhee-dataset",
            "wonhee-model",
            "wonhee-train",
            "wonhee-detect",
        ],
    ),
    ("wonhee-signal", &["wonhee-*", "candle-*", "polars"]),
    // Beat detection works on slices: filters, no files, no model.
    (
        "wonhee-detect",
        &[
            "wonhee-wfdb",
            "wonhee-dataset",
            "wonhee-model",
            "candle-*",
            "polars",
        ],
    ),
    ("wonhee-tsne", &["wonhee-*", "candle-*", "polars"]),
    (
        "wonhee-download",
        &[
            "wonhee-wfdb",
            "wonhee-signal",
            "wonhee-dataset",
            "candle-*",
            "polars",
        ],
    ),
    // File schemas: serde types a reader can link without tensors or data frames.
    (
        "wonhee-schema",
        &[
            "wonhee-wfdb",
            "wonhee-dataset",
            "wonhee-model",
            "candle-*",
            "polars",
        ],
    ),
    // The dataset knows no model; the model knows no files but its weights, no WFDB, no dataset.
    (
        "wonhee-dataset",
        &["wonhee-model", "wonhee-train", "candle-*"],
    ),
    (
        "wonhee-model",
        &["wonhee-wfdb", "wonhee-dataset", "wonhee-train", "polars"],
    ),
    // Metrics from plain slices: no tensors, no data frames, no model.
    (
        "wonhee-eval",
        &["wonhee-dataset", "wonhee-model", "candle-*", "polars"],
    ),
    // The report reads files; it recomputes nothing, so it links no model and no dataset.
    (
        "wonhee-report",
        &[
            "wonhee-dataset",
            "wonhee-model",
            "wonhee-train",
            "candle-*",
            "polars",
        ],
    ),
    // The CLI calls libraries; the model runs inside them.
    ("wonhee-cli", &["candle-*"]),
    // xtask drives the `wonhee` binary, so the pipeline runs exactly what a user can run.
    (
        "xtask",
        &[
            "wonhee-dataset",
            "wonhee-model",
            "wonhee-train",
            "wonhee-eval",
            "candle-*",
        ],
    ),
];

fn matches(pattern: &str, dep: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => dep.starts_with(prefix),
        None => dep == pattern,
    }
}

#[test]
fn no_crate_has_a_forbidden_dependency() {
    let deps = dependencies();
    for (name, forbidden) in FORBIDDEN {
        let list = &deps[*name];
        for d in list {
            assert!(
                !forbidden.iter().any(|p| matches(p, d)),
                "{name} must not depend on {d} (docs/ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn only_train_joins_dataset_and_model_only_fs_writes_temporary_files_only_binaries_parse_arguments()
{
    for (name, list) in dependencies() {
        let has = |d: &str| list.iter().any(|x| x == d);
        if has("wonhee-dataset") && has("wonhee-model") {
            assert!(
                ["wonhee-train", "wonhee-cli"].contains(&name.as_str()),
                "{name} joins dataset and model: only wonhee-train does"
            );
        }
        if has("tempfile") {
            assert!(
                ["wonhee-fs", "xtask"].contains(&name.as_str()),
                "{name} uses tempfile: atomic writes go through wonhee-fs"
            );
        }
        if has("clap") {
            assert!(
                ["wonhee-cli", "xtask"].contains(&name.as_str()),
                "{name} parses command-line arguments: only wonhee-cli and xtask do"
            );
        }
    }
}
