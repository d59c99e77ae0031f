//! `wonhee compare`: ANSI/AAMI EC57 beat-by-beat comparison of test beats with a record's
//! reference annotations, as the WFDB tool `bxb` does it (`wonhee_eval::compare_beats`), for one
//! record or a whole database folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::prelude::{DataType, ParquetReader, SerReader};
use wonhee_eval::{
    Ec57Annotation, Ec57Class, Ec57Label, Ec57Options, Ec57Record, Ec57Stats, Ec57Summary,
    MATRIX_LABELS, SymbolMap, compare_beats, ec57_label,
};
use wonhee_wfdb::{Annotations, Record, symbol_code};

/// Arguments of `wonhee compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Reference: a WFDB record (`data/mitdb/100`), or a folder whose RECORDS file lists the
    /// records to compare.
    #[arg(long = "ref")]
    reference: PathBuf,
    /// Annotator of the reference annotations.
    #[arg(long, default_value = "atr")]
    ref_annotator: String,
    /// Test beats: a `.csv`/`.parquet` table with a `sample` column (and optionally
    /// `pred_class` or `symbol`; without one every beat is `N`), or a WFDB annotation file
    /// (`DIR/100.qrs`: annotator `qrs` of record `100`). With a folder `--ref`, a folder holding
    /// one such file per record (`100.csv`, `100.qrs`, ...).
    #[arg(long)]
    test: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Start of the comparison in seconds (EC57: 300, the first 5 minutes are not scored).
    #[arg(long, default_value_t = 300.0)]
    start: f64,
    /// Match window in seconds.
    #[arg(long, default_value_t = 0.15)]
    window: f64,
    /// Leave the paced records 102, 104, 107 and 217 out of the VEB and SVEB statistics, as
    /// EC57 requires for MIT-BIH.
    #[arg(long)]
    exclude_paced: bool,
    /// Count atrial and nodal escape beats (`e`, `j`) as S, as `bxb` does (default: N, as in
    /// the EC57 class table).
    #[arg(long)]
    escapes_as_sveb: bool,
    /// With a folder `--ref`: compare only these records (comma-separated names, or `ds1` /
    /// `ds2`, de Chazal's inter-patient sets) instead of every record in RECORDS.
    #[arg(long)]
    records: Option<String>,
}

/// The records named by `--records` (see [`Args::records`]).
fn record_selection(sel: &str) -> Vec<String> {
    match sel.to_ascii_lowercase().as_str() {
        "ds1" => wonhee_dataset::DS1.iter().map(|s| s.to_string()).collect(),
        "ds2" => wonhee_dataset::DS2.iter().map(|s| s.to_string()).collect(),
        _ => sel
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let map = if args.escapes_as_sveb {
        SymbolMap::Bxb
    } else {
        SymbolMap::Ec57
    };
    if args.reference.is_dir() {
        if !args.test.is_dir() {
            bail!(
                "{}: with a folder as --ref, --test must be a folder of test files",
                args.test.display()
            );
        }
        let list = args.reference.join("RECORDS");
        let text = std::fs::read_to_string(&list)
            .with_context(|| format!("{}: cannot read the record list", list.display()))?;
        let names: Vec<String> = match &args.records {
            Some(sel) => {
                let names = record_selection(sel);
                if let Some(bad) = names
                    .iter()
                    .find(|n| !text.split_whitespace().any(|r| r == *n))
                {
                    bail!("{}: record {bad} is not in the list", list.display());
                }
                names
            }
            None => text.split_whitespace().map(str::to_owned).collect(),
        };
        let mut records = Vec::new();
        for name in &names {
            let test = find_test_file(&args.test, name)?;
            records.push(compare_one(&args, &args.reference.join(name), &test, map)?);
        }
        let summary = Ec57Summary::new(records, args.exclude_paced);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print_summary(&summary);
        }
        return Ok(());
    }
    let rec = compare_one(&args, &args.reference, &args.test, map)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rec)?);
    } else {
        print_record(&rec);
    }
    Ok(())
}

/// The test file of record `name` in `dir`: `name.csv`, else `name.parquet`, else the one
/// other `name.EXT` file.
fn find_test_file(dir: &Path, name: &str) -> Result<PathBuf> {
    for ext in ["csv", "parquet"] {
        let p = dir.join(format!("{name}.{ext}"));
        if p.is_file() {
            return Ok(p);
        }
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    let mut found = Vec::new();
    for e in entries {
        let p = e
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .path();
        if p.is_file() && p.file_stem().and_then(|s| s.to_str()) == Some(name) {
            found.push(p);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "{}: no test file for record {name} (expected {name}.csv, {name}.parquet or \
             {name}.<annotator>)",
            dir.display()
        ),
        _ => bail!(
            "{}: several test files for record {name}; keep one",
            dir.display()
        ),
    }
}

fn compare_one(args: &Args, record: &Path, test: &Path, map: SymbolMap) -> Result<Ec57Record> {
    let rec = Record::open(record)?;
    let h = rec.header();
    let reference = Annotations::open(record, &args.ref_annotator)?;
    let reference: Vec<Ec57Annotation> = reference
        .annotations
        .iter()
        .map(|a| Ec57Annotation {
            sample: a.sample,
            label: ec57_label(reference.symbol_of(a), a.subtype, map),
        })
        .collect();
    let mut test_beats = read_test(test, map)?;
    test_beats.sort_by_key(|a| a.sample);
    if let Some(n) = h.sig_len
        && (n as f64) < args.start * h.fs
    {
        bail!(
            "{}: the record is {:.1} s long, shorter than the start of the comparison \
             (--start {} s)",
            record.display(),
            n as f64 / h.fs,
            args.start
        );
    }
    let options = Ec57Options {
        window_s: args.window,
        start_s: args.start,
        end_sample: h.sig_len.and_then(|n| i64::try_from(n).ok()),
    };
    compare_beats(rec.name(), &reference, &test_beats, h.fs, &options)
        .with_context(|| format!("comparing {} with {}", test.display(), record.display()))
}

/// Reads test annotations from a table (`.csv`, `.parquet`) or a WFDB annotation file.
fn read_test(path: &Path, map: SymbolMap) -> Result<Vec<Ec57Annotation>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => read_csv(path, map),
        Some("parquet") => read_parquet(path, map),
        Some(ext) => {
            let anns = Annotations::read_file(path, ext)?;
            Ok(anns
                .annotations
                .iter()
                .map(|a| Ec57Annotation {
                    sample: a.sample,
                    label: ec57_label(anns.symbol_of(a), a.subtype, map),
                })
                .collect())
        }
        None => bail!(
            "{}: no extension (use .csv, .parquet or a WFDB annotator extension such as .qrs)",
            path.display()
        ),
    }
}

/// Which column gives the test beats' classes.
#[derive(Clone, Copy)]
enum ClassColumn {
    /// `pred_class`: AAMI class letters.
    PredClass,
    /// `symbol`: WFDB annotation symbols.
    Symbol,
}

impl ClassColumn {
    fn name(self) -> &'static str {
        match self {
            Self::PredClass => "pred_class",
            Self::Symbol => "symbol",
        }
    }

    fn label(self, cell: &str, map: SymbolMap) -> Option<Ec57Label> {
        let cell = cell.trim();
        match self {
            Self::PredClass => Ec57Class::from_letter(cell).map(Ec57Label::Beat),
            Self::Symbol => symbol_code(cell).map(|_| ec57_label(cell, 0, map)),
        }
    }
}

fn parse_sample(path: &Path, row: usize, cell: &str) -> Result<i64> {
    let s = cell.trim();
    let v: i64 = s.parse().map_err(|_| {
        anyhow::anyhow!(
            "{}: row {row}, column `sample`: `{s}` is not an integer sample number",
            path.display()
        )
    })?;
    if v < 0 {
        bail!(
            "{}: row {row}, column `sample`: negative sample number {v}",
            path.display()
        );
    }
    Ok(v)
}

fn class_label(
    path: &Path,
    row: usize,
    col: Option<ClassColumn>,
    cell: Option<&str>,
    map: SymbolMap,
) -> Result<Ec57Label> {
    match (col, cell) {
        (Some(c), Some(v)) => c.label(v, map).with_context(|| {
            format!(
                "{}: row {row}, column `{}`: `{}` is not {}",
                path.display(),
                c.name(),
                v.trim(),
                match c {
                    ClassColumn::PredClass => "an AAMI class (N, S, V, F, Q)",
                    ClassColumn::Symbol => "a WFDB annotation symbol",
                }
            )
        }),
        (Some(c), None) => bail!(
            "{}: row {row}, column `{}`: missing value",
            path.display(),
            c.name()
        ),
        (None, _) => Ok(Ec57Label::Beat(Ec57Class::N)),
    }
}

fn read_csv(path: &Path, map: SymbolMap) -> Result<Vec<Ec57Annotation>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let header = r
        .headers()
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
        .clone();
    let at = |n: &str| header.iter().position(|h| h.trim() == n);
    let Some(sample_at) = at("sample") else {
        bail!("{}: no `sample` column", path.display());
    };
    let class = at("pred_class")
        .map(|i| (i, ClassColumn::PredClass))
        .or_else(|| at("symbol").map(|i| (i, ClassColumn::Symbol)));
    let mut out = Vec::new();
    for (k, rec) in r.records().enumerate() {
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let row = k + 2;
        let rec = rec.with_context(|| format!("{}: row {row}: not valid CSV", path.display()))?;
        let Some(cell) = rec.get(sample_at) else {
            bail!("{}: row {row}: no `sample` value", path.display());
        };
        let sample = parse_sample(path, row, cell)?;
        let label = class_label(
            path,
            row,
            class.map(|c| c.1),
            class.and_then(|(i, _)| rec.get(i)),
            map,
        )?;
        out.push(Ec57Annotation { sample, label });
    }
    Ok(out)
}

fn read_parquet(path: &Path, map: SymbolMap) -> Result<Vec<Ec57Annotation>> {
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let df = ParquetReader::new(f)
        .finish()
        .with_context(|| format!("{}: not a readable parquet file", path.display()))?;
    let col = df
        .column("sample")
        .map_err(|_| anyhow::anyhow!("{}: no `sample` column", path.display()))?;
    if !col.dtype().is_integer() {
        bail!(
            "{}: column `sample` is {}, not integer sample numbers",
            path.display(),
            col.dtype()
        );
    }
    let samples = col
        .cast(&DataType::Int64)
        .with_context(|| format!("{}: column `sample` cannot be read as i64", path.display()))?;
    let samples = samples.i64()?;
    let class = if df.column("pred_class").is_ok() {
        Some(ClassColumn::PredClass)
    } else if df.column("symbol").is_ok() {
        Some(ClassColumn::Symbol)
    } else {
        None
    };
    let classes = match class {
        Some(c) => {
            let s = df
                .column(c.name())?
                .cast(&DataType::String)
                .with_context(|| {
                    format!(
                        "{}: column `{}` cannot be read as text",
                        path.display(),
                        c.name()
                    )
                })?;
            Some(
                s.str()?
                    .iter()
                    .map(|v| v.map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
        }
        None => None,
    };
    let mut out = Vec::with_capacity(samples.len());
    for (k, v) in samples.iter().enumerate() {
        // Rows counted from 1.
        let row = k + 1;
        let Some(sample) = v else {
            bail!(
                "{}: row {row}, column `sample`: missing value",
                path.display()
            );
        };
        if sample < 0 {
            bail!(
                "{}: row {row}, column `sample`: negative sample number {sample}",
                path.display()
            );
        }
        let cell = classes.as_ref().and_then(|c| c.get(k).cloned().flatten());
        let label = class_label(path, row, class, cell.as_deref(), map)?;
        out.push(Ec57Annotation { sample, label });
    }
    Ok(out)
}

fn pct(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{:.*}", digits, 100.0 * v),
        None => "-".to_owned(),
    }
}

fn print_matrix(m: &wonhee_eval::Ec57Matrix) {
    println!("               Algorithm");
    print!("    ");
    for l in MATRIX_LABELS {
        print!(" {:>6}", l.to_ascii_lowercase());
    }
    println!();
    for (i, row) in m.counts.iter().enumerate() {
        print!("  {} |", MATRIX_LABELS[i]);
        // O and X rows have no o and x columns.
        let n = if i >= 5 { 5 } else { 7 };
        for c in &row[..n] {
            print!(" {c:>6}");
        }
        println!();
    }
}

fn print_stats(s: &Ec57Stats) {
    println!(
        "  QRS  Se {:>7}%  +P {:>7}%",
        pct(s.qrs_se, 2),
        pct(s.qrs_ppv, 2)
    );
    println!(
        "  VEB  Se {:>7}%  +P {:>7}%  FPR {:>7}%",
        pct(s.veb_se, 2),
        pct(s.veb_ppv, 2),
        pct(s.veb_fpr, 3)
    );
    println!(
        "  SVEB Se {:>7}%  +P {:>7}%  FPR {:>7}%",
        pct(s.sveb_se, 2),
        pct(s.sveb_ppv, 2),
        pct(s.sveb_fpr, 3)
    );
}

fn print_record(r: &Ec57Record) {
    println!(
        "Beat-by-beat comparison for record {} (from sample {}, window {} samples)",
        r.record, r.start_sample, r.window_samples
    );
    print_matrix(&r.matrix);
    let c = &r.counts;
    println!(
        "  QRS TP {}  FN {}  FP {};  VEB TP {}  FN {}  FP {};  SVEB TP {}  FN {}  FP {}",
        c.qrs_tp, c.qrs_fn, c.qrs_fp, c.veb_tp, c.veb_fn, c.veb_fp, c.sveb_tp, c.sveb_fn, c.sveb_fp
    );
    print_stats(&r.stats);
}

fn print_summary(s: &Ec57Summary) {
    println!(
        "{:<7} {:>7} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "Record", "QRS TP", "FN", "FP", "Q Se", "Q +P", "V Se", "V +P", "V FPR", "S Se", "S +P"
    );
    for r in &s.records {
        let (c, st) = (&r.counts, &r.stats);
        let mark = if s.excluded_from_arrhythmia.contains(&r.record) {
            "*"
        } else {
            ""
        };
        println!(
            "{:<7} {:>7} {:>5} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            format!("{}{mark}", r.record),
            c.qrs_tp,
            c.qrs_fn,
            c.qrs_fp,
            pct(st.qrs_se, 2),
            pct(st.qrs_ppv, 2),
            pct(st.veb_se, 2),
            pct(st.veb_ppv, 2),
            pct(st.veb_fpr, 3),
            pct(st.sveb_se, 2),
            pct(st.sveb_ppv, 2)
        );
    }
    let g = &s.gross_counts;
    println!(
        "\nGross over {} records (QRS: {} reference beats; VEB: {}; SVEB: {})",
        s.records.len(),
        g.qrs_tp + g.qrs_fn,
        g.veb_tp + g.veb_fn,
        g.sveb_tp + g.sveb_fn
    );
    if !s.excluded_from_arrhythmia.is_empty() {
        println!(
            "  * left out of VEB and SVEB statistics (paced): {}",
            s.excluded_from_arrhythmia.join(", ")
        );
    }
    print_matrix(&s.matrix);
    print_stats(&s.gross);
    println!(
        "  class accuracy over matched beats {}%",
        pct(s.matrix.class_accuracy(), 2)
    );
    println!("\nAverage over records");
    print_stats(&s.average);
}
