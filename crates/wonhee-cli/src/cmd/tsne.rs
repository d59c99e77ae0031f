//! `wonhee tsne`: a 2-D Barnes-Hut t-SNE embedding (`wonhee-tsne`) of
//!
//! - a feature table: `wonhee tsne --input F --out F [--perplexity 30] [--seed N]`, input CSV
//!   or parquet of numeric feature columns plus an optional `label` column (passed through as
//!   text); or
//! - a prepared dataset's raw windows, as the paper's Figure 2: `wonhee tsne --data DIR
//!   --per-class N --out F [--stride 5] [--side train|test|all]`, a seeded class-balanced
//!   sample of windows (train-set scaler applied), every `stride`-th point as features; or
//! - a trained model's [CLS] embeddings of such a sample: `wonhee tsne --data DIR --run RUN
//!   --per-class N --out F [--side test]` (the features are `WonHee::embed`, d per window).
//!
//! The output (CSV or parquet, by extension) has columns `x`, `y`, then `label` when known
//! (and `record`, `sample` for `--data`), one row per input point, in input order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use polars::prelude::{Column, DataFrame, DataType, ParquetReader, SerReader};
use wonhee_dataset::{Dataset, Side};
use wonhee_tsne::{Progress, Tsne};

use crate::output::{self, TableFormat};

/// Which windows of a prepared dataset to sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SideArg {
    /// Training windows.
    Train,
    /// Test windows.
    Test,
    /// Every window (both sides; all folds).
    All,
}

/// Arguments of `wonhee tsne`.
#[derive(clap::Args)]
pub struct Args {
    /// Feature table (.csv or .parquet): numeric columns, plus an optional `label` column.
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    input: Option<PathBuf>,
    /// Prepared dataset folder (`wonhee prepare`): embed a class-balanced sample of its raw
    /// windows (the paper's Figure 2).
    #[arg(long, requires = "per_class")]
    data: Option<PathBuf>,
    /// With --data: at most this many windows per class (all of a smaller class).
    #[arg(long, requires = "data")]
    per_class: Option<usize>,
    /// With --data: every `stride`-th point of a window is a feature (640 / 5 = 128).
    #[arg(long, default_value_t = 5)]
    stride: usize,
    /// With --data: the windows to sample from (default: all; test with --run).
    #[arg(long, value_enum)]
    side: Option<SideArg>,
    /// With --data: embed the sample with this trained run's [CLS] features instead of the
    /// raw points (the dataset must be the one the run was trained on).
    #[arg(long, requires = "data")]
    run: Option<PathBuf>,
    /// Device for --run (cpu, cuda, cuda:N).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output table (.csv or .parquet): `x`, `y` and `label` when known. Repeat to write
    /// the same table in several files (e.g. `--out t.csv --out t.parquet`).
    #[arg(long, required = true)]
    out: Vec<PathBuf>,
    /// Effective number of neighbours; needs more than 3 x perplexity points.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Seed of the class-balanced sample and of the initial embedding's jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Gradient-descent iterations in all (the first 250 with early exaggeration).
    #[arg(long, default_value_t = 750)]
    iterations: usize,
    /// Worker threads (default: one per core). The result does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Also write the embedded points' features (and label) as a table (.csv or .parquet),
    /// e.g. to run another t-SNE on exactly the same points.
    #[arg(long)]
    features_out: Option<PathBuf>,
}

/// Points to embed: `n x names.len()` features, row-major, with optional pass-through columns.
struct Table {
    names: Vec<String>,
    values: Vec<f32>,
    n: usize,
    label: Option<Vec<String>>,
    /// Extra columns of `--data` (record, sample).
    record: Option<Vec<String>>,
    sample: Option<Vec<i64>>,
}

/// Runs the command: read or sample the points, embed them, write the table(s).
pub fn run(args: Args) -> Result<()> {
    for o in &args.out {
        TableFormat::from_path(o)?;
    }
    if let Some(f) = &args.features_out {
        TableFormat::from_path(f)?;
    }
    let tsne = Tsne {
        perplexity: args.perplexity,
        iterations: args.iterations,
        seed: args.seed,
        ..Tsne::default()
    };
    let pool = thread_pool(args.threads)?;
    let t0 = Instant::now();
    let (table, source) = read_points(&args)?;
    tracing::info!(
        points = table.n,
        features = table.names.len(),
        seconds = t0.elapsed().as_secs_f64(),
        "t-SNE input read from {}",
        source.display()
    );
    if let Some(f) = &args.features_out {
        write_features(f, &table)?;
        tracing::info!("features written to {}", f.display());
    }
    // Checked here too so the message names the input.
    if table.n <= tsne.neighbours() {
        bail!(
            "{}: {} points are too few for perplexity {}: need at least {} \
             (3 x perplexity neighbours + 1); lower --perplexity",
            source.display(),
            table.n,
            args.perplexity,
            tsne.neighbours() + 1
        );
    }
    let y = fit(&tsne, &table, pool.as_ref())
        .with_context(|| format!("{}: t-SNE", source.display()))?;
    let mut cols = vec![
        Column::new("x".into(), y.iter().map(|p| p[0]).collect::<Vec<f64>>()),
        Column::new("y".into(), y.iter().map(|p| p[1]).collect::<Vec<f64>>()),
    ];
    cols.extend(pass_through(&table));
    let mut df = DataFrame::new(table.n, cols)?;
    for o in &args.out {
        output::write_table(o, &mut df)?;
        tracing::info!("embedding written to {}", o.display());
    }
    Ok(())
}

/// A pool of `threads` workers, or `None` for rayon's default (one per core).
fn thread_pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>> {
    match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => Ok(Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .context("cannot start the worker threads")?,
        )),
        None => Ok(None),
    }
}

/// The points of `--input`, or the windows sampled from `--data`, and where they came from.
fn read_points(args: &Args) -> Result<(Table, PathBuf)> {
    match (&args.input, &args.data) {
        (Some(input), _) => Ok((read_table(input)?, input.clone())),
        (None, Some(dir)) => {
            let per_class = args
                .per_class
                .context("--data needs --per-class (the most windows per class)")?;
            let side = args.side.unwrap_or(if args.run.is_some() {
                SideArg::Test
            } else {
                SideArg::All
            });
            let embed = args.run.as_deref().map(|r| (r, args.device.as_str()));
            let t = sample_windows(dir, per_class, args.stride, side, args.seed, embed)?;
            Ok((t, dir.clone()))
        }
        (None, None) => bail!("give --input FILE or --data DIR"),
    }
}

/// The 2-D embedding of `table`'s points, with a progress bar, on `pool` when given.
fn fit(tsne: &Tsne, table: &Table, pool: Option<&rayon::ThreadPool>) -> Result<Vec<[f64; 2]>> {
    let t1 = Instant::now();
    let bar = crate::cmd::progress(tsne.iterations as u64, "t-SNE");
    let fit = || {
        tsne.fit_with_progress(&table.values, table.n, table.names.len(), |p: &Progress| {
            bar.set_position(p.iteration as u64);
            if let Some(kl) = p.kl_divergence {
                tracing::debug!(iteration = p.iteration, kl, "t-SNE");
            }
        })
    };
    let y = match pool {
        Some(pool) => pool.install(fit),
        None => fit(),
    }?;
    bar.finish_and_clear();
    tracing::info!(
        points = table.n,
        seconds = t1.elapsed().as_secs_f64(),
        "t-SNE done"
    );
    Ok(y)
}

/// The label and extra columns, as output columns.
fn pass_through(t: &Table) -> Vec<Column> {
    let mut cols = Vec::new();
    if let Some(l) = &t.label {
        cols.push(Column::new("label".into(), l));
    }
    if let Some(r) = &t.record {
        cols.push(Column::new("record".into(), r));
    }
    if let Some(s) = &t.sample {
        cols.push(Column::new("sample".into(), s));
    }
    cols
}

/// Writes the features (and pass-through columns) of `t` to `path`.
fn write_features(path: &Path, t: &Table) -> Result<()> {
    let dim = t.names.len();
    let mut cols: Vec<Column> = t
        .names
        .iter()
        .enumerate()
        .map(|(f, name)| {
            Column::new(
                name.as_str().into(),
                t.values
                    .iter()
                    .skip(f)
                    .step_by(dim)
                    .copied()
                    .collect::<Vec<f32>>(),
            )
        })
        .collect();
    cols.extend(pass_through(t));
    let mut df = DataFrame::new(t.n, cols)?;
    output::write_table(path, &mut df)
}

/// Reads a feature table by extension.
fn read_table(path: &Path) -> Result<Table> {
    let t = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => read_csv(path)?,
        Some("parquet") => read_parquet(path)?,
        _ => bail!(
            "{}: unsupported input extension (use .csv or .parquet)",
            path.display()
        ),
    };
    if t.names.is_empty() {
        bail!(
            "{}: no numeric feature columns (only a `label` column)",
            path.display()
        );
    }
    if t.n == 0 {
        bail!("{}: no data rows", path.display());
    }
    Ok(t)
}

/// One feature cell: a finite number that fits f32.
fn parse_cell(path: &Path, row: usize, name: &str, cell: &str) -> Result<f32> {
    let s = cell.trim();
    if s.is_empty() {
        bail!("{}: row {row}, column `{name}`: empty cell", path.display());
    }
    let v: f64 = s.parse().map_err(|_| {
        anyhow::anyhow!(
            "{}: row {row}, column `{name}`: `{s}` is not a number",
            path.display()
        )
    })?;
    check_value(path, row, name, v)
}

fn check_value(path: &Path, row: usize, name: &str, v: f64) -> Result<f32> {
    let x = v as f32;
    if !x.is_finite() {
        bail!(
            "{}: row {row}, column `{name}`: {v} is not a finite f32 value",
            path.display()
        );
    }
    Ok(x)
}

/// CSV with a header row; rows are numbered from 1 (the first data row).
fn read_csv(path: &Path) -> Result<Table> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let label_at = header.iter().position(|h| h == "label");
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|&(c, _)| Some(c) != label_at)
        .map(|(_, h)| h.clone())
        .collect();
    let mut values = Vec::new();
    let mut label = label_at.map(|_| Vec::new());
    let mut n = 0;
    for (r, rec) in rdr.records().enumerate() {
        let row = r + 1;
        let rec = rec.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => anyhow::anyhow!(
                "{}: row {row}: {len} fields, but the header has {expected_len} (ragged row)",
                path.display()
            ),
            _ => anyhow::anyhow!("{}: row {row}: {e}", path.display()),
        })?;
        for (c, cell) in rec.iter().enumerate() {
            if Some(c) == label_at {
                if let Some(l) = &mut label {
                    l.push(cell.to_owned());
                }
            } else {
                values.push(parse_cell(path, row, &header[c], cell)?);
            }
        }
        n += 1;
    }
    Ok(Table {
        names,
        values,
        n,
        label,
        record: None,
        sample: None,
    })
}

/// Parquet: every column but `label` must be numeric and free of nulls.
fn read_parquet(path: &Path) -> Result<Table> {
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let df = ParquetReader::new(f)
        .finish()
        .with_context(|| format!("{}: not a readable parquet file", path.display()))?;
    let n = df.height();
    let mut names = Vec::new();
    let mut label = None;
    let mut columns: Vec<Vec<f32>> = Vec::new();
    for col in df.columns() {
        let name = col.name().as_str();
        if name == "label" {
            let s = col.cast(&DataType::String).with_context(|| {
                format!("{}: column `label` cannot be read as text", path.display())
            })?;
            let s = s.str()?;
            label = Some(
                s.iter()
                    .map(|v| v.unwrap_or("").to_owned())
                    .collect::<Vec<String>>(),
            );
            continue;
        }
        if !col.dtype().is_primitive_numeric() {
            bail!(
                "{}: column `{name}` is {}, not numeric",
                path.display(),
                col.dtype()
            );
        }
        let c = col.cast(&DataType::Float64)?;
        let mut out = Vec::with_capacity(n);
        for (r, v) in c.f64()?.iter().enumerate() {
            let row = r + 1;
            let v = v.with_context(|| {
                format!(
                    "{}: row {row}, column `{name}`: missing value",
                    path.display()
                )
            })?;
            out.push(check_value(path, row, name, v)?);
        }
        names.push(name.to_owned());
        columns.push(out);
    }
    let mut values = Vec::with_capacity(n * names.len());
    for r in 0..n {
        values.extend(columns.iter().map(|c| c[r]));
    }
    Ok(Table {
        names,
        values,
        n,
        label,
        record: None,
        sample: None,
    })
}

/// The paper's Figure 2 input: a seeded class-balanced sample of a prepared dataset's windows
/// ([`Dataset::sample_per_class`]), train-set scaler applied, every `stride`-th point
/// ([`Dataset::strided_windows`]); or, with `embed = Some((run, device))`, the run's [CLS]
/// embeddings of the same windows ([`wonhee_train::embed_windows`]).
fn sample_windows(
    dir: &Path,
    per_class: usize,
    stride: usize,
    side: SideArg,
    seed: u64,
    embed: Option<(&Path, &str)>,
) -> Result<Table> {
    if per_class == 0 {
        bail!("--per-class must be at least 1");
    }
    if stride == 0 {
        bail!("--stride must be at least 1");
    }
    let ds = Dataset::open(dir)?;
    let side_filter = match side {
        SideArg::All => None,
        SideArg::Train => Some(Side::Train),
        SideArg::Test => Some(Side::Test),
    };
    let idx = ds.sample_per_class(side_filter, per_class, seed);
    if idx.is_empty() {
        bail!("{}: no windows on side {side:?}", dir.display());
    }
    let (names, values) = match embed {
        Some((run_dir, device)) => {
            let device = wonhee_model::device::parse_device(device)?;
            let run = wonhee_train::Run::open(run_dir, &device)?;
            let bar = crate::cmd::progress(idx.len() as u64, "embed");
            let v = wonhee_train::embed_windows(&run, &ds, &idx, &|n| bar.set_position(n as u64))
                .with_context(|| format!("{}: embedding", dir.display()))?;
            bar.finish_and_clear();
            let d = run.config.model.d_model;
            ((0..d).map(|j| format!("e{j}")).collect(), v)
        }
        None => {
            let scaler = ds
                .scaler(None)
                .with_context(|| format!("{}: train-set scaler", dir.display()))?;
            let names = (0..ds.window_len())
                .step_by(stride)
                .map(|o| format!("p{o}"))
                .collect();
            (names, ds.strided_windows(&idx, &scaler, stride)?)
        }
    };
    let classes = ds.class_names();
    let label = idx
        .iter()
        .map(|&i| {
            let l = usize::from(ds.labels()[i]);
            classes.get(l).cloned().unwrap_or_else(|| l.to_string())
        })
        .collect();
    let record = idx
        .iter()
        .map(|&i| ds.records()[usize::from(ds.window_records()[i])].clone())
        .collect();
    let sample = idx.iter().map(|&i| ds.samples()[i]).collect();
    Ok(Table {
        names,
        values,
        n: idx.len(),
        label: Some(label),
        record: Some(record),
        sample: Some(sample),
    })
}
