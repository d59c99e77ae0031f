//! `wonhee report --out DIR --run RUN [--run RUN2 ...]`: figures, report.md and report.html.

use std::path::PathBuf;

use anyhow::{Context, Result};
use wonhee_report::{ReportInputs, read_stages, read_tsne_csv, write_report};

/// Arguments of `wonhee report`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created): report.md, report.html, figures/.
    #[arg(long)]
    out: PathBuf,
    /// Run folder (from `wonhee train` and `wonhee eval`); repeat for several runs.
    #[arg(long = "run", required = true)]
    runs: Vec<PathBuf>,
    /// t-SNE of raw windows: CSV with columns x,y[,label] (from `wonhee tsne`).
    #[arg(long)]
    tsne_raw: Option<PathBuf>,
    /// t-SNE of the model's embeddings: CSV with columns x,y[,label].
    #[arg(long)]
    tsne_embed: Option<PathBuf>,
    /// The pipeline's stage table (JSON: {"stages":[{"name","seconds","cached"}],...}).
    #[arg(long)]
    stages: Option<PathBuf>,
    /// Report title.
    #[arg(long, default_value = "WonHEE-rs report")]
    title: String,
}

/// Runs `wonhee report`.
pub fn run(a: Args) -> Result<()> {
    let mut inputs = ReportInputs::load(a.title, &a.runs)?;
    inputs.tsne_raw = a.tsne_raw.as_deref().map(read_tsne_csv).transpose()?;
    inputs.tsne_embed = a.tsne_embed.as_deref().map(read_tsne_csv).transpose()?;
    inputs.stages = a.stages.as_deref().map(read_stages).transpose()?;
    let written = write_report(&inputs, &a.out)
        .with_context(|| format!("writing the report into {}", a.out.display()))?;
    println!(
        "{} ({} figure files), {}",
        written.markdown.display(),
        written.figures.len(),
        written.html.display()
    );
    Ok(())
}
