//! Side-by-side benchmark: this crate's t-SNE against openTSNE on a class-balanced sample of
//! MIT-BIH beat windows (the paper's Figure 2 input). Prints one JSON object.
//!
//! ```text
//! cargo run --release -p wonhee-cli -- prepare --out /tmp/tsne-prep
//! cargo run --release -p wonhee-tsne --example compare -- --prepared /tmp/tsne-prep \
//!     [--per-class 2000] [--stride 5] [--sample-seed 0] [--seed 0] [--perplexity 30] \
//!     [--iterations 750] [--threads 2] [--repeat 1] [--out DIR] [--python /tmp/tsnevenv/bin/python]
//! ```
//!
//! The sample: every window of the prepared dataset (both split sides), at most `--per-class`
//! per AAMI class drawn with [`wonhee_dataset::class_balanced_sample`] (all of a smaller class:
//! with the defaults 2,000 each of N, S, V, Q and all 801 F, 8,801 windows), each window
//! reduced to every `--stride`-th point (640 / 5 = 128 features; per-record z-scored values).
//! With `--python`, `docs/reference-scripts/tsne_opentsne.py` runs openTSNE on the same
//! points with the same thread count and scores both embeddings with scikit-learn.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use wonhee_dataset::class_balanced_sample;
use wonhee_tsne::{Tsne, knn_accuracy, trustworthiness};

struct Opts {
    prepared: PathBuf,
    per_class: usize,
    stride: usize,
    sample_seed: u64,
    seed: u64,
    perplexity: f64,
    iterations: usize,
    threads: usize,
    repeat: usize,
    out: Option<PathBuf>,
    python: Option<PathBuf>,
}

fn parse() -> Opts {
    let mut o = Opts {
        prepared: PathBuf::from("/tmp/tsne-prep"),
        per_class: 2000,
        stride: 5,
        sample_seed: 0,
        seed: 0,
        perplexity: 30.0,
        iterations: 750,
        threads: 2,
        repeat: 1,
        out: None,
        python: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
                .clone()
        };
        match flag.as_str() {
            "--prepared" => o.prepared = value().into(),
            "--per-class" => o.per_class = value().parse().expect("--per-class"),
            "--stride" => o.stride = value().parse().expect("--stride"),
            "--sample-seed" => o.sample_seed = value().parse().expect("--sample-seed"),
            "--seed" => o.seed = value().parse().expect("--seed"),
            "--perplexity" => o.perplexity = value().parse().expect("--perplexity"),
            "--iterations" => o.iterations = value().parse().expect("--iterations"),
            "--threads" => o.threads = value().parse().expect("--threads"),
            "--repeat" => o.repeat = value().parse().expect("--repeat"),
            "--out" => o.out = Some(value().into()),
            "--python" => o.python = Some(value().into()),
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn write_bytes(path: &std::path::Path, bytes: impl Iterator<Item = u8>) {
    std::fs::write(path, bytes.collect::<Vec<u8>>()).unwrap();
}

fn main() {
    let o = parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build_global()
        .unwrap();
    let ds = wonhee_dataset::Dataset::open(&o.prepared).unwrap();
    let idx = class_balanced_sample(ds.labels(), o.per_class, o.sample_seed);
    let labels: Vec<u8> = idx.iter().map(|&i| ds.labels()[i]).collect();
    let mut counts = vec![0usize; ds.class_names().len()];
    for &l in &labels {
        counts[usize::from(l)] += 1;
    }
    let data: Vec<f32> = idx
        .iter()
        .flat_map(|&i| ds.window(i).iter().step_by(o.stride).copied())
        .collect();
    let (n, dim) = (idx.len(), data.len() / idx.len());
    let load_before = load_avg();

    let tsne = Tsne {
        perplexity: o.perplexity,
        iterations: o.iterations,
        seed: o.seed,
        ..Tsne::default()
    };
    let mut times = Vec::new();
    let mut y = Vec::new();
    for _ in 0..o.repeat.max(1) {
        let t = Instant::now();
        y = tsne.fit(&data, n, dim).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    let trust = trustworthiness(&data, dim, &y, 5).unwrap();
    let acc = knn_accuracy(&y, &labels, 10).unwrap();

    let dir = o
        .out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("wonhee-tsne-compare"));
    std::fs::create_dir_all(&dir).unwrap();
    write_bytes(
        &dir.join("features.f32"),
        data.iter().flat_map(|v| v.to_le_bytes()),
    );
    write_bytes(&dir.join("labels.u8"), labels.iter().copied());
    write_bytes(
        &dir.join("ours.f64"),
        y.iter()
            .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes())),
    );

    let mut report = serde_json::json!({
        "n": n,
        "dim": dim,
        "classes": ds.class_names(),
        "class_counts": counts,
        "threads": o.threads,
        "perplexity": o.perplexity,
        "iterations": o.iterations,
        "files": dir,
        "ours": {
            "seconds": times,
            "trustworthiness_5": trust,
            "knn_accuracy_10": acc,
        },
    });
    if let Some(python) = &o.python {
        let script = format!(
            "{}/../../docs/reference-scripts/tsne_opentsne.py",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
        );
        let out = std::process::Command::new(python)
            .arg(script)
            .args(["--dir".as_ref(), dir.as_os_str()])
            .args(["--n", &n.to_string(), "--dim", &dim.to_string()])
            .args([
                "--threads",
                &o.threads.to_string(),
                "--perplexity",
                &o.perplexity.to_string(),
            ])
            .args([
                "--iterations",
                &o.iterations.to_string(),
                "--seed",
                &o.seed.to_string(),
            ])
            .args(["--repeat", &o.repeat.max(1).to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        report["opentsne"] = serde_json::from_slice(&out.stdout).unwrap();
    }
    report["load_before"] = load_before.into();
    report["load_after"] = load_avg().into();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
