//! `wonhee impute` and `wonhee forecast`: fill the missing points of one window, or predict
//! its next K points, with a trained run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wonhee_train::{Run, Units, fill_window, forecast_after};

/// Units of the input values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum UnitsArg {
    /// Any physical units (e.g. mV): standardized with the observed points' mean and std, the
    /// output mapped back.
    Raw,
    /// Already the model's units (per-record z-score, then the run's scaler), as in a prepared
    /// dataset.
    Standardized,
}

impl From<UnitsArg> for Units {
    fn from(u: UnitsArg) -> Self {
        match u {
            UnitsArg::Raw => Units::Raw,
            UnitsArg::Standardized => Units::Standardized,
        }
    }
}

/// Arguments of `wonhee impute`.
#[derive(clap::Args)]
pub struct ImputeArgs {
    /// Run folder (from `wonhee train`).
    #[arg(long)]
    run: PathBuf,
    /// CSV with a column `value`, one row per point of the window (640 rows at 128 Hz); empty
    /// cells are missing.
    #[arg(long)]
    input: PathBuf,
    /// Output CSV: `value` (all points) and `imputed` (true where the value was filled in).
    #[arg(long)]
    out: PathBuf,
    /// Units of the values.
    #[arg(long, value_enum, default_value = "raw")]
    units: UnitsArg,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Arguments of `wonhee forecast`.
#[derive(clap::Args)]
pub struct ForecastArgs {
    /// Run folder (from `wonhee train`).
    #[arg(long)]
    run: PathBuf,
    /// CSV with a column `value`: the history, at least window − K points (the last ones used).
    #[arg(long)]
    input: PathBuf,
    /// Points to predict (K; the model was trained with 200..=540).
    #[arg(long)]
    horizon: usize,
    /// Output CSV: `step` (1..=K after the last input point) and `value`.
    #[arg(long)]
    out: PathBuf,
    /// Units of the values.
    #[arg(long, value_enum, default_value = "raw")]
    units: UnitsArg,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Reads the `value` column of a CSV; empty cells are `None`. Errors name the file and line.
///
/// Parsed by hand rather than with the `csv` crate: in a one-column file a missing value is an
/// empty line, and the `csv` crate skips empty lines.
pub fn read_values(path: &Path) -> Result<Vec<Option<f32>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        bail!(
            "{}: empty file (expected a header with a `value` column)",
            path.display()
        );
    };
    let cols: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let Some(col) = cols.iter().position(|&c| c == "value") else {
        bail!(
            "{}:1: no `value` column in the header `{header}`",
            path.display()
        );
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() && cols.len() > 1 {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != cols.len() {
            bail!(
                "{}:{}: {} cells, the header has {}",
                path.display(),
                i + 1,
                cells.len(),
                cols.len()
            );
        }
        let cell = cells[col].trim().trim_matches('"');
        if cell.is_empty() {
            out.push(None);
            continue;
        }
        let v: f32 = cell.parse().map_err(|_| {
            anyhow::anyhow!("{}:{}: `{cell}` is not a number", path.display(), i + 1)
        })?;
        if !v.is_finite() {
            bail!(
                "{}:{}: `{cell}` is not a finite number",
                path.display(),
                i + 1
            );
        }
        out.push(Some(v));
    }
    Ok(out)
}

fn write_csv(path: &Path, header: &str, rows: impl Iterator<Item = String>) -> Result<()> {
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(&r);
        text.push('\n');
    }
    crate::output::atomic(path, |f| {
        use std::io::Write as _;
        f.write_all(text.as_bytes())?;
        Ok(())
    })
}

/// Opens the run on `device` and reads the window of `input`.
fn load(run: &Path, device: &str, input: &Path) -> Result<(Run, Vec<Option<f32>>)> {
    let device = wonhee_model::device::parse_device(device)?;
    Ok((Run::open(run, &device)?, read_values(input)?))
}

/// [`fill_window`] with the run's window length and scaler; errors name `input`.
fn fill(
    run: &Run,
    window: &[Option<f32>],
    units: UnitsArg,
    forecast: bool,
    input: &Path,
) -> Result<Vec<f32>> {
    let l = run.config.model.seq_len;
    fill_window(
        &run.model,
        window,
        l,
        &run.info.dataset.scaler,
        units.into(),
        forecast,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))
}

/// Runs `wonhee impute`.
pub fn run_impute(args: ImputeArgs) -> Result<()> {
    let (run, values) = load(&args.run, &args.device, &args.input)?;
    let l = run.config.model.seq_len;
    let missing = values.iter().filter(|v| v.is_none()).count();
    if missing == 0 {
        bail!(
            "{}: no empty cells, nothing to impute",
            args.input.display()
        );
    }
    let filled = fill(&run, &values, args.units, false, &args.input)?;
    write_csv(
        &args.out,
        "value,imputed",
        filled
            .iter()
            .zip(&values)
            .map(|(v, o)| format!("{v},{}", o.is_none())),
    )?;
    eprintln!("filled {missing} of {l} points -> {}", args.out.display());
    Ok(())
}

/// Runs `wonhee forecast`.
pub fn run_forecast(args: ForecastArgs) -> Result<()> {
    let (run, values) = load(&args.run, &args.device, &args.input)?;
    let k = args.horizon;
    let l = run.config.model.seq_len;
    if k == 0 || k >= l {
        bail!(
            "--horizon {k}: must be between 1 and {} (window {l})",
            l - 1
        );
    }
    let history: Vec<f32> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.with_context(|| {
                format!(
                    "{}:{}: empty cell in the history; forecasting needs every input point",
                    args.input.display(),
                    i + 2
                )
            })
        })
        .collect::<Result<_>>()?;
    let out = forecast_after(
        &run.model,
        &history,
        k,
        l,
        &run.info.dataset.scaler,
        args.units.into(),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
    write_csv(
        &args.out,
        "step,value",
        out.iter()
            .enumerate()
            .map(|(i, v)| format!("{},{v}", i + 1)),
    )?;
    eprintln!("forecast {k} points -> {}", args.out.display());
    Ok(())
}
