//! Signal processing for WonHEE-rs: resampling and standardization of ECG signals.
//!
//! ```
//! use wonhee_signal::{PolyphaseResampler, zscore};
//!
//! // 10 s of a 1 Hz sine at 360 Hz, resampled to 128 Hz as in the WonHEE data path.
//! let mut x: Vec<f64> = (0..3600).map(|i| (i as f64 / 360.0 * std::f64::consts::TAU).sin()).collect();
//! zscore(&mut x).unwrap();
//! let r = PolyphaseResampler::new(128, 360).unwrap(); // reduced to 16 / 45
//! let y = r.process(&x);
//! assert_eq!(y.len(), 1280);
//! ```
//!
//! - [`PolyphaseResampler`] / [`resample_poly`]: `scipy.signal.resample_poly` semantics
//!   (Kaiser-windowed FIR, beta 5, zero padding, output length `ceil(n * up / down)`); agrees
//!   with scipy to ~1e-15 (tests keep scipy's numbers); `process_f32_into` runs the same filter
//!   in f32, about twice as fast, within ~1e-7 of the signal's range.
//! - [`resample_fft`]: `scipy.signal.resample` (the original WonHEE code's choice), on rustfft.
//! - [`zscore`], [`integer_mean_std`], [`Scaler`], [`Accumulator`]: per-record z-score (exact for
//!   integer samples) and a scaler fitted on training
//!   data only.
//! - [`filter`]: optional baseline-wander removal and band-pass filtering (off by default).
//!
//! This crate knows nothing of files, WFDB or beats: it maps slices of samples to slices.

pub mod filter;
mod resample;
mod standardize;

pub use resample::{PolyphaseResampler, firwin_kaiser, kaiser, resample_fft, resample_poly};
pub use standardize::{Accumulator, Scaler, fill_nan_linear, integer_mean_std, zscore};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// A parameter outside its valid range (e.g. a zero resampling factor).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Input that cannot be processed (e.g. a flat or all-NaN signal).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}
