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
/// [`process_into`](Self::process_into) computes in f64;
/// [`process_f32_into`](Self::process_f32_into) runs the same filter in f32, about twice as
/// fast, for callers that keep f32 output anyway.
#[derive(Clone, Debug)]
pub struct PolyphaseResampler {
    up: usize,
    down: usize,
    /// Taps per phase in `phases` (all phases padded to the same length).
    taps: usize,
    /// Phase `p`'s sub-filter, reversed and padded with leading zeros to a multiple of `LANES`
    /// (so the inner dot product has no remainder loop; the zero taps change nothing), at
    /// `phases[p * taps..(p + 1) * taps]`.
    phases: Vec<f64>,
    /// Taps per phase in `phases32`.
    taps32: usize,
    /// Phase `p`'s sub-filter in f32, in convolution order: tap `t` multiplies input `n0 - t`
    /// for an output whose last input is `n0`. At `phases32[p * taps32..(p + 1) * taps32]`.
    phases32: Vec<f32>,
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
        let taps32 = lh.div_ceil(up);
        let taps = taps32.div_ceil(LANES) * LANES;
        let mut phases = vec![0.0; up * taps];
        let mut phases32 = vec![0f32; up * taps32];
        for p in 0..up {
            for t in 0..taps32 {
                let j = p + up * t;
                if j < lh {
                    phases[p * taps + (taps - 1 - t)] = hp[j];
                    phases32[p * taps32 + t] = hp[j] as f32;
                }
            }
        }
        Ok(Self {
            up,
            down,
            taps,
            phases,
            taps32,
            phases32,
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

    /// Phase and last input index of output `m`: `k = (m + pre) * down`, `(k % up, k / up)`.
    fn locate(&self, m: usize) -> (usize, isize) {
        let k = (m + self.n_pre_remove) * self.down;
        (k % self.up, (k / self.up) as isize)
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

    /// [`process_into`](Self::process_into) in f32 arithmetic, into `out` (which must hold
    /// `output_len(x.len())` values; extra are left). Each output is the sum of its products
    /// taken in tap order; vector lanes hold different outputs (of one phase), so there is no
    /// horizontal reduction and every CPU gives the same bits. On signals of unit scale
    /// (z-scores) it differs from the f64 result by about 1e-7 of the signal's range.
    pub fn process_f32_into(&self, x: &[f32], out: &mut [f32]) {
        self.process_f32_map_into(x, |v| v, out);
    }

    /// [`process_f32_into`](Self::process_f32_into) of `x` mapped through `f`, without a
    /// mapped copy of `x`: e.g. integer samples z-scored on the fly (`f` is applied once per
    /// sample, as the kernel reads it).
    pub fn process_f32_map_into<T: Copy, F: Fn(T) -> f32>(&self, x: &[T], f: F, out: &mut [f32]) {
        pulp::Arch::new().dispatch(RunF32 { r: self, x, f, out });
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
            let (p, n0) = self.locate(m);
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

    /// The f32 kernel. Outputs `m` and `m + up` share a phase and their inputs lie `down`
    /// apart, so, for a block of outputs, the inputs are first split into `down` interleaved
    /// streams (`d[r][i] = x[o + down * i + r]`, zeros outside the signal): the inputs of
    /// `W` outputs `m, m + up, .., m + (W - 1) up` at one tap are then `W` consecutive values
    /// of one stream, and each tap is one vector multiply-add with the coefficient broadcast.
    #[inline(always)]
    fn run_f32<T: Copy, F: Fn(T) -> f32, S: pulp::Simd>(
        &self,
        simd: S,
        x: &[T],
        f: &F,
        out: &mut [f32],
    ) {
        if self.up == 1 && self.down == 1 {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = f(v);
            }
            return;
        }
        let n_out = self.output_len(x.len()).min(out.len());
        if n_out == 0 {
            return;
        }
        let (up, down, taps) = (self.up, self.down, self.taps32);
        let w = S::F32_LANES;
        // Outputs per block: `up` phases times `lanes` outputs each, in groups of `GROUP`
        // vectors (independent accumulators, so the additions of one tap do not wait on
        // each other).
        let gw = GROUP * w;
        let lanes = (BLOCK_OUTPUTS / up).div_ceil(gw).max(1) * gw;
        let block = up * lanes;
        let n_in = x.len() as isize;
        let mut d: Vec<f32> = Vec::new();
        let mut acc_lanes = vec![0f32; gw];
        for mb in (0..n_out).step_by(block) {
            // Inputs of the block: from the first output's first tap to the last output's last
            // input, in streams of `len` values (the last vector of lanes ends at the last).
            let o = self.locate(mb).1 - (taps as isize - 1);
            let last = self.locate(mb + block - 1).1;
            let len = ((last - o) as usize) / down + 1;
            d.resize(down * len, 0.0);
            // Stream r, index i holds input o + down * i + r (zeros outside the signal).
            let span = down * len;
            if o >= 0 && o as usize + span <= x.len() {
                let xs = &x[o as usize..o as usize + span];
                for (r, stream) in d.chunks_exact_mut(len).enumerate() {
                    for (v, row) in stream.iter_mut().zip(xs.chunks_exact(down)) {
                        *v = f(row[r]);
                    }
                }
            } else {
                for (r, stream) in d.chunks_exact_mut(len).enumerate() {
                    for (i, v) in stream.iter_mut().enumerate() {
                        let j = o + (down * i + r) as isize;
                        *v = if (0..n_in).contains(&j) {
                            f(x[j as usize])
                        } else {
                            0.0
                        };
                    }
                }
            }
            for q in 0..up.min(n_out - mb) {
                let (p, n0) = self.locate(mb + q);
                let g = &self.phases32[p * taps..(p + 1) * taps];
                for j0 in (0..lanes).step_by(gw) {
                    if mb + q + up * j0 >= n_out {
                        break;
                    }
                    // Input n0 + down * j0 - t, relative to `o`: stream `rel % down`, index
                    // `rel / down`; it moves back one sample per tap.
                    let rel = (n0 - o) as usize + down * j0;
                    let (mut r, mut i) = (rel % down, rel / down);
                    let mut acc = [simd.splat_f32s(0.0); GROUP];
                    for &c in g {
                        let base = r * len + i;
                        let (v, _) = S::as_simd_f32s(&d[base..base + gw]);
                        let c = simd.splat_f32s(c);
                        for k in 0..GROUP {
                            acc[k] = simd.add_f32s(acc[k], simd.mul_f32s(v[k], c));
                        }
                        if r == 0 {
                            r = down - 1;
                            i = i.wrapping_sub(1);
                        } else {
                            r -= 1;
                        }
                    }
                    acc_lanes.copy_from_slice(bytemuck::cast_slice(&acc));
                    for (l, &a) in acc_lanes.iter().enumerate() {
                        let m = mb + q + up * (j0 + l);
                        if m >= n_out {
                            break;
                        }
                        out[m] = a;
                    }
                }
            }
        }
    }
}

/// Vectors of outputs [`PolyphaseResampler::process_f32_into`] computes together.
const GROUP: usize = 4;

/// About how many outputs [`PolyphaseResampler::process_f32_into`] computes per block: the
/// block's input streams (`~BLOCK_OUTPUTS * down / up` values, 12 KB at 16 / 45) stay in the
/// L1 cache while they are written.
const BLOCK_OUTPUTS: usize = 1024;

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

/// [`Run`] for the f32 kernel.
struct RunF32<'a, T, F> {
    r: &'a PolyphaseResampler,
    x: &'a [T],
    f: F,
    out: &'a mut [f32],
}

impl<T: Copy, F: Fn(T) -> f32> pulp::WithSimd for RunF32<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        self.r.run_f32(simd, self.x, &self.f, self.out);
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
        // for both rate directions, short signals (edges only) and long ones, f64 and f32.
        for (up, down) in [(16, 45), (45, 16), (2, 3), (1, 7), (5, 1)] {
            let r = PolyphaseResampler::new(up, down).unwrap();
            for n in [1usize, 100, 5000, 17_003] {
                let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
                let fast = r.process(&x);
                let mut scalar = vec![0.0; fast.len()];
                r.run(pulp::Scalar::new(), &x, &mut scalar);
                for (m, (a, b)) in fast.iter().zip(&scalar).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "{up}/{down} n {n} m {m}");
                }
                let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let mut fast = vec![f32::NAN; scalar.len()];
                r.process_f32_into(&x, &mut fast);
                let mut scalar = vec![f32::NAN; fast.len()];
                r.run_f32(pulp::Scalar::new(), &x, &|v| v, &mut scalar);
                for (m, (a, b)) in fast.iter().zip(&scalar).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "f32 {up}/{down} n {n} m {m}");
                }
            }
        }
    }

    #[test]
    fn f32_kernel_fills_every_output_and_matches_f64_on_random_signals() {
        // Every length around block and vector boundaries, several ratios: all outputs written
        // (NaN-initialised) and within 1e-6 of the range of the f64 result.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for (up, down) in [(16, 45), (45, 16), (3, 2), (1, 4)] {
            let r = PolyphaseResampler::new(up, down).unwrap();
            for n in [2usize, 45, 46, 900, 11_519, 11_520, 11_521, 40_000] {
                let x: Vec<f64> = (0..n).map(|_| rnd()).collect();
                let y = r.process(&x);
                let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let mut y32 = vec![f32::NAN; y.len() + 3];
                r.process_f32_into(&x32, &mut y32);
                assert!(
                    y32[y.len()..].iter().all(|v| v.is_nan()),
                    "wrote past the end"
                );
                let range = y.iter().fold(0f64, |m, v| m.max(v.abs())) * 2.0;
                for (m, (&a, &b)) in y.iter().zip(&y32).enumerate() {
                    assert!(
                        (a - f64::from(b)).abs() <= 1e-6 * range,
                        "{up}/{down} n {n} m {m}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn f32_kernel_matches_f64_to_a_millionth_of_the_range() {
        // An ECG-like z-scored signal: narrow spikes on a slow wave, unit variance.
        let n = 40_000;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / 360.0;
                let spike = (-((t % 0.8 - 0.4) * 60.0).powi(2)).exp() * 6.0;
                (t * 1.3).sin() * 0.5 + spike - 0.8
            })
            .collect();
        let r = PolyphaseResampler::new(128, 360).unwrap();
        let y64 = r.process(&x);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut y32 = vec![0f32; y64.len()];
        r.process_f32_into(&x32, &mut y32);
        let (lo, hi) = y64
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let worst = y64
            .iter()
            .zip(&y32)
            .map(|(&a, &b)| (a - f64::from(b)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6 * (hi - lo), "worst {worst} range {}", hi - lo);
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
