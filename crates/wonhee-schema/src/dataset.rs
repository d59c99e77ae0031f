//! A prepared dataset's files: the preparation settings ([`PrepareConfig`]: lead, rate, window,
//! class scheme, split) and `summary.json` ([`Summary`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use wonhee_signal::Scaler;

use crate::error::{Result, SchemaError};

/// Per-record standardized signals at the target rate, one f32 tensor per record.
pub const SIGNALS_FILE: &str = "signals.safetensors";
/// The second lead of each record (see [`PrepareConfig::second_lead`]), one f32 tensor per
/// record, standardized as the first; only in datasets prepared with it.
pub const SIGNALS2_FILE: &str = "signals2.safetensors";
/// Beat index file name.
pub const BEATS_FILE: &str = "beats.parquet";
/// Summary file name.
pub const SUMMARY_FILE: &str = "summary.json";
/// Materialized windows file name.
pub const WINDOWS_FILE: &str = "windows.safetensors";

/// How beat symbols map to classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClassScheme {
    /// AAMI EC57's five classes: N = N,L,R,e,j; S = A,a,J,S; V = V,E; F = F; Q = /,f,Q.
    #[default]
    Aami5,
    /// Six classes: as `Aami5`, with paced beats (`/`) in their own class P (the WonHEE paper's
    /// class-distribution figure); Q keeps `f` and `Q`.
    Aami6,
}

impl ClassScheme {
    /// From the number of classes (5 or 6).
    pub fn from_count(n: usize) -> Option<Self> {
        match n {
            5 => Some(Self::Aami5),
            6 => Some(Self::Aami6),
            _ => None,
        }
    }

    /// Class names in label order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Self::Aami5 => &["N", "S", "V", "F", "Q"],
            Self::Aami6 => &["N", "S", "V", "F", "Q", "P"],
        }
    }

    /// Number of classes.
    pub fn len(self) -> usize {
        self.names().len()
    }

    /// Always false (there are classes); for clippy's `len` convention.
    pub fn is_empty(self) -> bool {
        false
    }

    /// Class index of a beat symbol; `None` for non-beat annotations (rhythm, noise, ...).
    pub fn label(self, symbol: &str) -> Option<u8> {
        Some(match symbol {
            "N" | "L" | "R" | "e" | "j" => 0,
            "A" | "a" | "J" | "S" => 1,
            "V" | "E" => 2,
            "F" => 3,
            "/" if self == Self::Aami6 => 5,
            "/" | "f" | "Q" => 4,
            _ => return None,
        })
    }
}

/// Which split to make.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitKind {
    /// Random split over beats, stratified by class (the WonHEE paper's protocol; optimistic,
    /// since neighbouring windows of one patient land on both sides).
    Paper {
        /// Fraction of each class's beats that go to the test side (0.2 in the paper).
        test_fraction: f64,
    },
    /// DS1 -> train, DS2 -> test, paced records excluded.
    InterPatient,
    /// Records shuffled (seeded) into `k` folds; paced records excluded.
    RecordFolds {
        /// Number of folds.
        k: usize,
    },
}

impl Default for SplitKind {
    fn default() -> Self {
        Self::Paper { test_fraction: 0.2 }
    }
}

impl SplitKind {
    /// Short name: `paper`, `inter-patient` or `record-folds`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Paper { .. } => "paper",
            Self::InterPatient => "inter-patient",
            Self::RecordFolds { .. } => "record-folds",
        }
    }
}

/// Where one beat (or record) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Side {
    /// Training data.
    Train,
    /// Test data.
    Test,
    /// Fold `k` of a record-folds split.
    Fold(u8),
}

impl Side {
    /// `train`, `test` or `fold<k>`.
    pub fn name(&self) -> String {
        match self {
            Self::Train => "train".into(),
            Self::Test => "test".into(),
            Self::Fold(k) => format!("fold{k}"),
        }
    }

    /// Parses a name written by [`Side::name`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "train" => Some(Self::Train),
            "test" => Some(Self::Test),
            _ => s
                .strip_prefix("fold")
                .and_then(|k| k.parse().ok())
                .map(Self::Fold),
        }
    }
}

/// Resampling method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResampleMethod {
    /// Polyphase FIR (`scipy.signal.resample_poly`), the default.
    #[default]
    Poly,
    /// FFT (`scipy.signal.resample`, the original WonHEE code's choice).
    Fft,
}

/// Everything that determines a prepared dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrepareConfig {
    /// Target sampling rate (Hz).
    pub fs: u32,
    /// Window length in samples at `fs` (640 = 5 s at 128 Hz), centred on each beat.
    pub window: usize,
    /// Lead to use, by signal description; records without it use signal 0 (recorded).
    pub lead: String,
    /// Resampling method.
    pub resample: ResampleMethod,
    /// Class scheme.
    pub classes: ClassScheme,
    /// Split.
    pub split: SplitKind,
    /// Seed of every random choice (splits, folds).
    pub seed: u64,
    /// Remove baseline wander (two median filters) before resampling. Off in the paper.
    pub remove_baseline: bool,
    /// Zero-phase band-pass `[low, high]` Hz before resampling. Off in the paper.
    pub bandpass: Option<[f64; 2]>,
    /// Also store each record's second lead (its first signal other than the lead used),
    /// processed the same way, for models that read two leads (`model.second_lead`). Left out
    /// of the written summary when off, so datasets prepared before it existed still match.
    #[serde(skip_serializing_if = "is_false")]
    pub second_lead: bool,
}

/// `true` for `false` (serde's `skip_serializing_if` for options that are off by default).
fn is_false(v: &bool) -> bool {
    !*v
}

impl Default for PrepareConfig {
    fn default() -> Self {
        Self {
            fs: 128,
            window: 640,
            lead: "MLII".into(),
            resample: ResampleMethod::Poly,
            classes: ClassScheme::Aami5,
            split: SplitKind::default(),
            seed: 42,
            remove_baseline: false,
            bandpass: None,
            second_lead: false,
        }
    }
}

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
    /// The second lead stored (with [`PrepareConfig::second_lead`]): its description, signal
    /// index, z-score and invalid samples filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_lead: Option<SecondLead>,
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

/// The second lead of a record (see [`RecordSummary::second_lead`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecondLead {
    /// Description of the lead.
    pub lead: String,
    /// Its signal index.
    pub lead_index: usize,
    /// The record's own mean and std used for its z-score (physical units).
    pub zscore: Scaler,
    /// Invalid samples replaced by linear interpolation.
    pub nan_filled: usize,
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
    /// Empty counts for `n_classes` classes.
    pub fn new(n_classes: usize) -> Self {
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

impl Summary {
    /// Reads and checks `summary.json` (its format version included).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| SchemaError::io(path, e))?;
        let summary: Summary = serde_json::from_slice(&text)
            .map_err(|e| SchemaError::file(path, format!("not a dataset summary: {e}")))?;
        if summary.format_version != FORMAT_VERSION {
            return Err(SchemaError::file(
                path,
                format!(
                    "format version {} (this build reads {FORMAT_VERSION}); run `wonhee prepare` again",
                    summary.format_version
                ),
            ));
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let s = ClassScheme::Aami5;
        for (sym, c) in [
            ("N", 0),
            ("L", 0),
            ("R", 0),
            ("e", 0),
            ("j", 0),
            ("A", 1),
            ("a", 1),
            ("J", 1),
            ("S", 1),
            ("V", 2),
            ("E", 2),
            ("F", 3),
            ("/", 4),
            ("f", 4),
            ("Q", 4),
        ] {
            assert_eq!(s.label(sym), Some(c), "{sym}");
        }
        for sym in [
            "+", "~", "|", "x", "!", "\"", "[", "]", "p", "t", "u", "n", "B",
        ] {
            assert_eq!(s.label(sym), None, "{sym}");
        }
        assert_eq!(ClassScheme::Aami6.label("/"), Some(5));
        assert_eq!(ClassScheme::Aami6.label("f"), Some(4));
        assert_eq!(ClassScheme::from_count(6), Some(ClassScheme::Aami6));
        assert_eq!(ClassScheme::from_count(4), None);
    }
}
