//! Figures and the written report of WonHEE-rs runs.
//!
//! Reads what other commands wrote — run folders (`config.toml`, `run.json`, `metrics.jsonl`,
//! `metrics.json`, `examples.json`), the prepared dataset's `summary.json`, t-SNE CSVs and the
//! pipeline's stage table — and writes, atomically:
//!
//! ```text
//! OUT/
//!   report.md        data and splits, model and config, training, metrics with intervals,
//!                    baselines, the paper's published figure beside ours, pipeline stages
//!   report.html      the same, self-contained (figures inlined)
//!   figures/*.svg    class distribution, t-SNE, losses, validation accuracy, confusion
//!   figures/*.png    matrices, imputation/forecasting examples, MSE against K
//! ```
//!
//! No metric is recomputed: every number comes from the input files.
//!
//! Choices: figures are drawn with `plotters` into an SVG string and an RGB buffer encoded with
//! `png`, so each file can be written with temp + rename. Text uses plotters' `ab_glyph`
//! backend with a TTF found at run time ([`figures::load_font`]): no system font lookup
//! (fontconfig) and no font files in the repository; without a font the figures are drawn
//! without text instead of failing. Markdown becomes HTML through `pulldown-cmark` (tables,
//! correct escaping, a small and well-kept crate) rather than a hand-written renderer; its
//! event stream lets images be replaced by the inline figures.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use wonhee_report::{ReportInputs, load_run, read_tsne_csv, write_report};
//!
//! # fn main() -> wonhee_report::Result<()> {
//! let run = load_run("runs/paper-ffn")?;
//! let mut inputs = ReportInputs::new("WonHEE-rs report", vec![run])?;
//! inputs.tsne_raw = Some(read_tsne_csv(Path::new("tsne-raw.csv"))?);
//! let written = write_report(&inputs, Path::new("report"))?;
//! println!("{}", written.markdown.display());
//! # let _: Vec<PathBuf> = written.figures;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod figures;
pub mod load;
pub mod report;

pub use error::{ReportError, Result};
pub use figures::{Figure, Plot, load_font};
pub use load::{
    DatasetSummary, EXAMPLES_FILE, Example, Examples, ReportInputs, RunData, Stage, Stages,
    TrainPoint, TrainingLog, Tsne, ValPoint, load_run, read_examples, read_metrics, read_stages,
    read_summary, read_training_log, read_tsne_csv,
};
pub use report::{PAPER_ACCURACY, Written, html, make_figures, markdown, write_report};
