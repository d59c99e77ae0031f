//! Writing tables and text to `--out` atomically (temporary file in the same folder, then rename).

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};

/// Table file formats, chosen by the output's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The format for `path`'s extension (`.csv` or `.parquet`).
    pub fn from_path(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Ok(Self::Csv),
            Some("parquet") => Ok(Self::Parquet),
            _ => bail!(
                "{}: unsupported output extension (use .csv or .parquet)",
                path.display()
            ),
        }
    }
}

/// Runs `write` on a temporary file beside `path`, then renames it to `path`
/// ([`wonhee_fs::write_file_with`]). On any error the temporary file is removed and `path` is
/// left untouched.
pub fn atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut std::fs::File) -> Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!("{}: output folder does not exist", dir.display());
    }
    wonhee_fs::write_file_with(path, |f| -> Result<()> {
        write(f)?;
        f.flush()
            .with_context(|| format!("{}: write failed", path.display()))
    })
}

/// Writes a data frame as CSV or parquet (by `path`'s extension), atomically.
pub fn write_table(path: &Path, df: &mut DataFrame) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    atomic(path, |file| {
        match format {
            TableFormat::Csv => CsvWriter::new(file)
                .include_header(true)
                .finish(df)
                .with_context(|| format!("{}: writing CSV", path.display()))?,
            TableFormat::Parquet => {
                ParquetWriter::new(file)
                    .finish(df)
                    .with_context(|| format!("{}: writing parquet", path.display()))?;
            }
        }
        Ok(())
    })
}

/// Column names that are unique and non-empty: `name`, `name_2`, ...; empty -> `signal_<i>`.
pub fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, n) in names.into_iter().enumerate() {
        let base = if n.trim().is_empty() {
            format!("signal_{i}")
        } else {
            n.to_owned()
        };
        let mut name = base.clone();
        let mut k = 2;
        while out.contains(&name) || name == "sample" {
            name = format!("{base}_{k}");
            k += 1;
        }
        out.push(name);
    }
    out
}
