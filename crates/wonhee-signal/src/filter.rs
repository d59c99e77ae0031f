//! Optional ECG preprocessing, off by default in the WonHEE pipeline (the paper uses none):
//! baseline-wander removal by two cascaded median filters (200 ms then 600 ms, the method of
//! de Chazal et al. 2004), and a zero-phase Butterworth band-pass.

use crate::SignalError;

/// Sliding median of odd width `w` (centred; the window shrinks at the ends).
pub fn median_filter(x: &[f64], w: usize) -> Vec<f64> {
    let w = w.max(1) | 1;
    let half = w / 2;
    let n = x.len();
    let mut out = Vec::with_capacity(n);
    // A sorted copy of the current window, updated by one removal and one insertion per step.
    let mut win: Vec<f64> = Vec::with_capacity(w);
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    let insert = |win: &mut Vec<f64>, v: f64| {
        let pos = win.partition_point(|&u| u < key(v));
        win.insert(pos, key(v));
    };
    let remove = |win: &mut Vec<f64>, v: f64| {
        let pos = win.partition_point(|&u| u < key(v));
        if pos < win.len() {
            win.remove(pos);
        }
    };
    let (mut lo, mut hi) = (0usize, 0usize); // window is x[lo..hi]
    for i in 0..n {
        let want_lo = i.saturating_sub(half);
        let want_hi = (i + half + 1).min(n);
        while hi < want_hi {
            insert(&mut win, x[hi]);
            hi += 1;
        }
        while lo < want_lo {
            remove(&mut win, x[lo]);
            lo += 1;
        }
        let m = win.len();
        out.push(if m % 2 == 1 {
            win[m / 2]
        } else {
            0.5 * (win[m / 2 - 1] + win[m / 2])
        });
    }
    out
}

/// Subtracts the baseline estimated by a 200 ms median followed by a 600 ms median.
pub fn remove_baseline(x: &[f64], fs: f64) -> Vec<f64> {
    let w1 = ((0.2 * fs).round() as usize) | 1;
    let w2 = ((0.6 * fs).round() as usize) | 1;
    let base = median_filter(&median_filter(x, w1), w2);
    x.iter().zip(&base).map(|(v, b)| v - b).collect()
}

/// One second-order section `b0 + b1 z^-1 + b2 z^-2 / 1 + a1 z^-1 + a2 z^-2`.
#[derive(Clone, Copy, Debug)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    /// Second-order Butterworth low-pass (bilinear transform, pre-warped).
    fn lowpass(fc: f64, fs: f64) -> Self {
        let k = (std::f64::consts::PI * fc / fs).tan();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let norm = 1.0 / (1.0 + k / q + k * k);
        let b0 = k * k * norm;
        Self {
            b: [b0, 2.0 * b0, b0],
            a: [2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm],
        }
    }

    /// Second-order Butterworth high-pass.
    fn highpass(fc: f64, fs: f64) -> Self {
        let k = (std::f64::consts::PI * fc / fs).tan();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let norm = 1.0 / (1.0 + k / q + k * k);
        Self {
            b: [norm, -2.0 * norm, norm],
            a: [2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm],
        }
    }

    /// Filters in place (direct form II transposed), starting from the steady state of the
    /// first sample to avoid a start-up transient.
    fn run(&self, x: &mut [f64]) {
        let Some(&x0) = x.first() else { return };
        let dc = (self.b[0] + self.b[1] + self.b[2]) / (1.0 + self.a[0] + self.a[1]);
        let y0 = x0 * dc;
        let mut z1 = y0 - self.b[0] * x0;
        let mut z2 = self.b[2] * x0 - self.a[1] * y0;
        for v in x.iter_mut() {
            let inp = *v;
            let out = self.b[0] * inp + z1;
            z1 = self.b[1] * inp - self.a[0] * out + z2;
            z2 = self.b[2] * inp - self.a[1] * out;
            *v = out;
        }
    }

    /// The start-up state of [`Biquad::run`] for every lane: the steady state of `x0`.
    #[inline(always)]
    fn init<const N: usize>(&self, x0: &[f64; N]) -> ([f64; N], [f64; N]) {
        let dc = (self.b[0] + self.b[1] + self.b[2]) / (1.0 + self.a[0] + self.a[1]);
        let (mut z1, mut z2) = ([0.0; N], [0.0; N]);
        for j in 0..N {
            let y0 = x0[j] * dc;
            z1[j] = y0 - self.b[0] * x0[j];
            z2[j] = self.b[2] * x0[j] - self.a[1] * y0;
        }
        (z1, z2)
    }

    /// One step of [`Biquad::run`] in every lane, with the same arithmetic.
    #[inline(always)]
    fn step<const N: usize>(&self, z1: &mut [f64; N], z2: &mut [f64; N], v: &mut [f64; N]) {
        for j in 0..N {
            let inp = v[j];
            let out = self.b[0] * inp + z1[j];
            z1[j] = self.b[1] * inp - self.a[0] * out + z2[j];
            z2[j] = self.b[2] * inp - self.a[1] * out;
            v[j] = out;
        }
    }

    /// Magnitude response at frequency `f`.
    fn gain(&self, f: f64, fs: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * f / fs;
        let z1 = (w.cos(), -w.sin());
        let z2 = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = (
            self.b[0] + self.b[1] * z1.0 + self.b[2] * z2.0,
            self.b[1] * z1.1 + self.b[2] * z2.1,
        );
        let den = (
            1.0 + self.a[0] * z1.0 + self.a[1] * z2.0,
            self.a[0] * z1.1 + self.a[1] * z2.1,
        );
        (num.0.hypot(num.1)) / (den.0.hypot(den.1))
    }
}

/// A zero-phase band-pass: second-order Butterworth high-pass and low-pass, run forwards then
/// backwards (so fourth-order magnitude, no phase shift, as `filtfilt` gives).
#[derive(Clone, Debug)]
pub struct BandPass {
    sections: [Biquad; 2],
}

impl BandPass {
    /// Pass band `[low, high]` Hz at sampling rate `fs`.
    pub fn new(low: f64, high: f64, fs: f64) -> Result<Self, SignalError> {
        if !(low > 0.0 && low < high && high < fs / 2.0) {
            return Err(SignalError::InvalidParameter(format!(
                "band-pass needs 0 < low < high < fs/2 (got {low}, {high}, fs {fs})"
            )));
        }
        Ok(Self {
            sections: [Biquad::highpass(low, fs), Biquad::lowpass(high, fs)],
        })
    }

    /// Filters `x` in place, forwards then backwards.
    pub fn apply(&self, x: &mut [f64]) {
        for s in &self.sections {
            s.run(x);
        }
        x.reverse();
        for s in &self.sections {
            s.run(x);
        }
        x.reverse();
    }

    /// Filters `N` independent signals at once, interleaved (`x[t][j]` is sample `t` of signal
    /// `j`), each exactly as [`BandPass::apply`] would (bit for bit): the lanes and the two
    /// sections, run in one loop, are independent chains that the processor overlaps, where
    /// `apply` waits on one recursion at a time. Compiled for the widest vector registers the
    /// processor has (via `pulp`); no fused multiply-adds, so the bits do not depend on them.
    pub fn apply_lanes<const N: usize>(&self, x: &mut [[f64; N]]) {
        pulp::Arch::new().dispatch(Lanes { bp: self, x });
    }

    #[inline(always)]
    fn lanes<const N: usize>(&self, x: &mut [[f64; N]]) {
        let [s1, s2] = &self.sections;
        Self::pair(s1, s2, x.iter_mut());
        Self::pair(s1, s2, x.iter_mut().rev());
    }

    /// Runs `s1` then `s2` over the samples in one loop: `s2` starts from the steady state of
    /// `s1`'s first output, as when each runs over the whole signal in turn.
    #[inline(always)]
    fn pair<'a, const N: usize>(
        s1: &Biquad,
        s2: &Biquad,
        mut it: impl Iterator<Item = &'a mut [f64; N]>,
    ) {
        let Some(first) = it.next() else { return };
        let (mut a1, mut a2) = s1.init(first);
        s1.step(&mut a1, &mut a2, first);
        let (mut b1, mut b2) = s2.init(first);
        s2.step(&mut b1, &mut b2, first);
        for v in it {
            s1.step(&mut a1, &mut a2, v);
            s2.step(&mut b1, &mut b2, v);
        }
    }

    /// Magnitude response of the zero-phase filter at `f` Hz.
    pub fn gain(&self, f: f64, fs: f64) -> f64 {
        self.sections
            .iter()
            .map(|s| s.gain(f, fs))
            .product::<f64>()
            .powi(2)
    }
}

/// [`BandPass::apply_lanes`] as a `pulp` operation: compiled once per instruction set (a plain
/// generic function would get only the baseline's 128-bit registers).
struct Lanes<'a, const N: usize> {
    bp: &'a BandPass,
    x: &'a mut [[f64; N]],
}

impl<const N: usize> pulp::WithSimd for Lanes<'_, N> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.bp.lanes(self.x);
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    #[test]
    fn median_matches_sorting() {
        let x: Vec<f64> = (0..200).map(|i| ((i * 7919) % 101) as f64).collect();
        let y = median_filter(&x, 9);
        for i in 0..x.len() {
            let lo = i.saturating_sub(4);
            let hi = (i + 5).min(x.len());
            let mut w = x[lo..hi].to_vec();
            w.sort_by(f64::total_cmp);
            let m = w.len();
            let e = if m % 2 == 1 {
                w[m / 2]
            } else {
                0.5 * (w[m / 2 - 1] + w[m / 2])
            };
            assert_eq!(y[i], e, "{i}");
        }
    }

    #[test]
    fn baseline_removal_kills_a_slow_drift() {
        let fs = 360.0;
        let x: Vec<f64> = (0..3600)
            .map(|i| 0.5 * (i as f64 / fs * 0.2).sin() + if i % 300 == 0 { 1.0 } else { 0.0 })
            .collect();
        let y = remove_baseline(&x, fs);
        // Away from the ends, where the median windows are cut short.
        let drift: f64 = y
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 300 > 5 && *i > 120 && *i < 3480)
            .map(|(_, v)| v.abs())
            .fold(0.0, f64::max);
        assert!(drift < 1e-3, "{drift}");
        assert!((y[600] - 1.0).abs() < 0.05);
    }

    #[test]
    fn bandpass_response() {
        let bp = BandPass::new(0.5, 40.0, 360.0).unwrap();
        assert!(bp.gain(0.0, 360.0) < 1e-12);
        assert!((bp.gain(10.0, 360.0) - 1.0).abs() < 0.01);
        assert!((bp.gain(40.0, 360.0) - 0.5).abs() < 1e-3); // -3 dB per pass, twice
        assert!(bp.gain(120.0, 360.0) < 0.01);
        // A 10 Hz sine passes with its phase intact; a DC offset is removed.
        let mut x: Vec<f64> = (0..7200)
            .map(|i| 3.0 + (2.0 * std::f64::consts::PI * 10.0 * i as f64 / 360.0).sin())
            .collect();
        bp.apply(&mut x);
        for i in 2000..5000 {
            let e = (2.0 * std::f64::consts::PI * 10.0 * i as f64 / 360.0).sin();
            assert!((x[i] - e).abs() < 0.02, "{i}: {} vs {e}", x[i]);
        }
        assert!(BandPass::new(50.0, 40.0, 360.0).is_err());
    }

    #[test]
    fn lanes_match_apply_bit_for_bit() {
        let bp = BandPass::new(8.0, 20.0, 360.0).unwrap();
        let lanes: Vec<Vec<f64>> = (0..4)
            .map(|j| {
                (0..5000)
                    .map(|i| ((i * (7 + j)) % 113) as f64 * 0.01 + j as f64)
                    .collect()
            })
            .collect();
        let mut inter: Vec<[f64; 4]> = (0..5000)
            .map(|i| [lanes[0][i], lanes[1][i], lanes[2][i], lanes[3][i]])
            .collect();
        bp.apply_lanes(&mut inter);
        for (j, lane) in lanes.iter().enumerate() {
            let mut y = lane.clone();
            bp.apply(&mut y);
            for i in 0..y.len() {
                assert_eq!(y[i].to_bits(), inter[i][j].to_bits(), "lane {j} sample {i}");
            }
        }
        bp.apply_lanes::<2>(&mut []);
    }
}
