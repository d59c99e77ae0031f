//! Patient-relative beat features: each beat against its own record, with no labels.
//!
//! A classifier trained on some patients meets new ones whose normal beats look unlike any it
//! has seen (a bundle branch block, another electrode placement). What carries over is how a
//! beat differs from the *patient's own* usual beat, and how irregular the patient's rhythm is
//! around it (in atrial fibrillation every beat looks premature). This module computes four
//! such features per beat ([`CONTEXT_FEATURES`]), from the beat positions and the processed
//! lead only:
//!
//! 0. RR irregularity: the mean `|ln(r_j / r_{j-1})|` over successive pairs of the 10 RR
//!    intervals around the beat (0 for a steady rhythm; about 0.2-0.4 in atrial fibrillation);
//! 1. distance of the beat's shape to the record's median beat: `ln(1 - r + 0.01)`, `r` the
//!    best Pearson correlation over shifts of up to ±20 ms (about -4.6 for a typical beat, near
//!    0 for an unrelated shape);
//! 2. amplitude against the median beat: `ln(std(beat) / std(median))`, clamped to ±2;
//! 3. what the median beat leaves: `ln(rms(beat - median) / std(median) + 0.01)`, at the best
//!    shift, clamped to [-4.6, 2].
//!
//! and three timing features that put a beat's prematurity against the patient's own rhythm
//! ([`TIMING_FEATURES`]), from the 20 RR intervals around the beat:
//!
//! 4. robust irregularity: the median `|ln(r_j / r_{j-1})|` over successive pairs (one or two
//!    ectopic beats do not raise it, atrial fibrillation does), clamped to [0, 2];
//! 5. pre-RR z: `ln(pre / m) / (irr + 0.05)`, `m` the median of the intervals and `irr`
//!    feature 4, clamped to ±10 and scaled by 1/4: a beat 25% early in a steady rhythm reads
//!    about -1.4, the same interval in atrial fibrillation about -0.3;
//! 6. post-RR z: the same for the interval after the beat (a compensatory pause is positive).
//!
//! A model reads a prefix of the rhythm and context features ([`BEAT_FEATURE_WIDTHS`]): models
//! made before the timing features existed read the first 8.
//!
//! The median beat is the point-wise median of every beat's segment from 250 ms before to
//! 375 ms after its centre (each segment's mean removed), over blocks of about 30 minutes of
//! the recording (a 30-minute MIT-BIH record is one block; a 24-hour recording 48), so that it
//! follows slow changes. A block with fewer than [`MIN_TEMPLATE_BEATS`] beats (or a flat one)
//! has no median beat: its beats get the values of a typical beat ([`TYPICAL_SHAPE`]), so that
//! a short strip does not read as ectopic.
//! Like the RR features, these look at later beats too: offline analysis of a whole recording.

use crate::rhythm::RHYTHM_FEATURES;

/// Number of features [`beat_context`] gives per beat: four shape and irregularity features,
/// then the [`TIMING_FEATURES`].
pub const CONTEXT_FEATURES: usize = 4 + TIMING_FEATURES;

/// Number of timing features (context features 4-6): prematurity against the rhythm's own
/// irregularity.
pub const TIMING_FEATURES: usize = 3;

/// Rhythm and context features together: what a model with `rhythm_inputs = BEAT_FEATURES`
/// reads (the [`crate::RrIntervals::features`] first, then [`beat_context`]'s).
pub const BEAT_FEATURES: usize = RHYTHM_FEATURES + CONTEXT_FEATURES;

/// The numbers of beat features a model may read (`rhythm_inputs`, 0 aside): the rhythm
/// features alone, those and the first four context features (the width before the timing
/// features were added), or all of them. Each is a prefix of the next.
pub const BEAT_FEATURE_WIDTHS: [usize; 3] = [RHYTHM_FEATURES, RHYTHM_FEATURES + 4, BEAT_FEATURES];

/// Number of second-lead features a model with `lead2_context` reads after its beat
/// features: context features 1-3 ([`lead2_shape`]) of the beat in the second lead.
pub const LEAD2_FEATURES: usize = wonhee_schema::LEAD2_CONTEXT_INPUTS;

/// The second-lead features of a beat from its context features in the second lead
/// ([`window_context`] of the second lead): the shape features 1-3 (the beat against its
/// record's median beat in that lead). The irregularity and timing features are the first
/// lead's already (the beats are the same).
pub fn lead2_shape(context: &[f32; CONTEXT_FEATURES]) -> [f32; LEAD2_FEATURES] {
    [context[1], context[2], context[3]]
}

/// Context features of a beat with nothing to compare it with (too few beats, no signal): a
/// steady rhythm and the [`TYPICAL_SHAPE`].
const TYPICAL_CONTEXT: [f32; CONTEXT_FEATURES] = [
    0.0,
    TYPICAL_SHAPE[0],
    TYPICAL_SHAPE[1],
    TYPICAL_SHAPE[2],
    0.0,
    0.0,
    0.0,
];

/// Fewest beats a block needs for a median beat; with fewer, the shape features are
/// [`TYPICAL_SHAPE`].
pub const MIN_TEMPLATE_BEATS: usize = 8;

/// Shape features (1-3) of a beat without a median beat to compare with: those of a beat that
/// matches it exactly (distance and residual at their floor, amplitude ratio 1).
pub const TYPICAL_SHAPE: [f32; 3] = [-4.6051702, 0.0, -4.6051702];

/// Beats on each side whose intervals make up the local irregularity (as the RR local mean).
const LOCAL_HALF: usize = 5;
/// Intervals on each side that make up the timing features' statistics (20 in all).
const TIMING_HALF: usize = 10;
/// Added to the robust irregularity before dividing by it: a steady rhythm's floor.
const TIMING_FLOOR: f64 = 0.05;
/// Timing z values are clamped to `±TIMING_Z_MAX`, then scaled by `TIMING_Z_SCALE`.
const TIMING_Z_MAX: f64 = 10.0;
const TIMING_Z_SCALE: f64 = 0.25;
/// Segment around a beat's centre, in seconds before and after.
const SEG_BEFORE_S: f64 = 0.25;
const SEG_AFTER_S: f64 = 0.375;
/// Largest shift tried when matching a beat to the median beat, in seconds.
const MAX_SHIFT_S: f64 = 0.02;
/// Nominal block length for median beats, in seconds.
const BLOCK_S: f64 = 1800.0;
const LOG_FLOOR: f32 = 0.01;

/// The context features of every beat of one recording: `signal` is the processed lead at
/// `fs` Hz (as [`crate::process_lead`] gives it, or a dataset's record signal), `centres` the
/// beats' positions in it, in any order (the result is in the order given). Every beat of the
/// recording should be passed. Deterministic; positions past the signal's ends read its edge
/// samples.
pub fn beat_context(signal: &[f32], centres: &[i64], fs: f64) -> Vec<[f32; CONTEXT_FEATURES]> {
    let n = centres.len();
    let mut out = vec![TYPICAL_CONTEXT; n];
    if n == 0 || signal.is_empty() || !fs.is_finite() || fs <= 0.0 || fs > 1e6 {
        return out;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (centres[i], i));
    let sorted: Vec<i64> = order.iter().map(|&i| centres[i]).collect();
    let irr = irregularity(&sorted);
    let tim = timing(&sorted);
    for (k, &i) in order.iter().enumerate() {
        out[i][0] = irr[k];
        out[i][4..].copy_from_slice(&tim[k]);
    }

    let before = (SEG_BEFORE_S * fs).round() as i64;
    let m = before as usize + (SEG_AFTER_S * fs).round() as usize;
    let max_shift = (MAX_SHIFT_S * fs).round() as i64;
    let len = signal.len() as i64;
    let seg = |c: i64, buf: &mut [f32]| {
        for (t, v) in buf.iter_mut().enumerate() {
            *v = signal[(c - before + t as i64).clamp(0, len - 1) as usize];
        }
        remove_mean(buf);
    };
    // Blocks of about BLOCK_S seconds; a short tail joins the block before it.
    let block_len = (BLOCK_S * fs).round().max(1.0) as i64;
    let n_blocks = ((len + block_len / 2) / block_len).max(1);
    let block_of = |c: i64| (c.max(0) / block_len).min(n_blocks - 1) as usize;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_blocks as usize];
    for &i in &order {
        members[block_of(centres[i])].push(i);
    }
    let mut segs = vec![0f32; m];
    let mut cand = vec![0f32; m];
    for beats in members.iter().filter(|b| b.len() >= MIN_TEMPLATE_BEATS) {
        // The median beat of the block, point by point.
        let mut all = vec![0f32; beats.len() * m];
        for (j, &i) in beats.iter().enumerate() {
            seg(centres[i], &mut all[j * m..(j + 1) * m]);
        }
        let mut column = vec![0f32; beats.len()];
        let template: Vec<f32> = (0..m)
            .map(|t| {
                for (j, c) in column.iter_mut().enumerate() {
                    *c = all[j * m + t];
                }
                median(&mut column)
            })
            .collect();
        let t_norm = norm(&template);
        let t_std = t_norm / (m as f32).sqrt();
        if t_std <= 0.0 || !t_std.is_finite() {
            continue;
        }
        for &i in beats {
            // The best-matching shift (the first of equals, searched from 0 outwards).
            let mut best = (f32::NEG_INFINITY, 0i64);
            for s in shifts(max_shift) {
                seg(centres[i] + s, &mut cand);
                let r = dot(&cand, &template) / (norm(&cand) * t_norm).max(f32::MIN_POSITIVE);
                if r > best.0 {
                    best = (r, s);
                }
            }
            seg(centres[i] + best.1, &mut segs);
            let r = best.0.clamp(-1.0, 1.0);
            let b_std = norm(&segs) / (m as f32).sqrt();
            let resid = segs
                .iter()
                .zip(&template)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                / m as f32;
            out[i][1] = (1.0 - r + LOG_FLOOR).ln();
            out[i][2] = if b_std > 0.0 {
                (b_std / t_std).ln().clamp(-2.0, 2.0)
            } else {
                -2.0
            };
            out[i][3] = (resid.sqrt() / t_std + LOG_FLOOR)
                .ln()
                .clamp(LOG_FLOOR.ln(), 2.0);
        }
    }
    out
}

/// The context features as every path of the workspace computes them (the prepared dataset,
/// `predict_record`, `classify_beats`): the statistics (median beats, RR irregularity) come
/// from the beats whose `window`-point window lies inside `signal` (those a prepared dataset
/// keeps); beats too close to the ends get theirs from all the beats. Identical to
/// [`beat_context`] when every window fits.
pub fn window_context(
    signal: &[f32],
    centres: &[i64],
    fs: f64,
    window: usize,
) -> Vec<[f32; CONTEXT_FEATURES]> {
    let half = (window / 2) as i64;
    let n = signal.len() as i64;
    let inner: Vec<usize> = (0..centres.len())
        .filter(|&i| centres[i] - half >= 0 && centres[i] + half <= n)
        .collect();
    if inner.len() == centres.len() {
        return beat_context(signal, centres, fs);
    }
    let mut out = beat_context(signal, centres, fs);
    let c: Vec<i64> = inner.iter().map(|&i| centres[i]).collect();
    for (&i, v) in inner.iter().zip(beat_context(signal, &c, fs)) {
        out[i] = v;
    }
    out
}

/// The RR intervals `r` between successive beats of `sorted` (ascending positions) and the
/// steps between successive intervals, `d[j] = |ln(r[j + 1] / r[j])|` (NaN where either
/// interval is empty).
fn interval_steps(sorted: &[i64]) -> (Vec<f64>, Vec<f64>) {
    let r: Vec<f64> = sorted.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let d = r
        .windows(2)
        .map(|w| {
            if w[0] > 0.0 && w[1] > 0.0 {
                (w[1] / w[0]).ln().abs()
            } else {
                f64::NAN
            }
        })
        .collect();
    (r, d)
}

/// Mean `|ln(r_j / r_{j-1})|` over the successive interval pairs among the 10 intervals
/// around each beat; `sorted` ascending positions. Clamped to [0, 2]; 0 with under 3 beats.
fn irregularity(sorted: &[i64]) -> Vec<f32> {
    let n = sorted.len();
    if n < 3 {
        return vec![0.0; n];
    }
    let (r, d) = interval_steps(sorted);
    // An empty interval's step counts as 0 here.
    let mut prefix = vec![0f64; d.len() + 1];
    for (j, v) in d.iter().enumerate() {
        prefix[j + 1] = prefix[j] + if v.is_nan() { 0.0 } else { *v };
    }
    (0..n)
        .map(|k| {
            // Intervals k - 5 .. k + 5 (as the RR local mean); pairs inside that range.
            let lo = k.saturating_sub(LOCAL_HALF);
            let hi = (k + LOCAL_HALF).min(r.len());
            if hi < lo + 2 {
                return 0.0;
            }
            let (a, b) = (lo, hi - 1);
            ((prefix[b] - prefix[a]) / (b - a) as f64).clamp(0.0, 2.0) as f32
        })
        .collect()
}

/// The timing features (context features 4-6) of each beat; `sorted` ascending positions.
/// All 0 with under 3 beats; an empty interval (two beats at one position) is left out of
/// the statistics, and a beat whose own interval is empty reads 0.
fn timing(sorted: &[i64]) -> Vec<[f32; TIMING_FEATURES]> {
    let n = sorted.len();
    if n < 3 {
        return vec![[0.0; TIMING_FEATURES]; n];
    }
    let (r, d) = interval_steps(sorted);
    let mut buf = Vec::with_capacity(2 * TIMING_HALF);
    (0..n)
        .map(|k| {
            // Intervals lo..hi around the beat (beat k sits between intervals k - 1 and k).
            let lo = k.saturating_sub(TIMING_HALF);
            let hi = (k + TIMING_HALF).min(r.len());
            buf.clear();
            buf.extend(r[lo..hi].iter().copied().filter(|&v| v > 0.0));
            let Some(m) = median_f64(&mut buf) else {
                return [0.0; TIMING_FEATURES];
            };
            buf.clear();
            buf.extend(
                d[lo..hi.saturating_sub(1).max(lo)]
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan()),
            );
            let irr = median_f64(&mut buf).unwrap_or(0.0).clamp(0.0, 2.0);
            let z = |x: f64| {
                if x > 0.0 {
                    ((x / m).ln() / (irr + TIMING_FLOOR)).clamp(-TIMING_Z_MAX, TIMING_Z_MAX)
                        * TIMING_Z_SCALE
                } else {
                    0.0
                }
            };
            // The first beat's pre-RR is its next interval, the last's post-RR its previous
            // one (as [`crate::RrIntervals`]).
            let pre = r[k.saturating_sub(1)];
            let post = r[k.min(r.len() - 1)];
            [irr as f32, z(pre) as f32, z(post) as f32]
        })
        .collect()
}

/// Median of `x` (the mean of the two middle values for an even count), `None` when empty;
/// reorders `x`. NaN-free input.
fn median_f64(x: &mut [f64]) -> Option<f64> {
    let n = x.len();
    if n == 0 {
        return None;
    }
    let (_, &mut hi, _) = x.select_nth_unstable_by(n / 2, f64::total_cmp);
    Some(if n % 2 == 1 {
        hi
    } else {
        let lo = x[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lo + hi)
    })
}

fn shifts(max: i64) -> impl Iterator<Item = i64> {
    std::iter::once(0).chain((1..=max).flat_map(|s| [-s, s]))
}

fn remove_mean(x: &mut [f32]) {
    let mean = (x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len().max(1) as f64) as f32;
    for v in x {
        *v -= mean;
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Median (the mean of the two middle values for an even count); reorders `x`. NaN-free input.
fn median(x: &mut [f32]) -> f32 {
    let n = x.len();
    let (_, &mut hi, _) = x.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = x[..n / 2].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (lo + hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic lead at 128 Hz: a narrow "normal" beat every `rr` samples, and at the
    /// positions in `wide` a wide, inverted one.
    fn lead(n_beats: usize, rr: i64, wide: &[usize]) -> (Vec<f32>, Vec<i64>) {
        let len = (n_beats as i64 + 2) * rr;
        let mut x = vec![0f32; len as usize];
        let mut centres = Vec::new();
        for k in 0..n_beats {
            let c = rr + k as i64 * rr;
            centres.push(c);
            let (w, a) = if wide.contains(&k) {
                (6.0, -1.5)
            } else {
                (1.5, 1.0)
            };
            for t in -30i64..30 {
                let g = (-(t as f32 / w).powi(2) / 2.0).exp();
                x[(c + t) as usize] += a * g;
            }
        }
        (x, centres)
    }

    #[test]
    fn a_steady_rhythm_is_regular_and_an_irregular_one_is_not() {
        let steady: Vec<i64> = (0..40).map(|i| 100 * i).collect();
        assert!(irregularity(&steady).iter().all(|&v| v == 0.0));
        // Alternating 80 / 120: every successive ratio is 1.5 or 1/1.5.
        let mut t = 0;
        let alt: Vec<i64> = (0..40)
            .map(|i| {
                t += if i % 2 == 0 { 80 } else { 120 };
                t
            })
            .collect();
        let irr = irregularity(&alt);
        let want = 1.5f64.ln() as f32;
        assert!(
            irr[5..35].iter().all(|v| (v - want).abs() < 1e-5),
            "{irr:?}"
        );
        assert_eq!(irregularity(&[1, 2]), vec![0.0, 0.0]);
    }

    #[test]
    fn an_odd_beat_stands_out_from_the_median_beat() {
        let (x, c) = lead(60, 100, &[20, 40]);
        let f = beat_context(&x, &c, 128.0);
        let typical = f[10];
        let odd = f[20];
        // Normal beats match the median beat almost exactly.
        assert!(typical[1] < -4.0 && typical[3] < -3.0, "{typical:?}");
        assert!(typical[2].abs() < 0.05, "{typical:?}");
        // The wide inverted beat does not.
        assert!(odd[1] > 0.0, "{odd:?}");
        assert!(odd[3] > 0.0, "{odd:?}");
        assert_eq!(f[40], odd);
    }

    #[test]
    fn order_offset_and_scale_do_not_matter() {
        let (x, c) = lead(30, 90, &[7]);
        let a = beat_context(&x, &c, 128.0);
        let rev: Vec<i64> = c.iter().rev().copied().collect();
        let mut b = beat_context(&x, &rev, 128.0);
        b.reverse();
        assert_eq!(a, b);
        let y: Vec<f32> = x.iter().map(|v| 3.0 * v + 5.0).collect();
        let s = beat_context(&y, &c, 128.0);
        for (p, q) in a.iter().zip(&s) {
            for (u, v) in p.iter().zip(q) {
                assert!((u - v).abs() < 1e-3, "{p:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn a_small_shift_is_forgiven() {
        let (x, mut c) = lead(30, 100, &[]);
        c[12] += 2; // 16 ms late: within the ±20 ms search
        let f = beat_context(&x, &c, 128.0);
        assert!(f[12][1] < -4.0, "{:?}", f[12]);
    }

    #[test]
    fn edge_beats_do_not_change_the_inner_beats_features() {
        let (x, c) = lead(40, 100, &[3, 30]);
        let inner: Vec<i64> = c[2..c.len() - 2].to_vec();
        let want = beat_context(&x, &inner, 128.0);
        // Windows of 2 * 150 points: the first two and last two beats do not fit.
        let got = window_context(&x, &c, 128.0, 300);
        assert_eq!(&got[2..c.len() - 2], &want[..]);
        assert_ne!(got[0], [0.0; CONTEXT_FEATURES]);
        assert_eq!(window_context(&x, &inner, 128.0, 300), want);
    }

    #[test]
    fn too_few_beats_or_no_signal_give_a_typical_beat() {
        let typical = TYPICAL_CONTEXT;
        assert!((TYPICAL_SHAPE[0] - LOG_FLOOR.ln()).abs() < 1e-6);
        let (x, c) = lead(5, 100, &[]);
        let f = beat_context(&x, &c, 128.0);
        assert!(f.iter().all(|v| v[1..4] == typical[1..4]), "{f:?}");
        assert!(beat_context(&[], &c, 128.0).iter().all(|v| *v == typical));
        assert!(beat_context(&x, &[], 128.0).is_empty());
        // A flat signal: no median-beat shape to compare with.
        let flat = vec![1.0f32; 4000];
        let c: Vec<i64> = (1..30).map(|i| 100 * i).collect();
        assert!(
            beat_context(&flat, &c, 128.0)
                .iter()
                .all(|v| v[1..4] == typical[1..4])
        );
        // Typical-beat values are what a matching beat gets.
        let (x, c) = lead(30, 100, &[]);
        let m = beat_context(&x, &c, 128.0)[15];
        assert!(
            (m[1] - typical[1]).abs() < 0.1 && m[2].abs() < 0.05,
            "{m:?}"
        );
    }

    /// Beat times from RR intervals (starting at 1000).
    fn times(rr: &[i64]) -> Vec<i64> {
        let mut t = 1000;
        std::iter::once(t)
            .chain(rr.iter().map(|&r| {
                t += r;
                t
            }))
            .collect()
    }

    #[test]
    fn a_premature_beat_in_a_steady_rhythm_reads_far_from_one_in_fibrillation() {
        // Steady 100-sample rhythm; beat 20 comes 25 samples early, with a compensatory pause.
        let mut rr = vec![100i64; 40];
        rr[19] = 75;
        rr[20] = 125;
        let f = timing(&times(&rr));
        let z_pre = (0.75f64.ln() / 0.05 * 0.25) as f32;
        assert_eq!(f[20][0], 0.0, "{:?}", f[20]);
        assert!((f[20][1] - z_pre).abs() < 1e-5, "{:?}", f[20]);
        assert!((f[20][2] - (1.25f64.ln() / 0.05 * 0.25) as f32).abs() < 1e-5);
        assert!(f[10] == [0.0; 3] && f[30] == [0.0; 3], "{:?}", f[10]);
        // An irregular rhythm (intervals 70-130 in a fixed pseudo-random order): the same
        // 75-sample interval reads much nearer 0.
        let mut irregular: Vec<i64> = (0..40).map(|i| 70 + (i * 37 % 61)).collect();
        irregular[19] = 75;
        let g = timing(&times(&irregular));
        assert!(g[20][0] > 0.2, "{:?}", g[20]);
        assert!(g[20][1] < 0.0 && g[20][1] > 0.25 * z_pre, "{:?}", g[20]);
    }

    #[test]
    fn timing_features_are_bounded_and_survive_degenerate_beats() {
        assert_eq!(timing(&[]), Vec::<[f32; 3]>::new());
        assert_eq!(timing(&[5, 9]), vec![[0.0; 3]; 2]);
        // Two beats at one position, and one huge gap.
        let t = vec![0, 100, 100, 200, 300, 100_000, 100_100, 100_200, 100_300];
        for v in timing(&t) {
            assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
            assert!(
                v[0] <= 2.0 && v[1].abs() <= 2.5 && v[2].abs() <= 2.5,
                "{v:?}"
            );
        }
    }
}
