//! Pan & Tompkins (1985), offline, with filters designed for the sampling rate.

use wonhee_signal::filter::BandPass;

/// The processing chain's stages, each as long as the input.
struct Stages {
    /// Zero-phase 5-15 Hz band-pass of the input.
    band: Vec<f64>,
    /// Five-point derivative of `band` (centred: no delay).
    slope: Vec<f64>,
    /// Squared slope averaged over a centred 150 ms window.
    energy: Vec<f64>,
}

fn stages(x: &[f64], fs: f64) -> Stages {
    let mut band = x.to_vec();
    // 15 Hz < fs / 2 for every accepted rate (>= 100 Hz).
    if let Ok(bp) = BandPass::new(5.0, 15.0, fs) {
        bp.apply(&mut band);
    }
    let n = band.len();
    let mut slope = vec![0.0; n];
    for i in 2..n.saturating_sub(2) {
        slope[i] = (2.0 * band[i + 1] + band[i + 2] - band[i - 2] - 2.0 * band[i - 1]) * fs / 8.0;
    }
    let w = ((0.150 * fs).round() as usize).max(1);
    let half = w / 2;
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + slope[i] * slope[i];
    }
    let energy = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + w - half).min(n);
            (prefix[hi] - prefix[lo]) / w as f64
        })
        .collect();
    Stages {
        band,
        slope,
        energy,
    }
}

/// Local maxima of `e`, at most one per `gap` samples (the larger wins).
fn candidate_peaks(e: &[f64], gap: usize) -> Vec<usize> {
    let mut peaks: Vec<usize> = Vec::new();
    for i in 1..e.len().saturating_sub(1) {
        if !(e[i] > e[i - 1] && e[i] >= e[i + 1]) {
            continue;
        }
        match peaks.last_mut() {
            Some(last) if i - *last < gap => {
                if e[i] > e[*last] {
                    *last = i;
                }
            }
            _ => peaks.push(i),
        }
    }
    peaks
}

/// The adaptive levels of the decision rules.
struct Levels {
    signal: f64,
    noise: f64,
}

impl Levels {
    fn threshold(&self) -> f64 {
        self.noise + 0.20 * (self.signal - self.noise)
    }
}

/// Largest absolute slope within `r` samples of `i`.
fn max_slope(slope: &[f64], i: usize, r: usize) -> f64 {
    let lo = i.saturating_sub(r);
    let hi = (i + r + 1).min(slope.len());
    slope[lo..hi].iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The QRS positions (sample indices) in `x` sampled at `fs` Hz.
pub fn pan_tompkins(x: &[f64], fs: f64) -> Vec<usize> {
    let st = stages(x, fs);
    let e = &st.energy;
    let refractory = (0.200 * fs).round() as usize;
    let t_wave = (0.360 * fs).round() as usize;
    let slope_r = (0.075 * fs).round() as usize;
    let peaks = candidate_peaks(e, refractory);
    // Learning phase: the first 2 s set the levels.
    let learn = ((2.0 * fs) as usize).min(e.len());
    let first = &e[..learn];
    let mut lv = Levels {
        signal: first.iter().fold(0.0, |m: f64, v| m.max(*v)) / 3.0,
        noise: first.iter().sum::<f64>() / learn.max(1) as f64 / 2.0,
    };
    let mut beats: Vec<usize> = Vec::new();
    let mut last_slope = 0.0;
    let mut rr: Vec<usize> = Vec::new();
    // Index in `peaks` of the first candidate after the last accepted beat.
    let mut since_beat = 0;
    for (k, &p) in peaks.iter().enumerate() {
        // Search back: no beat for 1.66 mean RR, take the largest candidate above half the
        // threshold in between.
        if let (Some(&last), false) = (beats.last(), rr.is_empty()) {
            let mean_rr = rr.iter().sum::<usize>() as f64 / rr.len() as f64;
            if (p - last) as f64 > 1.5 * mean_rr {
                let best = peaks[since_beat..k]
                    .iter()
                    .copied()
                    .filter(|&q| q > last + refractory && e[q] > 0.5 * lv.threshold())
                    .max_by(|&a, &b| e[a].total_cmp(&e[b]));
                if let Some(q) = best {
                    lv.signal = 0.25 * e[q] + 0.75 * lv.signal;
                    accept(q, &mut beats, &mut rr);
                    last_slope = max_slope(&st.slope, q, slope_r);
                    since_beat = k;
                }
            }
        }
        if e[p] <= lv.threshold() {
            lv.noise = 0.125 * e[p] + 0.875 * lv.noise;
            continue;
        }
        let s = max_slope(&st.slope, p, slope_r);
        if let Some(&last) = beats.last() {
            if p <= last + refractory {
                continue;
            }
            if p - last < t_wave && s < 0.5 * last_slope {
                lv.noise = 0.125 * e[p] + 0.875 * lv.noise;
                continue;
            }
        }
        lv.signal = 0.125 * e[p] + 0.875 * lv.signal;
        accept(p, &mut beats, &mut rr);
        last_slope = s;
        since_beat = k + 1;
    }
    beats
        .into_iter()
        .map(|b| main_deflection(&st.band, b, (0.075 * fs).round() as usize))
        .collect()
}

/// Records beat `p` and the RR interval before it (the last 8 are kept).
fn accept(p: usize, beats: &mut Vec<usize>, rr: &mut Vec<usize>) {
    if let Some(&last) = beats.last() {
        rr.push(p - last);
        if rr.len() > 8 {
            rr.remove(0);
        }
    }
    beats.push(p);
}

/// The sample of largest absolute band-passed value within `r` samples of `i`: the QRS's main
/// deflection, where annotators put the beat.
fn main_deflection(band: &[f64], i: usize, r: usize) -> usize {
    let lo = i.saturating_sub(r);
    let hi = (i + r + 1).min(band.len());
    (lo..hi)
        .max_by(|&a, &b| band[a].abs().total_cmp(&band[b].abs()))
        .unwrap_or(i)
}
