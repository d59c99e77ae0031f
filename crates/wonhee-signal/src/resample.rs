//! Rational-rate resampling with the semantics of `scipy.signal.resample_poly` (polyphase FIR)
//! and `scipy.signal.resample` (FFT).

use std::sync::Arc;

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

use crate::SignalError;

/// Greatest common divisor.
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0, by its power series
/// `sum_k ((x/2)^k / k!)^2` (converges to full f64 precision for the arguments used here).
fn bessel_i0(x: f64) -> f64 {
    let q = (x / 2.0) * (x / 2.0);
    let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, 1.0f64);
    loop {
        term *= q / (k * k);
        sum += term;
        if term < sum * 1e-17 {
            return sum;
        }
        k += 1.0;
    }
}

/// Symmetric Kaiser window of `n` points (as `scipy.signal.windows.kaiser(n, beta, sym=True)`).
pub fn kaiser(n: usize, beta: f64) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    let denom = bessel_i0(beta);
    let m = (n - 1) as f64;
    (0..n)
        .map(|i| {
            let r = 2.0 * i as f64 / m - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / denom
        })
        .collect()
}

/// Low-pass FIR of `numtaps` taps with cutoff `cutoff` (relative to Nyquist), Kaiser window
/// `beta`, scaled to unit DC gain: `scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta))`.
pub fn firwin_kaiser(numtaps: usize, cutoff: f64, beta: f64) -> Vec<f64> {
    let alpha = 0.5 * (numtaps as f64 - 1.0);
    let win = kaiser(numtaps, beta);
    let mut h: Vec<f64> = (0..numtaps)
        .map(|i| {
            let m = i as f64 - alpha;
            cutoff * sinc(cutoff * m) * win[i]
        })
        .collect();
    let s: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= s);
    h
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// A polyphase resampler by the rational factor `up / down`, reusable across signals.
///
/// Output equals `scipy.signal.resample_poly(x, up, down)` with its defaults (Kaiser window,
/// beta 5.0, `half_len = 10 * max(up, down)`, zero padding): length `ceil(n * up / down)`.
#[derive(Clone, Debug)]
pub struct PolyphaseResampler {
    up: usize,
    down: usize,
    /// Taps per phase (all phases padded to the same length).
    taps: usize,
    /// Phase `p`'s sub-filter, reversed, at `phases[p * taps..(p + 1) * taps]`.
    phases: Vec<f64>,
    /// Leading outputs of the full convolution that are discarded.
    n_pre_remove: usize,
}

impl PolyphaseResampler {
    /// Designs the filter for `up / down` (reduced by their gcd).
    pub fn new(up: usize, down: usize) -> Result<Self, SignalError> {
        if up == 0 || down == 0 {
            return Err(SignalError::InvalidParameter(format!(
                "resampling factors must be >= 1 (got up {up}, down {down})"
            )));
        }
        let g = gcd(up, down);
        let (up, down) = (up / g, down / g);
        let max_rate = up.max(down);
        let half_len = 10 * max_rate;
        let mut h = firwin_kaiser(2 * half_len + 1, 1.0 / max_rate as f64, 5.0);
        h.iter_mut().for_each(|v| *v *= up as f64);
        let n_pre_pad = down - half_len % down;
        let n_pre_remove = (half_len + n_pre_pad) / down;
        let mut hp = vec![0.0; n_pre_pad];
        hp.extend_from_slice(&h);
        // scipy pads the end so the full output covers what is kept; the extra taps are zeros
        // and change nothing here, since out-of-range inputs are treated as zeros anyway.
        let lh = hp.len();
        // Each phase's taps, padded with leading zeros to a multiple of LANES so the inner dot
        // product has no remainder loop (the zero taps multiply real samples: no effect).
        let taps = lh.div_ceil(up).div_ceil(LANES) * LANES;
        let mut phases = vec![0.0; up * taps];
        for p in 0..up {
            for t in 0..taps {
                let j = p + up * t;
                if j < lh {
                    phases[p * taps + (taps - 1 - t)] = hp[j];
                }
            }
        }
        Ok(Self {
            up,
            down,
            taps,
            phases,
            n_pre_remove,
        })
    }

    /// Reduced up factor.
    pub fn up(&self) -> usize {
        self.up
    }

    /// Reduced down factor.
    pub fn down(&self) -> usize {
        self.down
    }

    /// Output length for `n` input samples: `ceil(n * up / down)`.
    pub fn output_len(&self, n: usize) -> usize {
        (n * self.up).div_ceil(self.down)
    }

    /// Resamples `x` into a new vector.
    pub fn process(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.output_len(x.len())];
        self.process_into(x, &mut out);
        out
    }

    /// Resamples `x` into `out`, which must hold `output_len(x.len())` values (extra are left).
    ///
    /// The inner loop is compiled for the best instruction set the CPU offers (via `pulp`'s
    /// runtime dispatch); the arithmetic order is fixed by the code, so every CPU gives the same
    /// bits.
    pub fn process_into(&self, x: &[f64], out: &mut [f64]) {
        pulp::Arch::new().dispatch(Run { r: self, x, out });
    }

    #[inline(always)]
    fn run<S: pulp::Simd>(&self, simd: S, x: &[f64], out: &mut [f64]) {
        if self.up == 1 && self.down == 1 {
            let n = x.len().min(out.len());
            out[..n].copy_from_slice(&x[..n]);
            return;
        }
        let n_out = self.output_len(x.len()).min(out.len());
        let taps = self.taps;
        let n_in = x.len() as isize;
        for (m, o) in out[..n_out].iter_mut().enumerate() {
            let k = (m + self.n_pre_remove) * self.down;
            let (p, n0) = (k % self.up, (k / self.up) as isize);
            let g = &self.phases[p * taps..(p + 1) * taps];
            // Inputs x[n0 - taps + 1 ..= n0] meet the reversed phase filter.
            let start = n0 - taps as isize + 1;
            *o = if start >= 0 && n0 < n_in {
                dot_simd(simd, g, &x[start as usize..=n0 as usize])
            } else {
                let lo = start.max(0);
                let hi = n0.min(n_in - 1);
                if lo > hi {
                    0.0
                } else {
                    let off = (lo - start) as usize;
                    let len = (hi - lo + 1) as usize;
                    dot(&g[off..off + len], &x[lo as usize..=hi as usize])
                }
            };
        }
    }
}

/// The resampling loop as a `pulp` operation, so it is compiled once per instruction set
/// (a closure would not inherit the target features).
struct Run<'a> {
    r: &'a PolyphaseResampler,
    x: &'a [f64],
    out: &'a mut [f64],
}

impl pulp::WithSimd for Run<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        self.r.run(simd, self.x, self.out);
    }
}

/// [`dot`] with explicit vectors: `LANES / F64_LANES` vector accumulators hold exactly the
/// `LANES` partial sums of the scalar version, so both give the same bits. `a` and `b` have the
/// same length, a multiple of `LANES`.
#[inline(always)]
fn dot_simd<S: pulp::Simd>(simd: S, a: &[f64], b: &[f64]) -> f64 {
    let lanes = S::F64_LANES;
    if lanes == 1
        || !LANES.is_multiple_of(lanes)
        || a.len() != b.len()
        || !a.len().is_multiple_of(LANES)
    {
        return dot(a, b);
    }
    let nv = LANES / lanes;
    let (av, _) = S::as_simd_f64s(a);
    let (bv, _) = S::as_simd_f64s(b);
    let zero = simd.splat_f64s(0.0);
    let mut acc = [zero; LANES];
    for (ca, cb) in av.chunks_exact(nv).zip(bv.chunks_exact(nv)) {
        for j in 0..nv {
            acc[j] = simd.add_f64s(acc[j], simd.mul_f64s(ca[j], cb[j]));
        }
    }
    let mut flat = [0.0f64; LANES];
    flat.copy_from_slice(bytemuck::cast_slice(&acc[..nv]));
    reduce(flat, 0.0)
}

/// The fixed pairwise reduction of `LANES` partial sums, then `tail`.
#[inline(always)]
fn reduce(mut acc: [f64; LANES], tail: f64) -> f64 {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0] + tail
}

/// Width of the dot product's accumulator array.
const LANES: usize = 16;

/// Dot product with `LANES` independent accumulators (vectorisable without reassociation, so
/// the result does not depend on the vector width), then a fixed pairwise reduction.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    reduce(acc, tail)
}

/// `scipy.signal.resample_poly(x, up, down)` in one call.
pub fn resample_poly(x: &[f64], up: usize, down: usize) -> Result<Vec<f64>, SignalError> {
    Ok(PolyphaseResampler::new(up, down)?.process(x))
}

/// FFT resampling to `num` samples: `scipy.signal.resample(x, num)` (no window).
///
/// The spectrum of `x` is cut (or zero-extended) to `num` bins and transformed back; the
/// unpaired bin of an even-length spectrum is handled as scipy does.
pub fn resample_fft(x: &[f64], num: usize) -> Vec<f64> {
    let n_x = x.len();
    if n_x == 0 || num == 0 {
        return vec![0.0; num];
    }
    let mut planner = FftPlanner::<f64>::new();
    let fwd: Arc<dyn rustfft::Fft<f64>> = planner.plan_fft_forward(n_x);
    let mut spec: Vec<Complex<f64>> = x.iter().map(|&v| Complex::new(v, 0.0)).collect();
    fwd.process(&mut spec);
    let m = num.min(n_x);
    let m2 = m / 2 + 1;
    let s_fac = n_x as f64 / num as f64;
    // One-sided spectrum of the output (bins 0..=num/2), as irfft sees it.
    let mut half: Vec<Complex<f64>> = vec![Complex::new(0.0, 0.0); num / 2 + 1];
    for (h, s) in half.iter_mut().zip(&spec[..m2.min(num / 2 + 1)]) {
        *h = *s;
    }
    if m.is_multiple_of(2) && num != n_x && m / 2 < half.len() {
        half[m / 2] *= if num < n_x { 2.0 } else { 0.5 };
    }
    // Hermitian completion; irfft ignores the imaginary parts of DC and an even Nyquist bin,
    // which taking the real part of the inverse transform does too.
    let mut full: Vec<Complex<f64>> = vec![Complex::new(0.0, 0.0); num];
    for (k, h) in half.iter().enumerate() {
        full[k] = *h / s_fac;
        if k > 0 && num - k != k {
            full[num - k] = h.conj() / s_fac;
        }
    }
    if num.is_multiple_of(2) {
        let nyq = num / 2;
        full[nyq] = Complex::new(full[nyq].re, 0.0);
    }
    let inv = planner.plan_fft_inverse(num);
    inv.process(&mut full);
    full.iter().map(|c| c.re / num as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i0_known_values() {
        // Reference values from Abramowitz & Stegun table 9.8.
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-14);
        assert!((bessel_i0(5.0) - 27.239_871_823_604_44).abs() < 1e-12);
    }

    #[test]
    fn firwin_is_normalised_and_symmetric() {
        let h = firwin_kaiser(901, 1.0 / 45.0, 5.0);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for i in 0..450 {
            assert!((h[i] - h[900 - i]).abs() < 1e-16);
        }
    }

    #[test]
    fn simd_and_scalar_dot_agree_bit_for_bit() {
        let a: Vec<f64> = (0..64).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..64).map(|i| (i as f64 * 1.1).cos() * 1e3).collect();
        let scalar = dot(&a, &b);
        struct D<'a>(&'a [f64], &'a [f64]);
        impl pulp::WithSimd for D<'_> {
            type Output = f64;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, simd: S) -> f64 {
                dot_simd(simd, self.0, self.1)
            }
        }
        assert_eq!(
            pulp::Arch::new().dispatch(D(&a, &b)).to_bits(),
            scalar.to_bits()
        );
    }

    #[test]
    fn vector_and_scalar_paths_agree_bit_for_bit() {
        // The widest instruction set here against pulp's one-lane scalar backend: same bits,
        // for both rate directions, short signals (edges only) and long ones.
        for (up, down) in [(16, 45), (45, 16), (2, 3), (1, 7)] {
            let r = PolyphaseResampler::new(up, down).unwrap();
            for n in [1usize, 100, 5000, 17_003] {
                let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
                let fast = r.process(&x);
                let mut scalar = vec![0.0; fast.len()];
                r.run(pulp::Scalar::new(), &x, &mut scalar);
                for (m, (a, b)) in fast.iter().zip(&scalar).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "{up}/{down} n {n} m {m}");
                }
            }
        }
    }

    #[test]
    fn lengths_and_identity() {
        let r = PolyphaseResampler::new(128, 360).unwrap();
        assert_eq!((r.up(), r.down()), (16, 45));
        assert_eq!(r.output_len(650_000), 231_112);
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(resample_poly(&x, 3, 3).unwrap(), x);
        assert!(PolyphaseResampler::new(0, 3).is_err());
    }

    #[test]
    fn constant_stays_constant_away_from_edges() {
        let x = vec![2.5; 4000];
        let y = resample_poly(&x, 16, 45).unwrap();
        for v in &y[100..y.len() - 100] {
            assert!((v - 2.5).abs() < 1e-3, "{v}");
        }
    }

    #[test]
    fn fft_resample_of_a_sine_is_a_sine() {
        let n = 900;
        let x: Vec<f64> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 3.0 * i as f64 / n as f64).sin())
            .collect();
        let y = resample_fft(&x, 320);
        for (i, v) in y.iter().enumerate() {
            let e = (2.0 * std::f64::consts::PI * 3.0 * i as f64 / 320.0).sin();
            assert!((v - e).abs() < 1e-9, "{i}: {v} vs {e}");
        }
        let up = resample_fft(&x, 1000);
        assert_eq!(up.len(), 1000);
    }
}
