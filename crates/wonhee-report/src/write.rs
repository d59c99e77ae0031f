//! Writing the report: figures, `report.md` and `report.html` into an output folder, each file
//! atomically (`wonhee_fs::write_atomic`).

use std::path::{Path, PathBuf};

use wonhee_fs::write_atomic;

use crate::error::{ReportError, Result};
use crate::figure_set::make_figures;
use crate::figures::{self, Figure, Plot};
use crate::html::html;
use crate::load::ReportInputs;
use crate::markdown::markdown;

/// Files written by [`write_report`].
#[derive(Clone, Debug)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Every figure file (PNG and SVG).
    pub figures: Vec<PathBuf>,
}

/// Writes the report into `out`: `figures/*.svg` and `figures/*.png`, `report.md` and
/// `report.html`, each file atomically. Missing fonts only remove text from the figures.
pub fn write_report(inputs: &ReportInputs, out: &Path) -> Result<Written> {
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| ReportError::io(&fig_dir, e))?;
    let text = figures::load_font().is_some();
    let figs = make_figures(inputs, text)?;
    let mut paths = Vec::new();
    for f in &figs {
        paths.extend(write_files(f, &fig_dir)?);
        tracing::info!("figure {}", f.name);
    }
    let md = markdown(inputs, &figs);
    let md_path = out.join("report.md");
    write_atomic(&md_path, md.as_bytes())?;
    let html_path = out.join("report.html");
    write_atomic(&html_path, html(&inputs.title, &md, &figs).as_bytes())?;
    Ok(Written {
        markdown: md_path,
        html: html_path,
        figures: paths,
    })
}

/// Draws one plot to `dir/name.svg` and `dir/name.png` (atomically).
pub fn write_figure(plot: &impl Plot, dir: &Path, name: &str, caption: &str) -> Result<Figure> {
    let f = figures::render(plot, name, caption, figures::load_font().is_some())?;
    write_files(&f, dir)?;
    Ok(f)
}

/// Writes `dir/<name>.svg` then `dir/<name>.png`; returns both paths in that order.
fn write_files(f: &Figure, dir: &Path) -> Result<[PathBuf; 2]> {
    let svg = dir.join(format!("{}.svg", f.name));
    write_atomic(&svg, f.svg.as_bytes())?;
    let png = dir.join(format!("{}.png", f.name));
    write_atomic(&png, &f.png)?;
    Ok([svg, png])
}
