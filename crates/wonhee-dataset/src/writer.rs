//! Writing a prepared dataset folder, completely or not at all (layout: [`crate::reader`]).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::{Column, DataFrame, ParquetCompression, ParquetWriter};
use safetensors::tensor::{Dtype, TensorView};
use wonhee_schema::{BEATS_FILE, SIGNALS_FILE, SIGNALS2_FILE, SUMMARY_FILE, Side, WINDOWS_FILE};
use wonhee_signal::Scaler;

use crate::error::{DatasetError, Result};
use crate::prepared::{BeatTable, Prepared};
use crate::reader::scale_into;
use crate::rhythm::RrIntervals;

fn f32_bytes(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// Writes a prepared dataset to `out`, completely or not at all: everything goes to a temporary
/// folder beside `out`, which is renamed to `out` at the end. An existing `out` is replaced only
/// when `overwrite` is set.
pub fn write_dataset(p: &Prepared, out: &Path, materialize: bool, overwrite: bool) -> Result<()> {
    let t0 = std::time::Instant::now();
    check_out(out, overwrite)?;
    wonhee_fs::write_dir_with(out, |dir| -> Result<()> {
        // The signals (most of the bytes) and the rest are written at the same time.
        let (sig, rest) = rayon::join(
            || -> Result<()> {
                write_signals(&p.records, &p.signals, &dir.join(SIGNALS_FILE))?;
                if !p.signals2.is_empty() {
                    write_signals(&p.records, &p.signals2, &dir.join(SIGNALS2_FILE))?;
                }
                Ok(())
            },
            || {
                write_beats(
                    &p.records,
                    &p.beats,
                    &p.summary.classes,
                    &dir.join(BEATS_FILE),
                )
            },
        );
        sig?;
        rest?;
        write_windows_and_summary(p, dir, materialize)
    })?;
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_secs_f64() * 1e3,
        "dataset written"
    );
    Ok(())
}

/// Refuses an existing `out` unless `overwrite`.
pub(crate) fn check_out(out: &Path, overwrite: bool) -> Result<()> {
    if out.exists() && !overwrite {
        return Err(DatasetError::invalid(
            out,
            "already exists (pass --force to replace it)",
        ));
    }
    Ok(())
}

/// Writes one f32 tensor per record, named by record.
pub(crate) fn write_signals(records: &[String], signals: &[Vec<f32>], path: &Path) -> Result<()> {
    let views: Vec<(String, TensorView<'_>)> = records
        .iter()
        .zip(signals)
        .map(|(name, s)| {
            TensorView::new(Dtype::F32, vec![s.len()], f32_bytes(s))
                .map(|v| (name.clone(), v))
                .map_err(|e| DatasetError::invalid(path, e.to_string()))
        })
        .collect::<Result<_>>()?;
    wonhee_fs::write_path_with(path, |tmp| {
        safetensors::serialize_to_file(views, None, tmp)
            .map_err(|e| DatasetError::invalid(path, e.to_string()))
    })
}

/// Writes the beat index as parquet.
pub(crate) fn write_beats(
    records: &[String],
    b: &BeatTable,
    class_names: &[String],
    path: &Path,
) -> Result<()> {
    let mut df = DataFrame::new(b.len(), beat_columns(records, b, class_names))
        .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
    let f = std::fs::File::create(path).map_err(|e| DatasetError::io(path, e))?;
    // Snappy: a few ms faster than polars' default zstd here, for a slightly larger file
    // that every parquet reader opens.
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Snappy)
        .finish(&mut df)
        .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
    Ok(())
}

/// The columns of the beat index, in file order (layout: [`crate::reader`]).
fn beat_columns(records: &[String], b: &BeatTable, class_names: &[String]) -> Vec<Column> {
    let mut columns = vec![
        Column::new(
            "record".into(),
            b.record
                .iter()
                .map(|&r| records[usize::from(r)].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new("centre".into(), b.centre.clone()),
        Column::new("sample".into(), b.sample.clone()),
        Column::new(
            "symbol".into(),
            b.code
                .iter()
                .map(|&c| wonhee_wfdb::code_symbol(c).unwrap_or("?"))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "class".into(),
            b.label.iter().map(|&l| u32::from(l)).collect::<Vec<u32>>(),
        ),
        Column::new(
            "class_name".into(),
            b.label
                .iter()
                .map(|&l| class_names[usize::from(l)].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "split".into(),
            b.side.iter().map(Side::name).collect::<Vec<_>>(),
        ),
        Column::new(
            "fold".into(),
            b.side.iter().map(fold_number).collect::<Vec<i32>>(),
        ),
    ];
    columns.extend(rr_columns(&b.rr));
    columns
}

/// The fold of a record-folds side; -1 for train and test.
fn fold_number(s: &Side) -> i32 {
    if let Side::Fold(k) = s {
        i32::from(*k)
    } else {
        -1
    }
}

/// The four RR interval columns (seconds): `rr_pre`, `rr_post`, `rr_local`, `rr_average`.
fn rr_columns(rr: &[RrIntervals]) -> [Column; 4] {
    let col = |name: &str, f: fn(&RrIntervals) -> f32| {
        Column::new(name.into(), rr.iter().map(f).collect::<Vec<f32>>())
    };
    [
        col("rr_pre", |r| r.pre),
        col("rr_post", |r| r.post),
        col("rr_local", |r| r.local),
        col("rr_average", |r| r.average),
    ]
}

/// Writes the window tensor (only when `materialize`), then `summary.json`: the last files of
/// a dataset folder.
pub(crate) fn write_windows_and_summary(p: &Prepared, dir: &Path, materialize: bool) -> Result<()> {
    if materialize {
        write_windows(p, &dir.join(WINDOWS_FILE))?;
    }
    let path = dir.join(SUMMARY_FILE);
    let json =
        serde_json::to_vec_pretty(&p.summary).map_err(|e| DatasetError::Config(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| DatasetError::io(&path, e))
}

/// Writes every window, train-scaled, as one `[N, L]` f32 tensor with labels and sides.
fn write_windows(p: &Prepared, path: &Path) -> Result<()> {
    let (l, signals, beats, summary) = (p.config.window, &p.signals, &p.beats, &p.summary);
    let half = (l / 2) as i64;
    let scaler = summary.scaler.unwrap_or(Scaler {
        mean: 0.0,
        std: 1.0,
    });
    let n = beats.len();
    let mut windows = vec![0f32; n * l];
    for (i, w) in windows.chunks_exact_mut(l).enumerate() {
        let s = &signals[usize::from(beats.record[i])];
        let start = (beats.centre[i] - half) as usize;
        scale_into(&s[start..start + l], &scaler, w);
    }
    let labels: Vec<i64> = beats.label.iter().map(|&x| i64::from(x)).collect();
    let sides: Vec<u8> = beats
        .side
        .iter()
        .map(|s| match s {
            Side::Train => 0,
            Side::Test => 1,
            Side::Fold(k) => 2 + k,
        })
        .collect();
    let err = |e: safetensors::SafeTensorError| DatasetError::invalid(path, e.to_string());
    let tensors = vec![
        (
            "windows".to_owned(),
            TensorView::new(Dtype::F32, vec![n, l], f32_bytes(&windows)).map_err(err)?,
        ),
        (
            "labels".to_owned(),
            TensorView::new(Dtype::I64, vec![n], bytemuck::cast_slice(&labels)).map_err(err)?,
        ),
        (
            "split".to_owned(),
            TensorView::new(Dtype::U8, vec![n], &sides).map_err(err)?,
        ),
    ];
    let meta: HashMap<String, String> = [
        ("classes".to_owned(), summary.classes.join(",")),
        (
            "split_codes".to_owned(),
            "0=train,1=test,2+k=fold k".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    wonhee_fs::write_path_with(path, |tmp| {
        safetensors::serialize_to_file(tensors, Some(meta), tmp).map_err(err)
    })
}
