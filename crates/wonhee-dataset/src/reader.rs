//! The on-disk layout of a prepared dataset, and [`Dataset`]: a folder loaded without copying
//! its signals (written by [`crate::writer`]).
//!
//! ```text
//! OUT/
//!   signals.safetensors   one f32 tensor per record (named by record), the standardized lead
//!   signals2.safetensors  only with `second_lead`: the second lead, the same way
//!   beats.parquet         record, centre, sample, symbol, class, class_name, split, fold,
//!                         rr_pre, rr_post, rr_local, rr_average (seconds, see RrIntervals)
//!   summary.json          counts, splits, scaler, overlap, config, checksums (see Summary)
//!   windows.safetensors   only with `materialize`: windows f32 [N, L], labels i64 [N], split u8 [N]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame, DataType, ParquetReader, SerReader, StringChunked};
use safetensors::tensor::{Dtype, SafeTensors};
use wonhee_schema::{BEATS_FILE, SIGNALS_FILE, SIGNALS2_FILE, SUMMARY_FILE, Side, Summary};
use wonhee_signal::Scaler;

use crate::context::{
    BEAT_FEATURE_WIDTHS, CONTEXT_FEATURES, LEAD2_FEATURES, lead2_shape, window_context,
};
use crate::error::{DatasetError, Result};
use crate::rhythm::{RHYTHM_FEATURES, RrIntervals};

/// Start and end of one record's signal, in bytes from the start of the signals file.
type ByteRange = (usize, usize);

/// Signals of a dataset: memory-mapped, or owned where mapping is not possible.
enum SignalBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl SignalBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Owned(v) => v,
        }
    }
}

/// A prepared dataset, opened for reading. Signals are memory-mapped; a window is a slice of its
/// record's signal, cut when a batch is filled.
pub struct Dataset {
    dir: PathBuf,
    summary: Summary,
    records: Vec<String>,
    /// Byte range of each record's signal inside `bytes`.
    ranges: Vec<ByteRange>,
    bytes: SignalBytes,
    /// The second lead (datasets prepared with `second_lead`): its bytes and, per record, the
    /// byte range of its signal, as long as the first lead's.
    second: Option<(SignalBytes, Vec<ByteRange>)>,
    /// Per window: record index, centre, sample, symbol, label, side.
    record: Vec<u16>,
    centre: Vec<i64>,
    sample: Vec<i64>,
    symbol: Vec<String>,
    label: Vec<u8>,
    side: Vec<Side>,
    /// RR intervals; `None` for datasets prepared before they were stored.
    rr: Option<Vec<RrIntervals>>,
    /// Context features of each window's beat ([`crate::beat_context`]), computed on first use.
    context: std::sync::OnceLock<Vec<[f32; CONTEXT_FEATURES]>>,
    /// The same in the second lead, when the dataset has one.
    context2: std::sync::OnceLock<Vec<[f32; CONTEXT_FEATURES]>>,
    window: usize,
}

fn column<'a>(df: &'a DataFrame, name: &str, path: &Path) -> Result<&'a Column> {
    df.column(name)
        .map_err(|_| DatasetError::invalid(path, format!("no `{name}` column")))
}

impl Dataset {
    /// Opens a folder written by [`write_dataset`] and checks its consistency.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let summary = Summary::read(&dir.join(SUMMARY_FILE))?;
        let window = summary.config.window;

        let sig_path = dir.join(SIGNALS_FILE);
        let file = std::fs::File::open(&sig_path).map_err(|e| DatasetError::io(&sig_path, e))?;
        let bytes = map_or_read(&file, &sig_path)?;
        let (names, ranges) = signal_ranges(&bytes, &summary, &sig_path)?;

        let second = if summary.config.second_lead {
            let path = dir.join(SIGNALS2_FILE);
            let file = std::fs::File::open(&path).map_err(|e| DatasetError::io(&path, e))?;
            let bytes2 = map_or_read(&file, &path)?;
            let (_, ranges2) = signal_ranges(&bytes2, &summary, &path)?;
            for ((r, a), b) in summary.records.iter().zip(&ranges).zip(&ranges2) {
                if a.1 - a.0 != b.1 - b.0 {
                    return Err(DatasetError::invalid(
                        &path,
                        format!(
                            "record {}: second lead has {} samples, the first {}",
                            r.record,
                            (b.1 - b.0) / 4,
                            (a.1 - a.0) / 4
                        ),
                    ));
                }
            }
            Some((bytes2, ranges2))
        } else {
            None
        };

        let beats_path = dir.join(BEATS_FILE);
        let b = BeatColumns::read(&beats_path, &names, summary.classes.len())?;
        check_windows_fit(&b.record, &b.centre, &ranges, window, &beats_path)?;
        let ds = Self {
            dir,
            summary,
            records: names,
            ranges,
            bytes,
            second,
            record: b.record,
            centre: b.centre,
            sample: b.sample,
            symbol: b.symbol,
            label: b.label,
            side: b.side,
            rr: b.rr,
            context: std::sync::OnceLock::new(),
            context2: std::sync::OnceLock::new(),
            window,
        };
        // Check that every signal is aligned f32 data (it is, as written by this crate).
        for i in 0..ds.records.len() {
            ds.try_signal(i)?;
            ds.try_signal2(i)?;
        }
        Ok(ds)
    }

    fn try_signal(&self, i: usize) -> Result<&[f32]> {
        let (a, b) = self.ranges[i];
        bytemuck::try_cast_slice(&self.bytes.bytes()[a..b]).map_err(|e| {
            DatasetError::invalid(
                self.dir.join(SIGNALS_FILE),
                format!("signal {}: {e:?}", self.records[i]),
            )
        })
    }

    fn try_signal2(&self, i: usize) -> Result<Option<&[f32]>> {
        let Some((bytes, ranges)) = &self.second else {
            return Ok(None);
        };
        let (a, b) = ranges[i];
        bytemuck::try_cast_slice(&bytes.bytes()[a..b])
            .map(Some)
            .map_err(|e| {
                DatasetError::invalid(
                    self.dir.join(SIGNALS2_FILE),
                    format!("signal {}: {e:?}", self.records[i]),
                )
            })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The summary (`summary.json`).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Window length.
    pub fn window_len(&self) -> usize {
        self.window
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.centre.len()
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.centre.is_empty()
    }

    /// Class names in label order.
    pub fn class_names(&self) -> &[String] {
        &self.summary.classes
    }

    /// Record names.
    pub fn records(&self) -> &[String] {
        &self.records
    }

    /// A record's whole standardized signal (zero-copy).
    pub fn record_signal(&self, record: usize) -> &[f32] {
        // Checked to be valid f32 data in `open`.
        self.try_signal(record).unwrap_or(&[])
    }

    /// Whether the dataset stores a second lead (prepared with `second_lead`).
    pub fn has_second_lead(&self) -> bool {
        self.second.is_some()
    }

    /// A record's whole standardized second lead (zero-copy), when the dataset has one.
    pub fn record_signal2(&self, record: usize) -> Option<&[f32]> {
        // Checked to be valid f32 data in `open`.
        self.try_signal2(record).ok().flatten()
    }

    /// Window `i` of the second lead (per-record standardized), when the dataset has one.
    pub fn window2(&self, i: usize) -> Option<&[f32]> {
        let half = (self.window / 2) as i64;
        let start = (self.centre[i] - half) as usize;
        self.record_signal2(usize::from(self.record[i]))
            .map(|s| &s[start..start + self.window])
    }

    /// Copies the second lead's windows `idx` into `out` (`idx.len() * window_len` values),
    /// per-record standardized (the train-set scaler is the first lead's and is not applied);
    /// an error when the dataset has no second lead.
    pub fn fill_batch2(&self, idx: &[usize], out: &mut [f32]) -> Result<()> {
        let l = self.window;
        if !self.has_second_lead() {
            return Err(DatasetError::invalid(
                self.dir.join(SUMMARY_FILE),
                "the dataset has no second lead: prepare it with `--second-lead`",
            ));
        }
        check_buffer(out.len(), idx.len(), l, true)?;
        for (o, &i) in out.chunks_exact_mut(l).zip(idx) {
            self.check_window(i)?;
            let w = self.window2(i).ok_or_else(|| {
                DatasetError::invalid(
                    self.dir.join(SIGNALS2_FILE),
                    format!("window {i} unreadable"),
                )
            })?;
            o.copy_from_slice(w);
        }
        Ok(())
    }

    /// Window `i` as a view into its record's signal (per-record standardized, before the
    /// train-set scaler).
    pub fn window(&self, i: usize) -> &[f32] {
        let half = (self.window / 2) as i64;
        let start = (self.centre[i] - half) as usize;
        &self.record_signal(usize::from(self.record[i]))[start..start + self.window]
    }

    /// Labels of all windows.
    pub fn labels(&self) -> &[u8] {
        &self.label
    }

    /// Split side of each window.
    pub fn sides(&self) -> &[Side] {
        &self.side
    }

    /// Record index of each window.
    pub fn window_records(&self) -> &[u16] {
        &self.record
    }

    /// Centre (target-rate sample) of each window.
    pub fn centres(&self) -> &[i64] {
        &self.centre
    }

    /// Original annotation sample of each window's beat.
    pub fn samples(&self) -> &[i64] {
        &self.sample
    }

    /// Annotation symbol of each window's beat.
    pub fn symbols(&self) -> &[String] {
        &self.symbol
    }

    /// RR intervals of each window's beat; an error naming `beats.parquet` for a dataset
    /// prepared by a build that did not store them (prepare it again).
    pub fn rr(&self) -> Result<&[RrIntervals]> {
        self.rr.as_deref().ok_or_else(|| {
            DatasetError::invalid(
                self.dir.join(BEATS_FILE),
                "has no RR interval columns (prepared by an older build): run `wonhee prepare` again",
            )
        })
    }

    /// Writes the rhythm features ([`RrIntervals::features`], [`RHYTHM_FEATURES`] per window)
    /// of windows `idx` into `out`.
    pub fn fill_rhythm(&self, idx: &[usize], out: &mut [f32]) -> Result<()> {
        self.fill_features(idx, RHYTHM_FEATURES, out)
    }

    /// Writes `width` beat features per window of windows `idx` into `out`: the rhythm
    /// features (`width` = [`RHYTHM_FEATURES`]), followed, for a wider `width` (one of
    /// [`BEAT_FEATURE_WIDTHS`]), by the first `width - RHYTHM_FEATURES` context features
    /// ([`crate::beat_context`], computed from each record's windows on first use;
    /// [`window_context`] over each record's windows).
    pub fn fill_features(&self, idx: &[usize], width: usize, out: &mut [f32]) -> Result<()> {
        if !BEAT_FEATURE_WIDTHS.contains(&width) {
            return Err(DatasetError::Config(format!(
                "{width} beat features asked for; a model reads {BEAT_FEATURE_WIDTHS:?} \
                 (rhythm; rhythm and shape context; rhythm, shape and timing context)"
            )));
        }
        let rr = self.rr()?;
        check_buffer(out.len(), idx.len(), width, false)?;
        for &i in idx {
            self.check_window(i)?;
        }
        let context = (width > RHYTHM_FEATURES).then(|| self.context());
        for (o, &i) in out.chunks_exact_mut(width).zip(idx) {
            o[..RHYTHM_FEATURES].copy_from_slice(&rr[i].features());
            if let Some(c) = context {
                o[RHYTHM_FEATURES..].copy_from_slice(&c[i][..width - RHYTHM_FEATURES]);
            }
        }
        Ok(())
    }

    /// The context features of every window's beat, against its own record's beats
    /// ([`window_context`]).
    pub fn context(&self) -> &[[f32; CONTEXT_FEATURES]] {
        self.context
            .get_or_init(|| self.context_of(|r| self.record_signal(r)))
    }

    /// The context features of every window's beat in the second lead ([`window_context`] of
    /// it); an error when the dataset has no second lead.
    pub fn context2(&self) -> Result<&[[f32; CONTEXT_FEATURES]]> {
        if !self.has_second_lead() {
            return Err(DatasetError::invalid(
                self.dir.join(SUMMARY_FILE),
                "the dataset has no second lead: prepare it with `--second-lead`",
            ));
        }
        Ok(self
            .context2
            .get_or_init(|| self.context_of(|r| self.record_signal2(r).unwrap_or(&[]))))
    }

    /// [`window_context`] of each record's windows over the record's signal `signal(r)`.
    fn context_of<'a>(
        &'a self,
        signal: impl Fn(usize) -> &'a [f32],
    ) -> Vec<[f32; CONTEXT_FEATURES]> {
        let mut by_record: Vec<Vec<usize>> = vec![Vec::new(); self.records.len()];
        for (i, &r) in self.record.iter().enumerate() {
            by_record[usize::from(r)].push(i);
        }
        let fs = f64::from(self.summary.config.fs);
        let mut out = vec![[0f32; CONTEXT_FEATURES]; self.len()];
        for (r, windows) in by_record.iter().enumerate() {
            let centres: Vec<i64> = windows.iter().map(|&i| self.centre[i]).collect();
            let f = window_context(signal(r), &centres, fs, self.window);
            for (&i, v) in windows.iter().zip(f) {
                out[i] = v;
            }
        }
        out
    }

    /// [`Dataset::fill_features`] followed, when `lead2`, by the [`LEAD2_FEATURES`] second-lead
    /// features of each window ([`lead2_shape`] of [`Dataset::context2`]): `width +
    /// LEAD2_FEATURES` values per window.
    pub fn fill_beat_inputs(
        &self,
        idx: &[usize],
        width: usize,
        lead2: bool,
        out: &mut [f32],
    ) -> Result<()> {
        if !lead2 {
            return self.fill_features(idx, width, out);
        }
        let row = width + LEAD2_FEATURES;
        check_buffer(out.len(), idx.len(), row, false)?;
        let context2 = self.context2()?;
        let mut first = vec![0f32; idx.len() * width];
        self.fill_features(idx, width, &mut first)?;
        for ((o, f), &i) in out
            .chunks_exact_mut(row)
            .zip(first.chunks_exact(width))
            .zip(idx)
        {
            o[..width].copy_from_slice(f);
            o[width..].copy_from_slice(&lead2_shape(&context2[i]));
        }
        Ok(())
    }

    /// An error for a window index past the last window.
    fn check_window(&self, i: usize) -> Result<()> {
        if i < self.len() {
            Ok(())
        } else {
            Err(DatasetError::Config(format!(
                "window {i} out of range ({} windows)",
                self.len()
            )))
        }
    }

    /// Indices of the windows on one side.
    pub fn indices(&self, side: Side) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.side[i] == side).collect()
    }

    /// A seeded class-balanced sample of the windows on `side` (every window with `None`): at
    /// most `per_class` of each class ([`crate::class_balanced_sample`]), ascending. The input
    /// of the t-SNE figures.
    pub fn sample_per_class(&self, side: Option<Side>, per_class: usize, seed: u64) -> Vec<usize> {
        let pool: Vec<usize> = match side {
            Some(s) => self.indices(s),
            None => (0..self.len()).collect(),
        };
        let labels: Vec<u8> = pool.iter().map(|&i| self.label[i]).collect();
        crate::class_balanced_sample(&labels, per_class, seed)
            .into_iter()
            .map(|t| pool[t])
            .collect()
    }

    /// Windows `idx` scaled by `scaler`, keeping every `stride`-th point of each (`stride` >=
    /// 1), one row per window.
    pub fn strided_windows(
        &self,
        idx: &[usize],
        scaler: &Scaler,
        stride: usize,
    ) -> Result<Vec<f32>> {
        let stride = stride.max(1);
        let mut buf = vec![0f32; self.window];
        let mut out = Vec::with_capacity(idx.len() * self.window.div_ceil(stride));
        for &i in idx {
            self.check_window(i)?;
            scale_into(self.window(i), scaler, &mut buf);
            out.extend(buf.iter().step_by(stride));
        }
        Ok(out)
    }

    /// The scaler fitted on training data: the dataset's, or for record folds the one that
    /// leaves fold `fold` out.
    pub fn scaler(&self, fold: Option<u8>) -> Result<Scaler> {
        match fold {
            None => self.summary.scaler.ok_or_else(|| {
                DatasetError::Config(
                    "this dataset has record folds: choose a fold for the scaler".into(),
                )
            }),
            Some(k) => self
                .summary
                .fold_scalers
                .get(usize::from(k))
                .copied()
                .ok_or_else(|| DatasetError::Config(format!("fold {k} does not exist"))),
        }
    }

    /// Copies windows `idx` into `out` (`idx.len() * window_len` values), applying `scaler`.
    pub fn fill_batch(&self, idx: &[usize], scaler: &Scaler, out: &mut [f32]) -> Result<()> {
        let l = self.window;
        check_buffer(out.len(), idx.len(), l, true)?;
        for (o, &i) in out.chunks_exact_mut(l).zip(idx) {
            self.check_window(i)?;
            scale_into(self.window(i), scaler, o);
        }
        Ok(())
    }
}

/// An error unless a buffer of `got` values holds `n` windows of `per` values: a batch buffer
/// (`per` = the window length) or, with `!batch`, a beat feature buffer.
fn check_buffer(got: usize, n: usize, per: usize, batch: bool) -> Result<()> {
    if got == n * per {
        return Ok(());
    }
    let need = n * per;
    Err(DatasetError::Config(if batch {
        format!("batch buffer holds {got} values, {n} windows of {per} need {need}")
    } else {
        format!("beat feature buffer holds {got} values, {n} windows need {need}")
    }))
}

/// The record names of `summary` and the byte range of each one's signal inside `bytes`
/// (the safetensors file at `path`); an error for a missing signal or one that is not a 1-D
/// f32 tensor.
fn signal_ranges(
    bytes: &SignalBytes,
    summary: &Summary,
    path: &Path,
) -> Result<(Vec<String>, Vec<ByteRange>)> {
    let st = SafeTensors::deserialize(bytes.bytes())
        .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
    let base = bytes.bytes().as_ptr() as usize;
    let mut names = Vec::new();
    let mut ranges = Vec::new();
    for r in &summary.records {
        let t = st.tensor(&r.record).map_err(|_| {
            DatasetError::invalid(path, format!("no signal for record {}", r.record))
        })?;
        if t.dtype() != Dtype::F32 || t.shape().len() != 1 {
            return Err(DatasetError::invalid(
                path,
                format!("signal {} is not a 1-D f32 tensor", r.record),
            ));
        }
        let start = t.data().as_ptr() as usize - base;
        names.push(r.record.clone());
        ranges.push((start, start + t.data().len()));
    }
    Ok((names, ranges))
}

/// The columns of `beats.parquet` that [`Dataset`] keeps, checked row by row.
struct BeatColumns {
    record: Vec<u16>,
    centre: Vec<i64>,
    sample: Vec<i64>,
    symbol: Vec<String>,
    label: Vec<u8>,
    side: Vec<Side>,
    rr: Option<Vec<RrIntervals>>,
}

impl BeatColumns {
    /// Reads the beat index at `path`: records must be among `names`, classes below
    /// `n_classes`, splits valid, and centres, samples and classes not null.
    fn read(path: &Path, names: &[String], n_classes: usize) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
        let df = ParquetReader::new(f)
            .finish()
            .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
        let record = record_column(&df, names, path)?;
        let centre = int_column(&df, "centre", path)?;
        let sample = int_column(&df, "sample", path)?;
        let label = label_column(&df, n_classes as i64, path)?;
        let symbol: Vec<String> = str_column(&df, "symbol", path)?
            .iter()
            .map(|s| s.unwrap_or("?").to_owned())
            .collect();
        let side = str_column(&df, "split", path)?
            .iter()
            .enumerate()
            .map(|(row, s)| {
                s.and_then(Side::parse).ok_or_else(|| {
                    DatasetError::invalid(path, format!("row {row}: bad split value"))
                })
            })
            .collect::<Result<Vec<Side>>>()?;
        let rr = read_rr(&df, path)?;
        Ok(Self {
            record,
            centre,
            sample,
            symbol,
            label,
            side,
            rr,
        })
    }
}

/// An error naming `path` for a polars failure.
fn polars_error(path: &Path) -> impl Fn(polars::error::PolarsError) -> DatasetError + '_ {
    move |e| DatasetError::invalid(path, e.to_string())
}

/// String column `name` of `df` (the file at `path`).
fn str_column<'a>(df: &'a DataFrame, name: &str, path: &Path) -> Result<&'a StringChunked> {
    column(df, name, path)?.str().map_err(polars_error(path))
}

/// The `record` column as indices into `names`.
fn record_column(df: &DataFrame, names: &[String], path: &Path) -> Result<Vec<u16>> {
    let index: HashMap<&str, u16> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u16))
        .collect();
    let rec_col = str_column(df, "record", path)?;
    let mut record = Vec::with_capacity(df.height());
    for (row, r) in rec_col.iter().enumerate() {
        let r = r.unwrap_or("");
        record.push(*index.get(r).ok_or_else(|| {
            DatasetError::invalid(
                path,
                format!("row {row}: record `{r}` is not in {SUMMARY_FILE}"),
            )
        })?);
    }
    Ok(record)
}

/// Integer column `name` as i64, with no nulls.
fn int_column(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<i64>> {
    let bad = polars_error(path);
    let c = column(df, name, path)?
        .cast(&DataType::Int64)
        .map_err(&bad)?;
    let ca = c.i64().map_err(&bad)?;
    ca.iter()
        .enumerate()
        .map(|(row, v)| {
            v.ok_or_else(|| DatasetError::invalid(path, format!("row {row}: `{name}` is null")))
        })
        .collect()
}

/// The `class` column as labels, each in `0..n_classes`.
fn label_column(df: &DataFrame, n_classes: i64, path: &Path) -> Result<Vec<u8>> {
    int_column(df, "class", path)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| {
            if (0..n_classes).contains(&v) {
                Ok(v as u8)
            } else {
                Err(DatasetError::invalid(
                    path,
                    format!("row {row}: class {v} out of range"),
                ))
            }
        })
        .collect()
}

/// An error for the first window (`record`, `centre` per row) of `window` points that reaches
/// past its record's signal (byte `ranges` of f32 data).
fn check_windows_fit(
    record: &[u16],
    centre: &[i64],
    ranges: &[ByteRange],
    window: usize,
    path: &Path,
) -> Result<()> {
    let half = (window / 2) as i64;
    for (row, (&r, &c)) in record.iter().zip(centre).enumerate() {
        let (a, b) = ranges[usize::from(r)];
        let len = ((b - a) / 4) as i64;
        if c - half < 0 || c + half > len {
            return Err(DatasetError::invalid(
                path,
                format!("row {row}: window at {c} does not fit its record"),
            ));
        }
    }
    Ok(())
}

/// The four RR columns, all or none; a value must be finite and not negative.
fn read_rr(df: &DataFrame, path: &Path) -> Result<Option<Vec<RrIntervals>>> {
    const NAMES: [&str; 4] = ["rr_pre", "rr_post", "rr_local", "rr_average"];
    let present = NAMES.iter().filter(|n| df.column(n).is_ok()).count();
    if present == 0 {
        return Ok(None);
    }
    let bad = |e: polars::error::PolarsError| DatasetError::invalid(path, e.to_string());
    let mut cols: Vec<Vec<f32>> = Vec::with_capacity(NAMES.len());
    for name in NAMES {
        let c = column(df, name, path)?
            .cast(&DataType::Float32)
            .map_err(bad)?;
        let v = c
            .f32()
            .map_err(bad)?
            .iter()
            .enumerate()
            .map(|(row, v)| match v {
                Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
                Some(v) => Err(DatasetError::invalid(
                    path,
                    format!("row {row}: `{name}` = {v} is not a valid interval"),
                )),
                None => Err(DatasetError::invalid(
                    path,
                    format!("row {row}: `{name}` is null"),
                )),
            })
            .collect::<Result<Vec<f32>>>()?;
        cols.push(v);
    }
    Ok(Some(
        (0..df.height())
            .map(|i| RrIntervals {
                pre: cols[0][i],
                post: cols[1][i],
                local: cols[2][i],
                average: cols[3][i],
            })
            .collect(),
    ))
}

/// `dst = (src - mean) / std`, in f32 (the one definition of a scaled window).
pub fn scale_into(src: &[f32], scaler: &Scaler, dst: &mut [f32]) {
    let (m, inv) = (scaler.mean as f32, (1.0 / scaler.std) as f32);
    for (d, s) in dst.iter_mut().zip(src) {
        *d = (*s - m) * inv;
    }
}

/// Memory-maps `file`; falls back to reading it when mapping fails.
#[allow(unsafe_code)]
fn map_or_read(file: &std::fs::File, path: &Path) -> Result<SignalBytes> {
    // SAFETY: the mapping is read-only and private to this process. The dataset folder is
    // written once, atomically, by `write_dataset`, and never modified in place afterwards
    // (a re-prepare renames a new folder over it, leaving this inode intact).
    match unsafe { memmap2::Mmap::map(file) } {
        Ok(m) => Ok(SignalBytes::Mapped(m)),
        Err(e) => {
            tracing::debug!(error = %e, "mmap failed, reading instead");
            std::fs::read(path)
                .map(SignalBytes::Owned)
                .map_err(|e| DatasetError::io(path, e))
        }
    }
}
