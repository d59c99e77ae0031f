//! MIT-BIH beat windows for WonHEE: labels, splits, sampling and storage.
//!
//! ```no_run
//! use wonhee_dataset::{Dataset, PrepareConfig, Side, WeightedSampler, prepare, read_record_list, write_dataset};
//!
//! # fn main() -> Result<(), wonhee_dataset::DatasetError> {
//! let dir = std::path::Path::new("../shared/data/mitdb");
//! let names = read_record_list(dir)?;
//! let prepared = prepare(dir, &names, &PrepareConfig::default(), &|| ())?;
//! write_dataset(&prepared, "prepared".as_ref(), false, true)?;
//!
//! let ds = Dataset::open("prepared")?;
//! let train = ds.indices(Side::Train);
//! let mut sampler = WeightedSampler::class_balanced(train, ds.labels(), ds.class_names().len(), 0).unwrap();
//! let batch = sampler.sample(128);
//! let mut x = vec![0f32; batch.len() * ds.window_len()];
//! ds.fill_batch(&batch, &ds.scaler(None)?, &mut x)?;
//! # Ok(()) }
//! ```
//!
//! The data path: read the lead named MLII (signal 0 where a record has none, recorded in the
//! summary) -> per-record z-score -> resample 360 -> 128 Hz (polyphase by default) -> one
//! 640-point window centred on each beat (`c = round(s * 128 / 360)`, window `[c - 320,
//! c + 320)`; beats whose window does not fit are dropped and counted) -> AAMI class -> split ->
//! train-set scaler (fitted on training windows only, applied when a batch is filled).
//!
//! Windows are never stored: each record's signal is stored once and a window is a slice of it.
//!
//! Each beat also carries its RR intervals ([`RrIntervals`]: pre, post, local and 5-minute
//! average, from all the record's beats), stored in `beats.parquet`; [`Dataset::fill_rhythm`]
//! gives a classifier their scale-free log ratios; [`beat_context`] adds patient-relative
//! features (RR irregularity, the beat against the record's median beat), computed from the
//! stored signals ([`Dataset::fill_features`]).

mod context;
mod error;
mod lead;
mod prepare;
mod prepared;
mod reader;
mod rhythm;
mod sampler;
mod splits;
mod writer;

pub use context::{
    BEAT_FEATURE_WIDTHS, BEAT_FEATURES, CONTEXT_FEATURES, LEAD2_FEATURES, MIN_TEMPLATE_BEATS,
    TIMING_FEATURES, TYPICAL_SHAPE, beat_context, lead2_shape, window_context,
};
pub use error::{DatasetError, Result};
pub use lead::{ProcessedLead, process_lead, rate_ratio, window_centre};
pub use prepare::{RecordWindows, prepare, prepare_record, prepare_to, read_record_list};
pub use prepared::{BeatTable, Prepared};
pub use reader::{Dataset, scale_into};
pub use rhythm::{RHYTHM_FEATURES, RrIntervals, rr_intervals};
pub use sampler::{RngState, Shuffler, WeightedSampler, class_balanced_sample};
pub use splits::{DS1, DS2, PACED, record_sides, stratified_sides};
/// The dataset's file schemas and settings, from [`wonhee_schema`] (shared with their readers).
pub use wonhee_schema::{
    BEATS_FILE, ClassCounts, ClassScheme, FORMAT_VERSION, InputFile, OverlapStats, PrepareConfig,
    RecordSummary, ResampleMethod, SIGNALS_FILE, SIGNALS2_FILE, SUMMARY_FILE, SecondLead, Side,
    SideSummary, SplitKind, Summary, WINDOWS_FILE,
};
pub use writer::write_dataset;
