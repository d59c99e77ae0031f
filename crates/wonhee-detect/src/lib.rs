//! QRS detection on one ECG lead at any sampling rate from 100 Hz to 1 kHz: slices in, beat
//! positions (sample indices) out.
//!
//! Two published methods, each with its filters designed for the
//! rate: [`Method::PanTompkins`] (Pan & Tompkins, IEEE TBME 32(3), 1985: zero-phase 5-15 Hz
//! band-pass, five-point derivative, squaring, 150 ms moving-window integration, adaptive
//! signal and noise levels, search-back for missed beats, T-wave rejection) and
//! [`Method::Elgendi`] (Elgendi et al. 2010: two moving averages of the squared 8-20 Hz band),
//! the default, chosen by measuring both on MIT-BIH (docs/benchmarks.md).
//! [`detect_in`] reads the signal from any [`Source`] a stretch at a time (a record's file, say),
//! finding the same beats as [`detect_all`] on the whole slice without holding it.
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
mod source;
mod stream;
mod unusable;

pub use elgendi::elgendi;
pub use pan_tompkins::pan_tompkins;
pub use source::{ReadError, Source};
pub use stream::{LATENCY_SECONDS, Streaming};
#[cfg(test)]
use unusable::unusable_stretches_serial;
pub use unusable::{FLAT_SECONDS, Unusable, unusable_stretches, unusable_stretches_in};

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
    /// A [`Source`] could not be read.
    #[error("reading the signal: {0}")]
    Read(ReadError),
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
    detect_in(x, fs, opts)
}

/// [`detect_all`] on a signal read a stretch at a time ([`Source`]), e.g. straight from a
/// record's file: no copy of the whole signal is made (Elgendi; Pan-Tompkins reads it whole).
/// The beats are those [`detect_all`] finds on the same samples.
pub fn detect_in<S: Source + ?Sized>(
    src: &S,
    fs: f64,
    opts: &Options,
) -> Result<Detection, DetectError> {
    if !(fs.is_finite() && (MIN_RATE..=MAX_RATE).contains(&fs)) {
        return Err(DetectError::Rate(fs));
    }
    let n = src.len();
    let seconds = n as f64 / fs;
    if seconds < 2.0 {
        return Err(DetectError::TooShort { seconds });
    }
    let unusable = unusable_stretches_in(src, fs).map_err(DetectError::Read)?;
    let missing: Vec<std::ops::Range<usize>> = unusable
        .iter()
        .filter(|(_, why)| *why == Unusable::Missing)
        .map(|(r, _)| r.clone())
        .collect();
    if missing.iter().map(|r| r.len()).sum::<usize>() == n {
        return Ok(Detection {
            beats: Vec::new(),
            unusable,
        });
    }
    let beats = match opts.method {
        Method::PanTompkins => {
            let mut y = vec![0.0f64; n];
            source::filled(src, &missing, 0..n, &mut y).map_err(DetectError::Read)?;
            pan_tompkins(&y, fs)
        }
        Method::Elgendi => elgendi::elgendi_with(n, fs, elgendi::SEGMENT, &|r, out| {
            source::filled(src, &missing, r, out)
        })
        .map_err(DetectError::Read)?,
    };
    let beats = outside(beats, &unusable, (EDGE_SECONDS * fs).round() as usize);
    Ok(Detection { beats, unusable })
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
    /// record, which is the unsegmented computation; read from the file a stretch at a time,
    /// it finds what it finds in the slice.
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
            let missing: Vec<_> = unusable_stretches(&x, fs)
                .into_iter()
                .filter(|(_, why)| *why == Unusable::Missing)
                .map(|(r, _)| r)
                .collect();
            let fill = |r: std::ops::Range<usize>, out: &mut [f64]| {
                source::filled(x.as_slice(), &missing, r, out)
            };
            let whole = elgendi::elgendi_with(x.len(), fs, x.len(), &fill).unwrap();
            // Read from the file a stretch at a time: the same beats as from the slice.
            struct Lead(wonhee_wfdb::SignalView);
            impl Source for Lead {
                fn len(&self) -> usize {
                    self.0.len()
                }
                fn read(&self, start: usize, out: &mut [f32]) -> Result<(), ReadError> {
                    Ok(self.0.physical_into(start, out)?)
                }
            }
            let lead = Lead(rec.view(0).unwrap());
            assert_eq!(
                detect_in(&lead, fs, &Options::default()).unwrap(),
                detect_all(&x, fs, &Options::default()).unwrap(),
                "{name}: read from the file"
            );
            for seg in [elgendi::SEGMENT, 9_999] {
                assert_eq!(
                    elgendi::elgendi_with(x.len(), fs, seg, &fill).unwrap(),
                    whole,
                    "{name}, segments of {seg}"
                );
            }
        }
    }

    /// A slice read only through [`Source::read`], remembering the longest read.
    struct Chunked<'a> {
        x: &'a [f32],
        longest: std::sync::atomic::AtomicUsize,
        fail_at: Option<usize>,
    }

    impl Source for Chunked<'_> {
        fn len(&self) -> usize {
            self.x.len()
        }

        fn read(&self, start: usize, out: &mut [f32]) -> Result<(), ReadError> {
            self.longest
                .fetch_max(out.len(), std::sync::atomic::Ordering::Relaxed);
            if self
                .fail_at
                .is_some_and(|f| (start..start + out.len()).contains(&f))
            {
                return Err("test.dat: the disk went away".into());
            }
            self.x.read(start, out)
        }
    }

    #[test]
    fn a_source_is_read_a_stretch_at_a_time_with_the_beats_of_the_whole_slice() {
        let fs = 360.0;
        let (mut x, _) = synthetic(fs, 600.0, 0.8);
        x[(100.0 * fs) as usize..(103.0 * fs) as usize].fill(f32::NAN);
        x[(200.0 * fs) as usize..(204.0 * fs) as usize].fill(0.25);
        let want = detect_all(&x, fs, &Options::default()).unwrap();
        assert_eq!(want.unusable.len(), 2);
        let src = Chunked {
            x: &x,
            longest: 0.into(),
            fail_at: None,
        };
        let got = detect_in(&src, fs, &Options::default()).unwrap();
        assert_eq!(got, want);
        let longest = src.longest.into_inner();
        assert!(
            longest < x.len() / 2,
            "read {longest} of {} at once",
            x.len()
        );
        let failing = Chunked {
            x: &x,
            longest: 0.into(),
            fail_at: Some(150_000),
        };
        let err = detect_in(&failing, fs, &Options::default()).unwrap_err();
        assert!(matches!(err, DetectError::Read(_)));
        assert!(
            err.to_string().contains("test.dat: the disk went away"),
            "{err}"
        );
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
