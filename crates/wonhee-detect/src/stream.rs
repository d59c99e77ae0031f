//! [`Streaming`]: beats from a signal that arrives in chunks (a monitor), each reported once it
//! can no longer change, a bounded time after its sample arrived.

use crate::{DetectError, MAX_RATE, MIN_RATE, Options, detect};

/// How long (seconds) after a beat's sample arrives it is reported, at most, plus the time to
/// fill one [`Streaming::STEP_SECONDS`] step: the detectors look this far ahead (the centred
/// moving averages and the zero-phase filters' settling).
pub const LATENCY_SECONDS: f64 = 1.5;

/// A streaming detector: [`Streaming::push`] chunks of any size, get the beats that became
/// final; [`Streaming::finish`] at the end of the signal.
///
/// It runs the offline detector over a sliding window (the last [`Streaming::WINDOW_SECONDS`]
/// of signal) every [`Streaming::STEP_SECONDS`] and reports the beats that lie more than
/// [`LATENCY_SECONDS`] before the newest sample and after the last one reported. Levels that
/// the offline detectors take over the whole signal (Elgendi's offset) are then taken over the
/// window, so results can differ slightly from [`detect`] on the whole signal.
#[derive(Clone, Debug)]
pub struct Streaming {
    fs: f64,
    opts: Options,
    /// Samples kept, the first at absolute index `start`.
    buf: Vec<f32>,
    start: usize,
    /// Absolute index of the next sample to arrive.
    end: usize,
    /// Beats at absolute indices below this are reported.
    reported_until: usize,
    /// Samples since the last detection run.
    pending: usize,
}

impl Streaming {
    /// Signal the detector looks at each time (seconds).
    pub const WINDOW_SECONDS: f64 = 12.0;
    /// Signal between two detection runs (seconds).
    pub const STEP_SECONDS: f64 = 1.0;

    /// A detector for a signal at `fs` Hz (100 to 1000).
    pub fn new(fs: f64, opts: Options) -> Result<Self, DetectError> {
        if !(fs.is_finite() && (MIN_RATE..=MAX_RATE).contains(&fs)) {
            return Err(DetectError::Rate(fs));
        }
        Ok(Self {
            fs,
            opts,
            buf: Vec::new(),
            start: 0,
            end: 0,
            reported_until: 0,
            pending: 0,
        })
    }

    fn samples(&self, seconds: f64) -> usize {
        (seconds * self.fs).round() as usize
    }

    /// Adds `chunk`; returns the beats (absolute sample indices, ascending) that became final.
    pub fn push(&mut self, chunk: &[f32]) -> Vec<usize> {
        self.buf.extend_from_slice(chunk);
        self.end += chunk.len();
        self.pending += chunk.len();
        if self.pending < self.samples(Self::STEP_SECONDS) {
            return Vec::new();
        }
        self.pending = 0;
        let final_before = self.end.saturating_sub(self.samples(LATENCY_SECONDS));
        let out = self.run(final_before);
        // Keep enough signal for the next window.
        let keep = self.samples(Self::WINDOW_SECONDS);
        if self.buf.len() > keep {
            let drop = self.buf.len() - keep;
            self.buf.drain(..drop);
            self.start += drop;
        }
        out
    }

    /// The beats not reported yet, at the end of the signal.
    pub fn finish(mut self) -> Vec<usize> {
        let end = self.end;
        self.run(end)
    }

    /// Detects on the kept window and reports the beats in `[reported_until, before)`.
    fn run(&mut self, before: usize) -> Vec<usize> {
        if before <= self.reported_until {
            return Vec::new();
        }
        let Ok(beats) = detect(&self.buf, self.fs, &self.opts) else {
            // Under 2 s so far: nothing can be detected yet.
            return Vec::new();
        };
        let out: Vec<usize> = beats
            .into_iter()
            .map(|b| b + self.start)
            .filter(|&b| b >= self.reported_until && b < before)
            .collect();
        // A beat reported stays reported: the next ones must be a refractory period later.
        self.reported_until = match out.last() {
            Some(&last) => before.max(last + self.samples(0.2)),
            None => before,
        };
        out
    }
}
