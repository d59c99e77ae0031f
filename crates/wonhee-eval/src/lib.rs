//! Evaluation for WonHEE-rs: classification metrics with bootstrap intervals, AAMI EC57 gross
//! statistics, masked imputation/forecasting errors next to baselines, the seeded masks that
//! training and evaluation share, and the `metrics.json` report.
//!
//! Plain slices in, serde-serializable reports out: no tensors, no data frames, no files except
//! [`Metrics::write_json`]. The JSON schema is documented in `docs/metrics-schema.md`.
//!
//! ```
//! use rand::SeedableRng;
//! use wonhee_eval::{
//!     Bootstrap, EvalProtocol, ForecastEval, ImputationEval, Metrics, classification_report,
//! };
//!
//! // Classification: labels in, report with 95% bootstrap intervals out.
//! let names: Vec<String> = ["N", "S", "V", "F", "Q"].iter().map(|s| s.to_string()).collect();
//! let y_true = [0u8, 0, 0, 1, 1, 2, 2, 3, 0, 4];
//! let y_pred = [0u8, 0, 1, 1, 0, 2, 2, 3, 0, 4];
//! let boot = Bootstrap { resamples: 200, seed: 7, level: 0.95 };
//! let cls = classification_report(&y_true, &y_pred, &names, None, &boot)?;
//! assert_eq!(cls.accuracy.value, Some(0.8));
//!
//! // Imputation and forecasting on the same windows and masks as the baselines.
//! let proto = EvalProtocol::new(42);
//! let window: Vec<f32> = (0..640).map(|i| (i as f32 * 0.1).sin()).collect();
//! let mut imp = ImputationEval::new(200);
//! let mask = proto.imputation_mask(640, 200, 0)?; // window id 0
//! let model_pred = vec![0.0f32; 640]; // the model's output (only hidden points are read)
//! imp.push(&window, &mask, &model_pred, Some(0.5), None)?;
//! let mut fc = ForecastEval::new(200);
//! let mask = proto.forecast_mask(640, 200)?;
//! fc.push(&window, &mask, &model_pred, 63, Some(0.5), None)?;
//!
//! let mut metrics = Metrics::new();
//! metrics.classification = Some(cls);
//! metrics.imputation.push(imp.finish(&boot)?);
//! metrics.forecasting.push(fc.finish(&boot)?);
//! let json = metrics.to_json_pretty()?;
//! assert_eq!(Metrics::from_json(&json)?, metrics);
//! assert!(metrics.to_markdown().contains("| Accuracy |"));
//! # Ok::<(), wonhee_eval::EvalError>(())
//! ```
//!
//! Conventions:
//! - a ratio whose denominator is zero (e.g. sensitivity of a class with no support) is `None`
//!   (`null` in JSON), never NaN; averages over classes skip undefined members;
//! - intervals are percentile bootstrap intervals; resample `b` draws from its own ChaCha8
//!   stream (`seed`, stream `b`), so results do not depend on the number of threads;
//! - masks are `bool` slices, `true` = hidden (the model must not see the value);
//! - errors are computed on hidden points only and pooled over points.
//!
//! For callers (the trainer, `wonhee eval`):
//! - masks: training draws K with [`draw_k`] and hides points with [`random_mask`] /
//!   [`trailing_mask`] (the one masks module of the workspace); evaluation uses [`EvalProtocol`], whose imputation mask depends only on
//!   (seed, K, window id), so `wonhee impute` can rebuild the exact mask of a test window;
//! - `scale_mv` is per window: mV per standardized unit, i.e. the record's std (mV) times the
//!   train-set scaler's std; give it for every window or none (then the `*_mv` fields are null);
//! - `group` (e.g. record index) switches the bootstrap to whole groups; use it for the
//!   inter-patient split, where beats of one record are strongly correlated;
//! - [`ForecastEval::push`] needs the RR interval (samples at the window's rate) for the
//!   previous-beat baseline; 0 or too long makes it fall back to the last value (counted);
//! - AAMI gross statistics leave out beats whose true class is not N, S, V or F and count
//!   N/S/V/F beats predicted as such a class as misses; see [`AamiGross`];
//! - beat-by-beat comparison of annotation sets as the WFDB tool `bxb` does it (ANSI/AAMI EC57:
//!   match window, class matrix, QRS/VEB/SVEB statistics, gross and average over records):
//!   [`compare_beats`], [`Ec57Summary`].

mod baselines;
mod bootstrap;
mod classification;
mod ec57;
mod errors;
mod masks;
mod report;
mod tasks;

pub use baselines::{last_value, linear_fill, mean_fill, naive_scale, previous_beat, zero_fill};
pub use bootstrap::{Bootstrap, BootstrapInfo, Estimate, Unit};
pub use classification::{
    AamiClass, AamiGross, ClassMetrics, ClassificationReport, GroupConfusion,
    classification_report, classification_report_from_confusion,
};
pub use ec57::{
    Ec57Annotation, Ec57Class, Ec57Counts, Ec57Label, Ec57Matrix, Ec57Options, Ec57Record,
    Ec57Stats, Ec57Summary, MATRIX_LABELS, PACED_RECORDS, SymbolMap, beat_class, compare_beats,
    ec57_label,
};
pub use errors::{ErrorAccumulator, ErrorStats, WindowErrors, masked_errors};
pub use masks::{EVAL_KS, EvalProtocol, draw_k, random_mask, trailing_mask};
pub use report::{Metrics, SCHEMA_VERSION};
pub use tasks::{ForecastEval, ForecastReport, ImputationEval, ImputationReport};

use std::path::PathBuf;

/// Errors of this crate; each message names the input and the place (index, window, file).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Two inputs that must have the same length do not.
    #[error("{what}: expected length {expected}, got {got}")]
    LengthMismatch {
        /// Which input (and where).
        what: String,
        /// Required length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A class label outside `0..n_classes`.
    #[error("{what}[{index}] = {label} is not a class index (there are {n_classes} classes)")]
    InvalidLabel {
        /// Which input.
        what: &'static str,
        /// Position in the input.
        index: usize,
        /// The offending label.
        label: u8,
        /// Number of class names given.
        n_classes: usize,
    },
    /// A NaN or infinite value where a finite one is required.
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        /// Which input (and where).
        what: String,
        /// Position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A mask that cannot be used (wrong number of hidden points, nothing observed, ...).
    #[error("invalid mask: {0}")]
    InvalidMask(String),
    /// A parameter outside its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An error inside one pushed window; `place` names the task, K and the push number.
    #[error("{place}: {source}")]
    At {
        /// Where (e.g. `imputation K=200, window #17`).
        place: String,
        /// The error.
        source: Box<EvalError>,
    },
    /// JSON that does not follow the metrics schema.
    #[error("{place}: {source}")]
    Json {
        /// The file, or `<string>`.
        place: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Checks that every value of `xs` is finite; the error names `what` and the index.
pub(crate) fn check_finite(what: impl Fn() -> String, xs: &[f32]) -> Result<()> {
    match xs.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(EvalError::NonFinite {
            what: what(),
            index: i,
            value: f64::from(xs[i]),
        }),
    }
}
