//! RR intervals around each beat, and the scale-free rhythm features a classifier reads.
//!
//! A supraventricular ectopic beat often looks like a normal one; what gives it away is its
//! timing: it comes early (short pre-RR interval) and is often followed by a pause. de Chazal,
//! O'Dwyer and Reilly (IEEE TBME 51(7), 2004) classify beats from four RR features: the pre-RR
//! and post-RR intervals, a local average over the 10 intervals around the beat, and an average
//! over the 5 minutes around it. [`RrIntervals`] holds those four, in seconds;
//! [`RrIntervals::features`] turns them into log ratios, which do not depend on the patient's
//! heart rate (what makes them carry over to unseen patients).
//!
//! The local and 5-minute averages look at later beats too: the features are for offline
//! (Holter-style) analysis of a whole record, as in de Chazal's study.

/// Number of values [`RrIntervals::features`] returns.
pub const RHYTHM_FEATURES: usize = 4;

/// Beats on each side whose intervals make up the local average (10 intervals in all).
const LOCAL_HALF: usize = 5;

/// Half-width of the long average's window, in seconds (5 minutes in all).
const AVERAGE_HALF_S: f64 = 150.0;

/// Log ratios are clamped to `±LOG_RATIO_MAX` (e^2 ≈ 7.4: beyond any physiological ratio,
/// reached only around annotation gaps).
const LOG_RATIO_MAX: f32 = 2.0;

/// RR intervals around one beat, in seconds; 0 where the record has fewer than two beats.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RrIntervals {
    /// From the previous beat to this one (the first beat: the next interval).
    pub pre: f32,
    /// From this beat to the next (the last beat: the previous interval).
    pub post: f32,
    /// Mean of the 10 intervals around the beat (5 ending at or before it, 5 after), fewer
    /// at the record's ends.
    pub local: f32,
    /// Mean of the intervals lying within 2.5 minutes either side of the beat.
    pub average: f32,
}

impl RrIntervals {
    /// The rhythm features, each `ln(a / b)` clamped to ±2 (0 where an interval is unknown):
    /// `pre / local`, `post / local`, `pre / average`, `local / average`. All are 0 for a
    /// perfectly regular rhythm; a premature beat has the first negative and usually the
    /// second positive.
    pub fn features(&self) -> [f32; RHYTHM_FEATURES] {
        [
            log_ratio(self.pre, self.local),
            log_ratio(self.post, self.local),
            log_ratio(self.pre, self.average),
            log_ratio(self.local, self.average),
        ]
    }
}

fn log_ratio(a: f32, b: f32) -> f32 {
    if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
        (a / b).ln().clamp(-LOG_RATIO_MAX, LOG_RATIO_MAX)
    } else {
        0.0
    }
}

/// RR intervals of each beat of a record, from the beats' annotation samples at `fs` Hz
/// (in any order; the result is in the order given). Every beat of the record should be
/// passed, not only those kept for windows, so that the intervals of beats next to dropped
/// ones are right.
pub fn rr_intervals(samples: &[i64], fs: f64) -> Vec<RrIntervals> {
    let n = samples.len();
    if n < 2 || !fs.is_finite() || fs <= 0.0 {
        return vec![RrIntervals::default(); n];
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| samples[i]);
    let t: Vec<i64> = order.iter().map(|&i| samples[i]).collect();
    // Interval j runs from beat j to beat j + 1 (sorted order), in seconds.
    let r: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64 / fs).collect();
    let mut prefix = Vec::with_capacity(r.len() + 1);
    prefix.push(0.0);
    for v in &r {
        prefix.push(prefix[prefix.len() - 1] + v);
    }
    let mean = |a: usize, b: usize| -> f32 {
        if b > a {
            ((prefix[b] - prefix[a]) / (b - a) as f64) as f32
        } else {
            0.0
        }
    };
    let half = (AVERAGE_HALF_S * fs).round() as i64;
    let mut out = vec![RrIntervals::default(); n];
    for (k, &orig) in order.iter().enumerate() {
        let pre = if k > 0 { r[k - 1] } else { r[0] };
        let post = if k < r.len() { r[k] } else { r[k - 1] };
        let local = mean(k.saturating_sub(LOCAL_HALF), (k + LOCAL_HALF).min(r.len()));
        // Intervals j with t[j] >= t[k] - half and t[j + 1] <= t[k] + half.
        let lo = t.partition_point(|&s| s < t[k] - half);
        let hi = t.partition_point(|&s| s <= t[k] + half).saturating_sub(1);
        let average = if hi > lo { mean(lo, hi) } else { local };
        out[orig] = RrIntervals {
            pre: pre as f32,
            post: post as f32,
            local,
            average,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_rhythm_has_zero_features() {
        let s: Vec<i64> = (0..50).map(|i| 100 + 360 * i).collect();
        for (i, rr) in rr_intervals(&s, 360.0).iter().enumerate() {
            assert_eq!(rr.pre, 1.0, "beat {i}");
            assert_eq!(rr.post, 1.0, "beat {i}");
            assert!((rr.local - 1.0).abs() < 1e-6, "beat {i}: {rr:?}");
            assert!((rr.average - 1.0).abs() < 1e-6, "beat {i}: {rr:?}");
            assert!(rr.features().iter().all(|f| f.abs() < 1e-6), "beat {i}");
        }
    }

    #[test]
    fn a_premature_beat_is_early_and_followed_by_a_pause() {
        // Beats every 0.8 s at 100 Hz; beat 20 comes 0.3 s early, beat 21 is on time.
        let mut s: Vec<i64> = (0..40).map(|i| 80 * i).collect();
        s[20] -= 30;
        let rr = rr_intervals(&s, 100.0);
        let b = rr[20];
        assert!(
            (b.pre - 0.5).abs() < 1e-6 && (b.post - 1.1).abs() < 1e-6,
            "{b:?}"
        );
        // 10 intervals around beat 20: 8 of 0.8 s, one of 0.5 s, one of 1.1 s.
        assert!((b.local - 0.8).abs() < 1e-6, "{b:?}");
        let f = b.features();
        assert!((f[0] - (0.5f32 / 0.8).ln()).abs() < 1e-5, "{f:?}");
        assert!((f[1] - (1.1f32 / 0.8).ln()).abs() < 1e-5, "{f:?}");
        // Its neighbours: beat 19's post-RR is short, beat 21's pre-RR long.
        assert!((rr[19].post - 0.5).abs() < 1e-6 && (rr[21].pre - 1.1).abs() < 1e-6);
    }

    #[test]
    fn ends_borrow_the_one_interval_they_have() {
        let s = [0i64, 100, 250, 450];
        let rr = rr_intervals(&s, 100.0);
        assert_eq!((rr[0].pre, rr[0].post), (1.0, 1.0));
        assert_eq!((rr[3].pre, rr[3].post), (2.0, 2.0));
        // Local average over the three intervals there are.
        assert!((rr[1].local - 1.5).abs() < 1e-6, "{:?}", rr[1]);
    }

    #[test]
    fn the_long_average_covers_five_minutes_only() {
        // 10 minutes at 1 s, then 10 minutes at 0.5 s (fs = 10 Hz).
        let mut s: Vec<i64> = (0..600).map(|i| 10 * i).collect();
        let t0 = 6000;
        s.extend((1..=1200).map(|i| t0 + 5 * i));
        let rr = rr_intervals(&s, 10.0);
        // Well inside each part, the 5-minute average is that part's interval.
        assert!((rr[200].average - 1.0).abs() < 1e-6, "{:?}", rr[200]);
        assert!((rr[1400].average - 0.5).abs() < 1e-6, "{:?}", rr[1400]);
        // At the change, it mixes the two: 150 s of each, 150 + 300 intervals.
        let mid = rr[600].average;
        assert!((mid - 300.0 / 450.0).abs() < 1e-3, "{mid}");
    }

    #[test]
    fn order_of_the_input_is_kept() {
        let s = [0i64, 100, 150, 300];
        let rev: Vec<i64> = s.iter().rev().copied().collect();
        let a = rr_intervals(&s, 100.0);
        let mut b = rr_intervals(&rev, 100.0);
        b.reverse();
        assert_eq!(a, b);
    }

    #[test]
    fn degenerate_records_give_zero_features() {
        assert!(rr_intervals(&[], 360.0).is_empty());
        let one = rr_intervals(&[5], 360.0);
        assert_eq!(one, vec![RrIntervals::default()]);
        assert_eq!(one[0].features(), [0.0; RHYTHM_FEATURES]);
        // Two beats at the same sample: zero-length interval, features stay finite.
        let same = rr_intervals(&[7, 7, 400], 360.0);
        assert!(
            same.iter()
                .all(|r| r.features().iter().all(|f| f.is_finite()))
        );
        assert!(rr_intervals(&[1, 2], f64::NAN).iter().all(|r| r.pre == 0.0));
    }
}
