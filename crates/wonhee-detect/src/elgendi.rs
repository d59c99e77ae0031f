//! Elgendi, Jonkman & De Boer (2010), "Frequency bands effects on QRS detection" (BIOSIGNALS):
//! band-pass 8-20 Hz, square, and mark "blocks of interest" where a short moving average
//! (about one QRS, 97 ms) exceeds a long one (about one beat, 611 ms) plus an offset; a block
//! at least one QRS wide is a beat, placed on its largest band-passed deflection.

use wonhee_signal::filter::BandPass;

/// The QRS positions (sample indices) in `x` sampled at `fs` Hz.
pub fn elgendi(x: &[f64], fs: f64) -> Vec<usize> {
    let mut band = x.to_vec();
    // 20 Hz < fs / 2 for every accepted rate (>= 100 Hz).
    if let Ok(bp) = BandPass::new(8.0, 20.0, fs) {
        bp.apply(&mut band);
    }
    let sq: Vec<f64> = band.iter().map(|v| v * v).collect();
    let w_qrs = ((0.097 * fs).round() as usize).max(1);
    let w_beat = ((0.611 * fs).round() as usize).max(1);
    let ma_qrs = moving_average(&sq, w_qrs);
    let ma_beat = moving_average(&sq, w_beat);
    let offset = 0.08 * sq.iter().sum::<f64>() / sq.len().max(1) as f64;
    let refractory = (0.200 * fs).round() as usize;
    let mut beats: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < sq.len() {
        if ma_qrs[i] <= ma_beat[i] + offset {
            i += 1;
            continue;
        }
        let start = i;
        while i < sq.len() && ma_qrs[i] > ma_beat[i] + offset {
            i += 1;
        }
        if i - start < w_qrs {
            continue;
        }
        let peak = (start..i)
            .max_by(|&a, &b| band[a].abs().total_cmp(&band[b].abs()))
            .unwrap_or(start);
        match beats.last_mut() {
            Some(last) if peak < *last + refractory => {
                if band[peak].abs() > band[*last].abs() {
                    *last = peak;
                }
            }
            _ => beats.push(peak),
        }
    }
    beats
}

/// Centred moving average over `w` samples (shorter at the ends).
fn moving_average(x: &[f64], w: usize) -> Vec<f64> {
    let n = x.len();
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    let half = w / 2;
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + w - half).min(n);
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}
