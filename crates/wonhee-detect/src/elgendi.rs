//! Elgendi, Jonkman & De Boer (2010), "Frequency bands effects on QRS detection" (BIOSIGNALS):
//! band-pass 8-20 Hz, square, and mark "blocks of interest" where a short moving average
//! (about one QRS, 97 ms) exceeds a long one (about one beat, 611 ms) plus an offset; a block
//! at least one QRS wide is a beat, placed on its largest band-passed deflection.
//!
//! The signal is processed in segments of [`SEGMENT`] samples, in parallel, without a copy of
//! the whole signal: each segment is filtered with [`WARM_SECONDS`] of signal either side (the
//! filter's start-up state has decayed far below one rounding step by then, so its band-passed
//! values are those of the whole signal) plus the long moving average's half-width. The
//! offset needs the mean squared band over the whole signal, so the band is computed twice:
//! once for that mean, once for the blocks. Four segments share one filter loop
//! ([`BandPass::apply_lanes`]), which breaks the filter's serial dependency.

use std::ops::Range;

use rayon::prelude::*;
use wonhee_signal::filter::BandPass;

use crate::source::ReadError;

/// Samples per segment.
pub(crate) const SEGMENT: usize = 1 << 16;
/// Signal filtered before and after a segment for the band-pass to settle (seconds): about 70
/// time constants of the 8 Hz high-pass (the slowest pole), a decay of 1e-30.
const WARM_SECONDS: f64 = 2.0;
/// Segments filtered together.
const LANES: usize = 4;

/// The QRS positions (sample indices) in `x` sampled at `fs` Hz.
pub fn elgendi(x: &[f64], fs: f64) -> Vec<usize> {
    let fill = |r: Range<usize>, out: &mut [f64]| {
        out.copy_from_slice(&x[r]);
        Ok(())
    };
    // The fill cannot fail.
    elgendi_with(x.len(), fs, SEGMENT, &fill).unwrap_or_default()
}

/// A maximal run of samples where the short average exceeds the long one plus the offset.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    end: usize,
    /// Its largest |band| (the last one on ties) and where.
    peak: usize,
    amp: f64,
}

/// Writes the signal's samples `range` as f64 into the slice.
pub(crate) trait Fill: Fn(Range<usize>, &mut [f64]) -> Result<(), ReadError> + Sync {}
impl<F: Fn(Range<usize>, &mut [f64]) -> Result<(), ReadError> + Sync> Fill for F {}

/// Fixed quantities of one detection.
struct Plan<'a, F> {
    n: usize,
    seg: usize,
    /// Samples filtered beyond what the segment needs, each side.
    warm: usize,
    w_qrs: usize,
    w_beat: usize,
    /// Samples of band needed before and after a segment by the moving averages.
    left: usize,
    right: usize,
    band: Option<BandPass>,
    fill: &'a F,
}

impl<F: Fill> Plan<'_, F> {
    /// The samples of segment `k`.
    fn segment(&self, k: usize) -> Range<usize> {
        let s = k * self.seg;
        s..(s + self.seg).min(self.n)
    }

    /// The samples filtered for segment `k`.
    fn filtered(&self, k: usize) -> Range<usize> {
        let r = self.segment(k);
        r.start.saturating_sub(self.left + self.warm)..(r.end + self.right + self.warm).min(self.n)
    }

    /// The band-passed signal over [`Plan::filtered`] of `N` segments of equal filtered
    /// length, interleaved.
    fn band<const N: usize>(
        &self,
        ks: [usize; N],
        buf: &mut Vec<[f64; N]>,
        lane: &mut Vec<f64>,
    ) -> Result<(), ReadError> {
        let len = self.filtered(ks[0]).len();
        buf.clear();
        buf.resize(len, [0.0; N]);
        for (j, &k) in ks.iter().enumerate() {
            lane.clear();
            lane.resize(len, 0.0);
            (self.fill)(self.filtered(k), lane)?;
            for (b, &v) in buf.iter_mut().zip(lane.iter()) {
                b[j] = v;
            }
        }
        if let Some(bp) = &self.band {
            bp.apply_lanes(buf);
        }
        Ok(())
    }

    /// The sum of squared band over each of segments `ks`, which share one geometry (the
    /// same length and the same filtered margin); the lanes are summed side by side, each in
    /// sample order.
    fn sums<const N: usize>(&self, ks: [usize; N]) -> Result<[f64; N], ReadError> {
        let (mut buf, mut lane) = (Vec::new(), Vec::new());
        self.band(ks, &mut buf, &mut lane)?;
        let (r, a) = (self.segment(ks[0]), self.filtered(ks[0]).start);
        let mut acc = [0.0; N];
        for b in &buf[r.start - a..r.end - a] {
            for j in 0..N {
                acc[j] += b[j] * b[j];
            }
        }
        Ok(acc)
    }

    /// [`Plan::runs`] of `N` full segments (all of whose averages lie inside the signal), the
    /// lanes side by side: the same arithmetic as [`Plan::runs`], lane by lane.
    fn runs_lanes<const N: usize>(
        &self,
        ks: [usize; N],
        offset: f64,
    ) -> Result<Vec<Vec<Run>>, ReadError> {
        const { assert!(N <= 32) };
        let (mut buf, mut lane) = (Vec::new(), Vec::new());
        self.band(ks, &mut buf, &mut lane)?;
        let (r0, a0) = (self.segment(ks[0]), self.filtered(ks[0]).start);
        let seg = r0.len();
        // buf[at + t] is the band at sample `r.start + t` of each lane's segment `r`.
        let at = r0.start - a0;
        let pa = at - self.left;
        let (hq, hb) = (self.w_qrs / 2, self.w_beat / 2);
        let (wq, wb) = (self.w_qrs as f64, self.w_beat as f64);
        let (q0, b0) = (self.left - hq, self.left - hb);
        // Prefix sums of the squared band from `pa`, kept in a ring: sample t needs those
        // from `t` (min(q0, b0) = 0) to `t + reach`.
        let reach = (q0 + self.w_qrs).max(b0 + self.w_beat);
        let size = (reach + 1).next_power_of_two();
        let m = size - 1;
        let mut ring: Vec<[f64; N]> = vec![[0.0; N]; size];
        let mut acc = [0.0; N];
        let mut push = |ring: &mut Vec<[f64; N]>, p: usize| {
            let b = &buf[pa + p - 1];
            for j in 0..N {
                acc[j] += b[j] * b[j];
            }
            ring[p & m] = acc;
        };
        for p in 1..=reach {
            push(&mut ring, p);
        }
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); N];
        let mut cur: [Option<Run>; N] = [None; N];
        let mut open = false;
        for t in 0..seg {
            if t > 0 {
                push(&mut ring, t + reach);
            }
            let (ql, qh) = (&ring[(t + q0) & m], &ring[(t + q0 + self.w_qrs) & m]);
            let (bl, bh) = (&ring[(t + b0) & m], &ring[(t + b0 + self.w_beat) & m]);
            let mut mask = 0u32;
            for j in 0..N {
                let hit = (qh[j] - ql[j]) / wq > (bh[j] - bl[j]) / wb + offset;
                mask |= u32::from(hit) << j;
            }
            if mask == 0 && !open {
                continue;
            }
            open = false;
            for j in 0..N {
                if mask >> j & 1 == 1 {
                    let i = self.segment(ks[j]).start + t;
                    let amp = buf[at + t][j].abs();
                    match &mut cur[j] {
                        Some(c) => {
                            c.end = i + 1;
                            if amp.total_cmp(&c.amp).is_ge() {
                                (c.peak, c.amp) = (i, amp);
                            }
                        }
                        None => {
                            cur[j] = Some(Run {
                                start: i,
                                end: i + 1,
                                peak: i,
                                amp,
                            });
                        }
                    }
                    open = true;
                } else if let Some(c) = cur[j].take() {
                    runs[j].push(c);
                }
            }
        }
        for (out, c) in runs.iter_mut().zip(cur) {
            out.extend(c);
        }
        Ok(runs)
    }

    /// The runs (clipped to the segment) in segment `k`, whose averages may reach past the
    /// signal's ends.
    fn runs(&self, k: usize, offset: f64) -> Result<Vec<Run>, ReadError> {
        let ks = [k];
        let (mut buf, mut lane) = (Vec::new(), Vec::new());
        self.band(ks, &mut buf, &mut lane)?;
        let mut prefix: Vec<f64> = Vec::new();
        let mut above: Vec<bool> = Vec::new();
        let (hq, hb) = (self.w_qrs / 2, self.w_beat / 2);
        let mut out: Vec<Vec<Run>> = ks
            .iter()
            .enumerate()
            .map(|(j, &k)| {
                let r = self.segment(k);
                let a = self.filtered(k).start;
                let band = |i: usize| buf[i - a][j];
                // Prefix sums of the squared band over what the averages reach.
                let pa = r.start.saturating_sub(self.left);
                let pb = (r.end + self.right).min(self.n);
                prefix.clear();
                prefix.push(0.0);
                let mut acc = 0.0;
                for i in pa..pb {
                    let v = band(i);
                    acc += v * v;
                    prefix.push(acc);
                }
                let ma = |i: usize, w: usize, half: usize| {
                    let lo = i.saturating_sub(half);
                    let hi = (i + w - half).min(self.n);
                    (prefix[hi - pa] - prefix[lo - pa]) / (hi - lo) as f64
                };
                let above_at = |i: usize| ma(i, self.w_qrs, hq) > ma(i, self.w_beat, hb) + offset;
                // Where both windows lie inside the signal, the same test without bounds
                // checks or branches, so that it vectorizes.
                let inner = r.start.max(hb).max(hq)
                    ..r.end
                        .min((self.n + hb + 1).saturating_sub(self.w_beat))
                        .min((self.n + hq + 1).saturating_sub(self.w_qrs));
                above.clear();
                if inner.start < inner.end {
                    above.extend((r.start..inner.start).map(above_at));
                    let (wq, wb) = (self.w_qrs as f64, self.w_beat as f64);
                    let m = inner.len();
                    let q_lo = &prefix[inner.start - hq - pa..][..m];
                    let q_hi = &prefix[inner.start - hq + self.w_qrs - pa..][..m];
                    let b_lo = &prefix[inner.start - hb - pa..][..m];
                    let b_hi = &prefix[inner.start - hb + self.w_beat - pa..][..m];
                    above.extend(
                        q_lo.iter()
                            .zip(q_hi)
                            .zip(b_lo.iter().zip(b_hi))
                            .map(|((ql, qh), (bl, bh))| (qh - ql) / wq > (bh - bl) / wb + offset),
                    );
                    above.extend((inner.end..r.end).map(above_at));
                } else {
                    above.extend(r.clone().map(above_at));
                }
                let mut runs = Vec::new();
                let mut cur: Option<Run> = None;
                for (i, &hit) in r.clone().zip(above.iter()) {
                    if hit {
                        let amp = band(i).abs();
                        match &mut cur {
                            Some(c) => {
                                c.end = i + 1;
                                if amp.total_cmp(&c.amp).is_ge() {
                                    (c.peak, c.amp) = (i, amp);
                                }
                            }
                            None => {
                                cur = Some(Run {
                                    start: i,
                                    end: i + 1,
                                    peak: i,
                                    amp,
                                });
                            }
                        }
                    } else if let Some(c) = cur.take() {
                        runs.push(c);
                    }
                }
                runs.extend(cur);
                runs
            })
            .collect();
        Ok(out.pop().unwrap_or_default())
    }
}

/// Jobs of [`LANES`] segments of equal filtered length, and single segments (the edges).
fn jobs<F: Fill>(plan: &Plan<'_, F>) -> Vec<Vec<usize>> {
    let count = plan.n.div_ceil(plan.seg);
    let full = plan.seg + plan.left + plan.right + 2 * plan.warm;
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut group: Vec<usize> = Vec::new();
    for k in 0..count {
        if plan.filtered(k).len() == full {
            group.push(k);
            if group.len() == LANES {
                out.push(std::mem::take(&mut group));
            }
        } else {
            out.extend(group.drain(..).map(|g| vec![g]));
            out.push(vec![k]);
        }
    }
    out.extend(group.into_iter().map(|k| vec![k]));
    out
}

/// [`elgendi`] on `n` samples that `fill(range, out)` writes as f64, `seg` samples at a time.
pub(crate) fn elgendi_with<F: Fill>(
    n: usize,
    fs: f64,
    seg: usize,
    fill: &F,
) -> Result<Vec<usize>, ReadError> {
    let w_qrs = ((0.097 * fs).round() as usize).max(1);
    let w_beat = ((0.611 * fs).round() as usize).max(1);
    let plan = Plan {
        n,
        seg: seg.max(1),
        warm: (WARM_SECONDS * fs).ceil() as usize,
        w_qrs,
        w_beat,
        left: (w_qrs / 2).max(w_beat / 2),
        right: (w_qrs - w_qrs / 2).max(w_beat - w_beat / 2),
        // 20 Hz < fs / 2 for every accepted rate (>= 100 Hz).
        band: BandPass::new(8.0, 20.0, fs).ok(),
        fill,
    };
    let jobs = jobs(&plan);
    // Pass 1: the mean squared band, for the offset.
    let sums: Vec<Vec<f64>> = jobs
        .par_iter()
        .map(|job| match <[usize; LANES]>::try_from(job.as_slice()) {
            Ok(ks) => Ok(plan.sums(ks)?.to_vec()),
            Err(_) => job.iter().map(|&k| Ok(plan.sums([k])?[0])).collect(),
        })
        .collect::<Result<_, ReadError>>()?;
    let total: f64 = sums.iter().flatten().sum();
    let offset = 0.08 * total / n.max(1) as f64;
    // Pass 2: the runs of each segment, joined across segment boundaries.
    let runs: Vec<Vec<Vec<Run>>> = jobs
        .par_iter()
        .map(|job| match <[usize; LANES]>::try_from(job.as_slice()) {
            Ok(ks) => plan.runs_lanes(ks, offset),
            Err(_) => job.iter().map(|&k| plan.runs(k, offset)).collect(),
        })
        .collect::<Result<_, ReadError>>()?;
    let refractory = (0.200 * fs).round() as usize;
    let mut beats: Vec<usize> = Vec::new();
    let mut last_amp = 0.0f64;
    let mut pending: Option<Run> = None;
    let mut accept = |run: Run, beats: &mut Vec<usize>| {
        if run.end - run.start < w_qrs {
            return;
        }
        match beats.last_mut() {
            Some(last) if run.peak < *last + refractory => {
                if run.amp > last_amp {
                    (*last, last_amp) = (run.peak, run.amp);
                }
            }
            _ => {
                beats.push(run.peak);
                last_amp = run.amp;
            }
        }
    };
    for run in runs.into_iter().flatten().flatten() {
        pending = match pending {
            Some(p) if p.end == run.start => Some(Run {
                start: p.start,
                end: run.end,
                ..if run.amp.total_cmp(&p.amp).is_ge() {
                    run
                } else {
                    p
                }
            }),
            Some(p) => {
                accept(p, &mut beats);
                Some(run)
            }
            None => Some(run),
        };
    }
    if let Some(p) = pending {
        accept(p, &mut beats);
    }
    Ok(beats)
}
