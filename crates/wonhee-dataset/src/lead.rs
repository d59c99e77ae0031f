//! One lead of any recording (a CSV, an EDF file, a WFDB record at any rate) processed as
//! [`crate::prepare`] processes MIT-BIH's leads, so that a trained model sees what it was
//! trained on: missing samples bridged, z-scored with the lead's own statistics, resampled to
//! the model's rate; beats placed on the resampled lead.

use std::path::Path;

use wonhee_schema::PrepareConfig;
use wonhee_signal::filter::{BandPass, remove_baseline};
use wonhee_signal::{PolyphaseResampler, Scaler, fill_nan_linear, zscore};

use crate::error::{DatasetError, Result};

/// A lead ready for the model.
#[derive(Clone, Debug)]
pub struct ProcessedLead {
    /// The lead z-scored and resampled to `cfg.fs` (no train scaler).
    pub signal: Vec<f32>,
    /// Its z-score, in the input's units.
    pub zscore: Scaler,
    /// Missing samples bridged by linear interpolation.
    pub nan_filled: usize,
    /// The resampling ratio `up / down` from the input's rate to `cfg.fs`.
    pub up: usize,
    /// See `up`.
    pub down: usize,
}

/// The whole numbers `(up, down)` with `fs_out / fs_in = up / down`: `fs_in` must be a whole
/// number of Hz or a ratio with a denominator up to 20 (e.g. 360.5 Hz), to 1e-9 (larger ones would need
/// very long resampling filters).
pub fn rate_ratio(fs_in: f64, fs_out: f64) -> Option<(usize, usize)> {
    if !(fs_in.is_finite() && fs_in > 0.0 && fs_out.fract() == 0.0 && fs_out >= 1.0) {
        return None;
    }
    (1..=20usize).find_map(|q| {
        let p = fs_in * q as f64;
        let r = p.round();
        ((p - r).abs() <= 1e-9 * p && r >= 1.0).then(|| (fs_out as usize * q, r as usize))
    })
}

/// The z-score (with `cfg`'s filters first) of physical values `x` at `fs` Hz, missing values
/// (NaN) bridged first; returns the z-score and the number of values filled. `what` and
/// `prefix` name the input in errors.
pub(crate) fn standardize_physical(
    x: &mut Vec<f64>,
    fs: f64,
    cfg: &PrepareConfig,
    what: &Path,
    prefix: &str,
) -> Result<(Scaler, usize)> {
    let nan_filled =
        fill_nan_linear(x).map_err(|e| DatasetError::invalid(what, format!("{prefix}{e}")))?;
    if cfg.remove_baseline {
        *x = remove_baseline(x, fs);
    }
    if let Some([lo, hi]) = cfg.bandpass {
        BandPass::new(lo, hi, fs)
            .map_err(|e| DatasetError::Config(e.to_string()))?
            .apply(x);
    }
    let z = zscore(x).map_err(|e| DatasetError::invalid(what, format!("{prefix}{e}")))?;
    Ok((z, nan_filled))
}

/// Processes lead `x` (physical units, NaN where missing) sampled at `fs_in` Hz as
/// [`crate::prepare`] processes a record's lead (its physical path; `cfg.resample` must be
/// `poly`). `what` names the input in errors: a lead with no finite sample, a constant lead, a
/// rate that is not a small ratio, a lead shorter than one window once resampled.
pub fn process_lead(
    x: &[f32],
    fs_in: f64,
    cfg: &PrepareConfig,
    what: &Path,
) -> Result<ProcessedLead> {
    let (up, down) = rate_ratio(fs_in, f64::from(cfg.fs)).ok_or_else(|| {
        DatasetError::invalid(
            what,
            format!("sampling rate {fs_in} Hz: not a whole number of Hz (nor a ratio p/q with q <= 20); cannot resample"),
        )
    })?;
    let resampler =
        PolyphaseResampler::new(up, down).map_err(|e| DatasetError::Config(e.to_string()))?;
    let n_out = resampler.output_len(x.len());
    if n_out < cfg.window {
        return Err(DatasetError::invalid(
            what,
            format!(
                "{:.1} s of signal, shorter than one {:.1}-second window",
                x.len() as f64 / fs_in,
                cfg.window as f64 / f64::from(cfg.fs)
            ),
        ));
    }
    let mut v: Vec<f64> = x.iter().map(|&s| f64::from(s)).collect();
    let (zscore, nan_filled) = standardize_physical(&mut v, fs_in, cfg, what, "")?;
    let mut signal = vec![0f32; n_out];
    resampler.process_f32_map_into(&v, |s| s as f32, &mut signal);
    Ok(ProcessedLead {
        signal,
        zscore,
        nan_filled,
        up,
        down,
    })
}

/// Where the window of the beat at input sample `sample` is centred on the resampled lead:
/// `sample * up / down`, rounded half to even (as [`crate::prepare`] places MIT-BIH's beats).
pub fn window_centre(sample: i64, up: usize, down: usize) -> i64 {
    crate::prepare::div_round_even(i128::from(sample) * up as i128, down as i128)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rates_become_small_ratios() {
        assert_eq!(rate_ratio(360.0, 128.0), Some((128, 360)));
        assert_eq!(rate_ratio(250.0, 128.0), Some((128, 250)));
        assert_eq!(rate_ratio(360.5, 128.0), Some((256, 721)));
        assert_eq!(rate_ratio(1.0 / 0.004, 128.0), Some((128, 250)));
        assert_eq!(rate_ratio(std::f64::consts::PI * 100.0, 128.0), None);
        assert_eq!(rate_ratio(0.0, 128.0), None);
        assert_eq!(rate_ratio(f64::NAN, 128.0), None);
    }

    #[test]
    fn centres_round_half_to_even() {
        assert_eq!(window_centre(360, 128, 360), 128);
        // 45 * 128 / 360 = 16 exactly; 1 * 128 / 256 = 0.5 -> 0; 3 * 128 / 256 = 1.5 -> 2.
        assert_eq!(window_centre(45, 128, 360), 16);
        assert_eq!(window_centre(1, 128, 256), 0);
        assert_eq!(window_centre(3, 128, 256), 2);
    }

    #[test]
    fn a_lead_is_z_scored_resampled_and_checked() {
        let cfg = PrepareConfig::default();
        let fs = 250.0;
        let mut x: Vec<f32> = (0..2500)
            .map(|i| (i as f32 * 0.05).sin() * 2.0 + 1.0)
            .collect();
        x[100..120].fill(f32::NAN);
        let p = process_lead(&x, fs, &cfg, Path::new("in.csv")).unwrap();
        assert_eq!((p.up, p.down), (128, 250));
        assert_eq!(p.nan_filled, 20);
        assert_eq!(p.signal.len(), 1280);
        let mean = p.signal.iter().map(|&v| f64::from(v)).sum::<f64>() / 1280.0;
        assert!(mean.abs() < 0.05, "{mean}");
        let short = process_lead(&x[..1000], fs, &cfg, Path::new("in.csv")).unwrap_err();
        assert!(
            short.to_string().contains("in.csv") && short.to_string().contains("4.0 s"),
            "{short}"
        );
        let flat = process_lead(&[1.0; 5000], fs, &cfg, Path::new("flat.csv")).unwrap_err();
        assert!(flat.to_string().contains("flat.csv"), "{flat}");
        let odd = process_lead(&x, 333.333, &cfg, Path::new("odd.edf")).unwrap_err();
        assert!(
            odd.to_string().contains("odd.edf") && odd.to_string().contains("333.333"),
            "{odd}"
        );
    }
}
