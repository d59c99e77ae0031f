//! `wonhee annotations RECORD [--annotator atr] --out FILE`.

use std::path::PathBuf;

use anyhow::Result;
use polars::prelude::*;
use wonhee_wfdb::Annotations;

use crate::output;

/// Arguments of `wonhee annotations`.
#[derive(clap::Args)]
pub struct Args {
    /// Record path without extension (e.g. ../shared/data/mitdb/100) or its .hea file.
    record: PathBuf,
    /// Annotator (annotation file extension).
    #[arg(long, default_value = "atr")]
    annotator: String,
    /// Output file: .csv or .parquet. Columns: sample,symbol,subtype,chan,num,aux.
    #[arg(long)]
    out: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    output::TableFormat::from_path(&args.out)?;
    let ann = Annotations::open(&args.record, &args.annotator)?;
    let a = &ann.annotations;
    let mut df = DataFrame::new(
        a.len(),
        vec![
            Column::new(
                "sample".into(),
                a.iter().map(|x| x.sample).collect::<Vec<i64>>(),
            ),
            Column::new(
                "symbol".into(),
                a.iter().map(|x| ann.symbol_of(x)).collect::<Vec<&str>>(),
            ),
            Column::new(
                "subtype".into(),
                a.iter().map(|x| i32::from(x.subtype)).collect::<Vec<i32>>(),
            ),
            Column::new(
                "chan".into(),
                a.iter().map(|x| i32::from(x.chan)).collect::<Vec<i32>>(),
            ),
            Column::new(
                "num".into(),
                a.iter().map(|x| i32::from(x.num)).collect::<Vec<i32>>(),
            ),
            Column::new(
                "aux".into(),
                a.iter()
                    .map(|x| x.aux_text().into_owned())
                    .collect::<Vec<String>>(),
            ),
        ],
    )?;
    output::write_table(&args.out, &mut df)?;
    Ok(())
}
