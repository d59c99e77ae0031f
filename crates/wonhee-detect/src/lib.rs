//! QRS detection on one ECG lead at any sampling rate from 100 Hz to 1 kHz: slices in, beat
//! positions (sample indices) out.
//!
//! Work in progress (issue 17). Two published methods, each with its filters designed for the
//! rate: [`Method::PanTompkins`] (Pan & Tompkins, IEEE TBME 32(3), 1985: zero-phase 5-15 Hz
//! band-pass, five-point derivative, squaring, 150 ms moving-window integration, adaptive
//! signal and noise levels, search-back for missed beats, T-wave rejection) and
//! [`Method::Elgendi`] (Elgendi et al. 2010: two moving averages of the squared 8-20 Hz band),
//! the default, chosen by measuring both on MIT-BIH (docs/benchmarks.md).
//! [`Streaming`] takes the signal in chunks and reports each beat within [`LATENCY_SECONDS`]
//! (plus one step) of its sample's arrival.
//!
//! ```
//! let fs = 250.0;
//! // A crude ECG: a narrow spike every 0.8 s.
//! let x: Vec<f32> = (0..(10.0 * fs) as usize)
//!     .map(|i| if i % 200 == 100 { 1.0 } else { 0.0 })
//!     .collect();
//! let beats = wonhee_detect::detect(&x, fs, &wonhee_detect::Options::default()).unwrap();
//! assert!(beats.len() >= 11);
//! ```

mod elgendi;
mod pan_tompkins;
mod stream;

pub use elgendi::elgendi;
pub use pan_tompkins::pan_tompkins;
pub use stream::{LATENCY_SECONDS, Streaming};

/// Lowest sampling rate accepted (Hz).
pub const MIN_RATE: f64 = 100.0;
/// Highest sampling rate accepted (Hz).
pub const MAX_RATE: f64 = 1000.0;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The sampling rate is missing, not finite or outside 100..=1000 Hz.
    #[error("sampling rate {0} Hz: QRS detection needs 100 to 1000 Hz")]
    Rate(f64),
    /// The signal is too short to detect anything.
    #[error("{seconds:.2} s of signal: QRS detection needs at least 2 s")]
    TooShort {
        /// Its length in seconds.
        seconds: f64,
    },
}

/// Detection method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Elgendi et al. 2010: two moving averages of the squared 8-20 Hz band. The default: fewer
    /// errors than Pan-Tompkins on MIT-BIH's DS1 (132 against 184) and on all 48 records.
    #[default]
    Elgendi,
    /// Pan & Tompkins 1985.
    PanTompkins,
}

/// Detection options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The method.
    pub method: Method,
}

/// Why a stretch of signal is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Missing samples (NaN or infinite).
    Missing,
    /// A flat line (a lead off, a dropout): the same value for at least [`FLAT_SECONDS`].
    Flat,
}

/// A flat stretch this long (seconds) or longer counts as a dropout.
pub const FLAT_SECONDS: f64 = 1.0;

/// The stretches of `x` (at `fs` Hz) where no beat can be detected, as half-open sample ranges
/// in order: runs of missing samples, and runs of one value lasting [`FLAT_SECONDS`] or more.
pub fn unusable_stretches(x: &[f32], fs: f64) -> Vec<(std::ops::Range<usize>, Unusable)> {
    // The stretches are the maximal runs of non-finite samples, and the maximal runs of one
    // finite value at least `min_flat` long. Such a run covers two samples `h` apart at
    // multiples of `h`, so only where those are equal is the signal looked at closely.
    let min_flat = ((FLAT_SECONDS * fs).ceil() as usize).max(2);
    let h = (min_flat / 2).max(1);
    let n = x.len();
    let mut out = Vec::new();
    // Missing runs, looked for only in blocks that hold a non-finite sample.
    const BLOCK: usize = 4096;
    let mut i = 0;
    for (k, c) in x.chunks(BLOCK).enumerate() {
        if c.iter().all(|v| v.is_finite()) {
            continue;
        }
        i = i.max(k * BLOCK);
        while i < k * BLOCK + c.len() {
            if x[i].is_finite() {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && !x[i].is_finite() {
                i += 1;
            }
            out.push((start..i, Unusable::Missing));
        }
    }
    // Flat runs: one covers two equal samples at consecutive multiples of `h`.
    let mut flat_end = 0;
    let mut p = 0;
    while p + h < n {
        let v = x[p];
        if p >= flat_end && v.is_finite() && v == x[p + h] {
            let mut a = p;
            while a > 0 && x[a - 1] == v {
                a -= 1;
            }
            let mut e = p + 1;
            while e < n && x[e] == v {
                e += 1;
            }
            if e > p + h && e - a >= min_flat {
                out.push((a..e, Unusable::Flat));
                flat_end = e;
            }
        }
        p += h;
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

/// The reference [`unusable_stretches`]: one sample at a time.
#[cfg(test)]
fn unusable_stretches_serial(x: &[f32], fs: f64) -> Vec<(std::ops::Range<usize>, Unusable)> {
    let min_flat = (FLAT_SECONDS * fs).ceil() as usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        let start = i;
        if !x[i].is_finite() {
            while i < x.len() && !x[i].is_finite() {
                i += 1;
            }
            out.push((start..i, Unusable::Missing));
            continue;
        }
        while i < x.len() && x[i] == x[start] {
            i += 1;
        }
        if i - start >= min_flat.max(2) {
            out.push((start..i, Unusable::Flat));
        }
    }
    out
}

/// The sample index of every QRS complex detected in `x` (one lead at `fs` Hz), ascending,
/// placed on the complex's main deflection. Nothing is detected in or within [`EDGE_SECONDS`] of
/// an unusable stretch ([`unusable_stretches`]: missing samples, which are bridged by linear
/// interpolation, and flat dropouts); detection resumes after it.
pub fn detect(x: &[f32], fs: f64, opts: &Options) -> Result<Vec<usize>, DetectError> {
    Ok(detect_all(x, fs, opts)?.beats)
}

/// What [`detect_all`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detection {
    /// The beats, as [`detect`] gives them.
    pub beats: Vec<usize>,
    /// The stretches where nothing can be detected ([`unusable_stretches`]).
    pub unusable: Vec<(std::ops::Range<usize>, Unusable)>,
}

impl Detection {
    /// Whether no sample of an `n`-sample signal is usable.
    pub fn nothing_usable(&self, n: usize) -> bool {
        self.unusable.iter().map(|(r, _)| r.len()).sum::<usize>() == n
    }
}

/// [`detect`], also giving the unusable stretches it found (for warnings).
pub fn detect_all(x: &[f32], fs: f64, opts: &Options) -> Result<Detection, DetectError> {
    if !(fs.is_finite() && (MIN_RATE..=MAX_RATE).contains(&fs)) {
        return Err(DetectError::Rate(fs));
    }
    let seconds = x.len() as f64 / fs;
    if seconds < 2.0 {
        return Err(DetectError::TooShort { seconds });
    }
    let unusable = unusable_stretches(x, fs);
    if !x.iter().any(|v| v.is_finite()) {
        return Ok(Detection {
            beats: Vec::new(),
            unusable,
        });
    }
    let beats = match opts.method {
        Method::PanTompkins => {
            let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            // Cannot fail: `x` holds a finite sample.
            let _ = wonhee_signal::fill_nan_linear(&mut y);
            pan_tompkins(&y, fs)
        }
        Method::Elgendi => {
            elgendi::elgendi_with(x.len(), fs, elgendi::SEGMENT, &|r, out| filled(x, r, out))
        }
    };
    let beats = outside(beats, &unusable, (EDGE_SECONDS * fs).round() as usize);
    Ok(Detection { beats, unusable })
}

/// Writes `x[r]` as f64 into `out`, with every non-finite sample replaced as
/// [`wonhee_signal::fill_nan_linear`] replaces it in the whole of `x` (the same arithmetic):
/// linearly between the finite samples either side, or the nearest finite one at the ends. `x`
/// must hold a finite sample.
fn filled(x: &[f32], r: std::ops::Range<usize>, out: &mut [f64]) {
    let base = r.start;
    for (o, &v) in out.iter_mut().zip(&x[r.clone()]) {
        *o = f64::from(v);
    }
    if x[r.clone()].iter().all(|v| v.is_finite()) {
        return;
    }
    let mut i = r.start;
    while i < r.end {
        let v = x[i];
        if v.is_finite() {
            out[i - base] = f64::from(v);
            i += 1;
            continue;
        }
        let before = x[..i].iter().rposition(|v| v.is_finite());
        let after = x[i..].iter().position(|v| v.is_finite()).map(|p| i + p);
        let stop = after.unwrap_or(x.len()).min(r.end);
        for k in i..stop {
            out[k - base] = match (before, after) {
                (Some(p), Some(q)) => {
                    let (a, b) = (f64::from(x[p]), f64::from(x[q]));
                    a + (b - a) * (k - p) as f64 / (q - p) as f64
                }
                (Some(p), None) => f64::from(x[p]),
                (None, Some(q)) => f64::from(x[q]),
                (None, None) => 0.0,
            };
        }
        i = stop;
    }
}

/// Beats this close (seconds) to an unusable stretch are dropped: the step into or out of a
/// dropout looks like a QRS complex to every detector.
pub const EDGE_SECONDS: f64 = 0.15;

/// The sorted `beats` that lie more than `margin` samples outside every stretch (sorted).
fn outside(
    beats: Vec<usize>,
    stretches: &[(std::ops::Range<usize>, Unusable)],
    margin: usize,
) -> Vec<usize> {
    let mut s = stretches.iter().peekable();
    beats
        .into_iter()
        .filter(|&b| {
            while s.peek().is_some_and(|(r, _)| r.end + margin <= b) {
                s.next();
            }
            s.peek().is_none_or(|(r, _)| b + margin < r.start)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A synthetic lead at `fs`: a QRS-like biphasic pulse every `rr` seconds over a slow
    /// baseline wander, and the pulses' peak samples.
    fn synthetic(fs: f64, seconds: f64, rr: f64) -> (Vec<f32>, Vec<usize>) {
        let n = (fs * seconds) as usize;
        let mut x: Vec<f32> = (0..n)
            .map(|i| (0.3 * (std::f64::consts::TAU * 0.3 * i as f64 / fs).sin()) as f32)
            .collect();
        let mut peaks = Vec::new();
        let mut t = 0.5;
        while t < seconds - 0.5 {
            let c = (t * fs) as usize;
            for (i, v) in x.iter_mut().enumerate() {
                let d = (i as f64 - c as f64) / fs;
                // R wave (10 ms wide) and a smaller, later S wave.
                *v += ((-(d / 0.010).powi(2)).exp() - 0.3 * (-((d - 0.025) / 0.010).powi(2)).exp())
                    as f32;
            }
            peaks.push(c);
            t += rr;
        }
        (x, peaks)
    }

    #[test]
    fn every_beat_is_found_on_its_peak_at_any_rate() {
        for fs in [100.0, 128.0, 250.0, 360.0, 500.0, 1000.0] {
            let (x, peaks) = synthetic(fs, 30.0, 0.8);
            let beats = detect(&x, fs, &Options::default()).unwrap();
            assert_eq!(beats.len(), peaks.len(), "fs {fs}");
            for (b, p) in beats.iter().zip(&peaks) {
                assert!(
                    b.abs_diff(*p) as f64 <= 0.01 * fs + 1.0,
                    "fs {fs}: {b} vs {p}"
                );
            }
        }
    }

    #[test]
    fn no_beats_are_invented_in_a_nan_stretch_and_detection_resumes_after_it() {
        let fs = 360.0;
        let (mut x, peaks) = synthetic(fs, 30.0, 0.8);
        let (a, b) = ((10.0 * fs) as usize, (16.0 * fs) as usize);
        x[a..b].fill(f32::NAN);
        let beats = detect(&x, fs, &Options::default()).unwrap();
        assert!(beats.iter().all(|&t| t < a || t >= b), "{beats:?}");
        let outside = peaks.iter().filter(|&&p| p < a || p >= b).count();
        assert!(beats.len() + 1 >= outside, "{} of {outside}", beats.len());
        assert!(beats.iter().any(|&t| t > b + (2.0 * fs) as usize));
    }

    #[test]
    fn missing_and_flat_stretches_are_found() {
        let fs = 100.0;
        let mut x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.3).sin()).collect();
        x[100..150].fill(f32::NAN);
        x[300..450].fill(0.25);
        x[600..650].fill(0.5); // 0.5 s: shorter than a dropout
        let u = unusable_stretches(&x, fs);
        assert_eq!(
            u,
            vec![(100..150, Unusable::Missing), (300..450, Unusable::Flat)]
        );
        assert_eq!(
            unusable_stretches(&[0.0; 300], fs),
            vec![(0..300, Unusable::Flat)]
        );
    }

    #[test]
    fn streaming_finds_the_same_beats_within_its_latency() {
        let fs = 360.0;
        let (x, peaks) = synthetic(fs, 60.0, 0.8);
        let offline = detect(&x, fs, &Options::default()).unwrap();
        for chunk in [1, 37, 360, 5000] {
            let mut s = Streaming::new(fs, Options::default()).unwrap();
            let mut got = Vec::new();
            let mut arrived = 0;
            for c in x.chunks(chunk) {
                arrived += c.len();
                for b in s.push(c) {
                    // Reported no later than the latency plus one step after its sample.
                    let late = (arrived - b) as f64 / fs;
                    assert!(
                        late <= LATENCY_SECONDS + Streaming::STEP_SECONDS + chunk as f64 / fs,
                        "chunk {chunk}: beat {b} reported {late:.2} s late"
                    );
                    got.push(b);
                }
            }
            got.extend(s.finish());
            assert_eq!(got, offline, "chunk {chunk}");
            assert_eq!(got.len(), peaks.len());
        }
        assert!(Streaming::new(50.0, Options::default()).is_err());
    }

    #[test]
    fn unusable_stretches_match_the_serial_scan() {
        let mut seed = 7u64;
        let mut rnd = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for fs in [100.0, 128.0, 360.0, 0.5] {
            for _ in 0..50 {
                let mut x: Vec<f32> = Vec::new();
                while x.len() < 20_000 {
                    let len = rnd(400) as usize + 1;
                    let v = match rnd(6) {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        2 => 0.0,
                        3 => -0.0,
                        _ => rnd(5) as f32,
                    };
                    if rnd(3) == 0 {
                        x.extend((0..len).map(|_| v));
                    } else {
                        x.extend((0..len).map(|_| rnd(3) as f32));
                    }
                }
                assert_eq!(
                    unusable_stretches(&x, fs),
                    unusable_stretches_serial(&x, fs)
                );
            }
        }
    }

    /// Segmenting changes no beat: on every MIT-BIH record, Elgendi in segments (the default
    /// and a small, odd size) finds exactly the beats of one segment holding the whole
    /// record, which is the unsegmented computation.
    #[test]
    #[ignore = "needs MIT-BIH"]
    fn segments_change_no_beat_on_mitdb() {
        let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = wonhee_fs::workspace_root(&manifest);
        let dir = wonhee_fs::mitdb_or_error(None, &root).unwrap();
        let names = std::fs::read_to_string(dir.join("RECORDS")).unwrap();
        for name in names.lines() {
            let rec = wonhee_wfdb::Record::open(dir.join(name)).unwrap();
            let x = rec.read_signals().unwrap().physical_f32(0);
            let fs = rec.header().fs;
            let fill = |r: std::ops::Range<usize>, out: &mut [f64]| filled(&x, r, out);
            let whole = elgendi::elgendi_with(x.len(), fs, x.len(), &fill);
            for seg in [elgendi::SEGMENT, 9_999] {
                assert_eq!(
                    elgendi::elgendi_with(x.len(), fs, seg, &fill),
                    whole,
                    "{name}, segments of {seg}"
                );
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let x = vec![0f32; 1000];
        assert!(matches!(
            detect(&x, 99.0, &Options::default()),
            Err(DetectError::Rate(_))
        ));
        assert!(matches!(
            detect(&x, f64::NAN, &Options::default()),
            Err(DetectError::Rate(_))
        ));
        assert!(matches!(
            detect(&x, 1000.0, &Options::default()),
            Err(DetectError::TooShort { .. })
        ));
        assert!(
            detect(&vec![0f32; 3600], 360.0, &Options::default())
                .unwrap()
                .is_empty()
        );
        assert!(
            detect(&vec![f32::NAN; 3600], 360.0, &Options::default())
                .unwrap()
                .is_empty()
        );
    }
}
