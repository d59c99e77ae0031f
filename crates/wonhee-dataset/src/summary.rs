//! `summary.json`: what a prepared dataset holds and how it was made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wonhee_signal::Scaler;

use crate::prepare::PrepareConfig;

/// Version of the on-disk layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Counts per class name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassCounts(pub BTreeMap<String, usize>);

impl ClassCounts {
    /// Pairs names with counts.
    pub fn new(names: &[String], counts: &[usize]) -> Self {
        Self(names.iter().cloned().zip(counts.iter().copied()).collect())
    }

    /// Sum over classes.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// One record's processing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordSummary {
    /// Record name.
    pub record: String,
    /// Description of the lead used.
    pub lead: String,
    /// Signal index of the lead used.
    pub lead_index: usize,
    /// Whether the requested lead was found (false: signal 0 was used instead).
    pub lead_found: bool,
    /// Original sampling rate (Hz).
    pub fs: f64,
    /// Samples at the original rate.
    pub n_samples: usize,
    /// Samples at the target rate.
    pub n_resampled: usize,
    /// The record's own mean and std used for its z-score (physical units).
    pub zscore: Scaler,
    /// Invalid samples replaced by linear interpolation.
    pub nan_filled: usize,
    /// Beats per class (label order).
    pub beats: Vec<usize>,
    /// Windows kept per class.
    pub windows: Vec<usize>,
    /// Beats dropped per class because their window does not fit in the record.
    pub dropped: Vec<usize>,
    /// Side of a record-level split (`train`, `test`, `fold<k>`); absent when excluded, and
    /// `train` for every record under the paper split (whose sides are per beat).
    pub side: Option<String>,
}

/// Counts of one split side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    /// Windows on this side.
    pub windows: usize,
    /// Windows per class (label order).
    pub per_class: Vec<usize>,
    /// Records with at least one window on this side.
    pub records: Vec<String>,
}

impl SideSummary {
    pub(crate) fn new(n_classes: usize) -> Self {
        Self {
            windows: 0,
            per_class: vec![0; n_classes],
            records: Vec::new(),
        }
    }
}

/// How much evaluation windows share with training windows of the same record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverlapStats {
    /// Windows not on the training side.
    pub eval_windows: usize,
    /// Of those, how many share at least one point with a training window.
    pub overlapping_a_training_window: usize,
    /// `overlapping_a_training_window / eval_windows`.
    pub fraction_overlapping: f64,
    /// Of those, how many share at least half their points with one training window.
    pub sharing_at_least_half: usize,
    /// Mean over evaluation windows of the largest fraction of points shared with one training
    /// window.
    pub mean_shared_fraction: f64,
}

/// A checksummed file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// Contents of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Configuration used.
    pub config: PrepareConfig,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// Windows in the index.
    pub n_windows: usize,
    /// Counts per split side (`train`, `test` or `fold<k>`).
    pub splits: BTreeMap<String, SideSummary>,
    /// Beats dropped because their window does not fit, per class.
    pub dropped: ClassCounts,
    /// Records left out by the split (paced records in the inter-patient protocol).
    pub excluded_records: Vec<String>,
    /// Records without the requested lead (signal 0 used instead).
    pub lead_fallbacks: Vec<String>,
    /// Per-record details.
    pub records: Vec<RecordSummary>,
    /// Scaler fitted on the training windows (applied to every window at batch time).
    pub scaler: Option<Scaler>,
    /// Record folds: scaler `k` is fitted on every fold except `k`.
    pub fold_scalers: Vec<Scaler>,
    /// Evaluation windows sharing points with training windows.
    pub overlap: OverlapStats,
    /// Checksums of the input files.
    pub inputs: Vec<InputFile>,
}
