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
//!   figures/*.png    matrices, misclassified beats per record, imputation/forecasting
//!                    examples, MSE against K
//! ```
//!
//! No metric is recomputed: every number comes from the input files.
//!
//! Modules, in the order the data flows:
//!
//! | module | what is inside |
//! |---|---|
//! | [`load`] | reading the inputs into [`ReportInputs`]: run folders through `wonhee-schema`'s types (`RunConfig`, `RunInfo`, `TrainingLog`, `Examples`, `Summary`) and `wonhee_eval::Metrics`; t-SNE CSVs; the stage table |
//! | [`sampling`] | training-side class counts and the expected draws per class under the run's sampler (the trainer's `SamplerKind::class_power` and `class_weight`) |
//! | [`figures`] | the plot kinds (`plotters`), rendered to SVG and PNG; the font lookup |
//! | [`figure_set`] | which figures a report has: one function per figure, [`make_figures`] for all |
//! | [`format`](mod@format) | how numbers are written: percentages, 4 significant digits, bootstrap intervals |
//! | [`markdown`](mod@markdown) | `report.md`, one function per section |
//! | [`html`](mod@html) | `report.html`: the Markdown through `pulldown-cmark`, figures inlined |
//! | [`write`](mod@write) | [`write_report`] and [`write_figure`]: the files, each written with `wonhee_fs::write_atomic` |
//! | [`error`] | [`ReportError`]: every failure names its file (and line) |
//!
//! The crate reads other commands' files through their schemas only: it depends on
//! `wonhee-schema`, `wonhee-eval` and `wonhee-fs`, not on the dataset, model or trainer crates,
//! so it links no candle and no polars.
//!
//! Choices: figures are drawn with `plotters` into an SVG string and an RGB buffer encoded with
//! `png`, so each file can be written with temp + rename. Text uses plotters' `ab_glyph`
//! backend with a TTF found at run time ([`figures::load_font`]): no system font lookup
//! (fontconfig) and no font files in the repository; without a font the figures are drawn
//! without text instead of failing. Markdown becomes HTML through `pulldown-cmark` (tables,
//! correct escaping, a small and well-kept crate) rather than a hand-written renderer; its
//! event stream lets images be replaced by the inline figures. Large figures are inlined as a
//! base64 PNG data URI (the `base64` crate).
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
pub mod figure_set;
pub mod figures;
pub mod format;
pub mod html;
pub mod load;
pub mod markdown;
pub mod sampling;
pub mod write;

pub use error::{ReportError, Result};
pub use figure_set::make_figures;
pub use figures::{Figure, Plot, load_font};
pub use html::html;
pub use load::{
    DatasetSummary, EXAMPLES_FILE, Example, Examples, ReportInputs, RunData, Stage, Stages,
    TrainPoint, TrainingLog, Tsne, ValPoint, load_run, read_examples, read_metrics, read_stages,
    read_summary, read_training_log, read_tsne_csv,
};
pub use markdown::{PAPER_ACCURACY, markdown};
pub use write::{Written, write_figure, write_report};
