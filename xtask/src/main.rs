//! Project automation, reached as `cargo xtask <command>`.
//!
//! - `cargo xtask pipeline [--profile quick|inter-patient|paper|paper-moe|ci] [--data DIR] [--out DIR]
//!   [--device cpu|cuda] [--split paper|inter-patient|both]`: the whole study, end to end
//!   (data -> report), cached and resumable;
//! - `cargo xtask cv --config FILE [--folds K] [--max-steps N] [--seed S] [--out DIR] [--data DIR]`:
//!   cross-validation over the DS1
//!   records (record folds; DS2 is never read), pooled figures for the ablation table;
//! - `cargo xtask model [--check]`: retrain the shipped model (`models/wonhee-ds1`) bit for bit;
//! - `cargo xtask fixtures [--check]`: rebuild (or verify) the synthetic records in `fixtures/`;
//! - `cargo xtask bench [wfdb|signal|prepare|eval|tsne|detect|model|all] [--python PATH]`: benchmarks, side by side
//!   with their Python peers, written into `docs/benchmarks.md`.

mod bench;
mod cargo;
mod cv;
mod fixtures;
mod model;
mod pipeline;
mod synth;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "WonHEE-rs project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Rebuild the synthetic WFDB fixtures in `fixtures/`.
    Fixtures {
        /// Only check that the committed fixtures match the generator.
        #[arg(long)]
        check: bool,
    },
    /// Run the whole study: data -> verify -> prepare -> train -> eval -> t-SNE -> report.
    Pipeline {
        /// Profile: `configs/NAME.toml` plus its evaluation and t-SNE sizes. `quick` runs on a
        /// CPU in under 20 minutes; `inter-patient` (the default with `--split inter-patient`)
        /// is the unseen-patient model, under 60 minutes on a CPU; `paper` and `paper-moe` are
        /// the paper's configuration (GPU); `ci` is a few records and a tiny model.
        #[arg(long)]
        profile: Option<String>,
        /// MIT-BIH folder (default: $WONHEE_MITDB, data/mitdb, ../shared/data/mitdb; else it is
        /// downloaded from PhysioNet into data/mitdb).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output folder (stages, runs, t-SNE, figures, report.md, report.html).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Device for training and inference: cpu, cuda, cuda:N.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Splits to train and evaluate (default: paper for quick, both otherwise).
        #[arg(long, value_enum)]
        split: Option<pipeline::SplitSel>,
        /// Use this `wonhee` binary instead of building the release one.
        #[arg(long, hide = true)]
        wonhee: Option<PathBuf>,
    },
    /// Cross-validate a configuration over the DS1 records only (record-level folds): the
    /// inter-patient choices are made here, never on DS2. Writes OUT/cv.json and OUT/cv.md.
    Cv {
        /// Run configuration (TOML, as for `wonhee train`).
        #[arg(long)]
        config: PathBuf,
        /// Number of record folds.
        #[arg(long, default_value_t = 3)]
        folds: usize,
        /// Override the config's step budget.
        #[arg(long)]
        max_steps: Option<usize>,
        /// Override the config's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder (default: out/cv/CONFIG-NAME); the prepared folds go beside it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// MIT-BIH folder (as for `pipeline`).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Retrain the model shipped in models/wonhee-ds1 (DS1 only, configs/inter-patient.toml, seed 42)
    /// and install it; `--check` only compares the retrained weights with the shipped ones.
    Model {
        /// Compare with the shipped weights instead of installing.
        #[arg(long)]
        check: bool,
        /// MIT-BIH folder (as for `pipeline`).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Benchmarks side by side with their Python peers; rewrites docs/benchmarks.md sections.
    Bench {
        /// Which benchmark.
        #[arg(value_enum, default_value = "all")]
        which: bench::Which,
        /// Python of a venv with wfdb, scipy, numpy and torch (default: $WONHEE_PYTHON); without
        /// it the Python peers are not run, and the tables say so.
        #[arg(long, env = "WONHEE_PYTHON")]
        python: Option<PathBuf>,
        /// Python with openTSNE and scikit-learn for `tsne` (default: --python).
        #[arg(long)]
        tsne_python: Option<PathBuf>,
        /// MIT-BIH folder (as for `pipeline`).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print the tables only; leave docs/benchmarks.md as it is.
        #[arg(long)]
        dry_run: bool,
        /// Vector kernels of `model`, for both sides: `native` (the machine's widest) or `avx2`
        /// (our matrix products built without AVX-512, PyTorch held to AVX2 by ATEN_CPU_CAPABILITY,
        /// MKL_ENABLE_INSTRUCTIONS and ONEDNN_MAX_CPU_ISA: how an AVX2-only machine runs them),
        /// written to the section `model-avx2`.
        #[arg(long, value_enum, default_value = "native")]
        isa: bench::Isa,
    },
}

fn workspace_root() -> PathBuf {
    // Runtime first: `cargo xtask` runs us with it set; the compile-time value is only a
    // fallback (a shared target folder may hold a binary built from another checkout).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.cmd {
        Cmd::Fixtures { check } => {
            let dir = root.join("fixtures");
            if check {
                fixtures::check(&dir)?;
                println!("fixtures up to date");
            } else {
                fixtures::build(&dir)?;
                println!("fixtures written to {}", dir.display());
            }
        }
        Cmd::Pipeline {
            profile,
            data,
            out,
            device,
            split,
            wonhee,
        } => {
            let profile = profile.unwrap_or_else(|| pipeline::default_profile(split).to_owned());
            let profile = pipeline::Profile::named(&profile)?;
            let out = out.unwrap_or_else(|| root.join("out").join(&profile.name));
            pipeline::run(&pipeline::Options {
                root,
                profile,
                data,
                out,
                device,
                split,
                wonhee,
            })?;
        }
        Cmd::Cv {
            config,
            folds,
            max_steps,
            seed,
            out,
            data,
        } => {
            let data =
                wonhee_fs::mitdb_or_error(data.as_deref(), &root).map_err(anyhow::Error::msg)?;
            let stem = config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "config".into());
            // `wonhee` runs from the workspace root: paths given relative to here go absolute.
            let cwd = std::env::current_dir()?;
            let abs = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
            let out = out.map_or_else(|| root.join("out").join("cv").join(stem), abs);
            let config = abs(config);
            let data = abs(data);
            cv::run(&cv::Options {
                root,
                data,
                config,
                folds,
                max_steps,
                seed,
                out,
            })?;
        }
        Cmd::Model { check, data } => {
            let data =
                wonhee_fs::mitdb_or_error(data.as_deref(), &root).map_err(anyhow::Error::msg)?;
            model::run(&root, &data, check)?;
        }
        Cmd::Bench {
            which,
            python,
            tsne_python,
            data,
            dry_run,
            isa,
        } => {
            let data =
                wonhee_fs::mitdb_or_error(data.as_deref(), &root).map_err(anyhow::Error::msg)?;
            bench::run(
                which,
                &bench::Options {
                    root,
                    data,
                    python,
                    tsne_python,
                    dry_run,
                    isa,
                },
            )?;
        }
    }
    Ok(())
}
