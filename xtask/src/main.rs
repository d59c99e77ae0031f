//! Project automation, reached as `cargo xtask <command>`.
//!
//! - `cargo xtask pipeline`: the whole study, end to end (data -> report);
//! - `cargo xtask fixtures [--check]`: rebuild (or verify) the synthetic records in `fixtures/`;
//! - `cargo xtask bench <wfdb|...> [--python PATH]`: benchmarks, side by side with Python peers.

mod fixtures;
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
        /// MIT-BIH folder (default: $WONHEE_MITDB, data/mitdb, ../shared/data/mitdb).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
        Cmd::Pipeline { data } => {
            let dir = pipeline::locate_data(&root, data)?;
            println!("[1/8] data: {}", dir.display());
            let n = pipeline::verify(&dir)?;
            println!("[2/8] verify: {n} files match SHA256SUMS");
            println!(
                "not yet: the prepare, train, eval, t-SNE, figures and report stages are not implemented yet"
            );
        }
    }
    Ok(())
}
