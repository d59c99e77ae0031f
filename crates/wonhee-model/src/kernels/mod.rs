//! Hand-written CPU kernels behind the fused ops in [`crate::ops`].
//!
//! Why by hand: candle 0.11's CPU backend runs every elementwise op as its own pass with its own
//! allocation, and its fused `softmax_last_dim`/`rms_norm` have no backward. The kernels here
//! fuse each op (and its backward) into one pass per row, and the attention kernel computes
//! softmax(QK^T)V in blocks of query rows so the score tensor never exists in full.
//!
//! Code generation: the kernels are plain Rust written so that LLVM vectorises them (fixed-size
//! lane arrays, no cross-lane float reductions in loops). They are generic over [`Arith`] and
//! run through [`dispatch`], which compiles them a second time with AVX2+FMA enabled and picks
//! that copy at run time when the CPU has it (one of the crate's two `unsafe` blocks; the other
//! is the bounds-checked call into the `gemm` crate in `sgemm`). The portable copy is used
//! elsewhere and can be forced with `WONHEE_SIMD=portable` for testing.
//!
//! Determinism: every reduction is done by one thread over a fixed partition of the data (rows
//! or batch elements), in a fixed order, so results do not depend on thread count or timing.

pub(crate) mod attention;
pub(crate) mod fused_block;
pub(crate) mod rowwise;
pub(crate) mod sgemm;

use std::sync::OnceLock;

/// Scalar arithmetic a kernel is instantiated with: `fma` is a fused multiply-add where the
/// target has one, and a plain `a * b + c` where it does not (calling `f32::mul_add` without
/// hardware FMA would call into libm for every element).
pub(crate) trait Arith: Copy {
    /// `a * b + c`.
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

/// Hardware fused multiply-add (x86-64 with FMA, aarch64).
#[derive(Clone, Copy)]
pub(crate) struct Fused;

/// Separate multiply and add (portable fallback).
#[derive(Clone, Copy)]
pub(crate) struct Unfused;

impl Arith for Fused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl Arith for Unfused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// A kernel body, instantiated once per [`Arith`]. Implementations must be `#[inline(always)]`
/// (as must everything they call) so that the body is compiled inside the feature-enabled
/// wrapper of [`dispatch`].
pub(crate) trait Kernel {
    type Output;
    fn run<A: Arith>(self) -> Self::Output;
}

/// Which instruction set the kernels use on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// Baseline code generation of the target (SSE2 on x86-64), no FMA on x86-64.
    Portable,
    /// x86-64 AVX2 + FMA.
    Avx2Fma,
    /// aarch64 NEON with FMA (baseline there).
    Neon,
}

/// The instruction set [`dispatch`] uses: the best one the CPU has, unless the environment
/// variable `WONHEE_SIMD=portable` asks for the portable code (read once per process).
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if std::env::var("WONHEE_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("portable")) {
            return SimdLevel::Portable;
        }
        detect()
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> SimdLevel {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        SimdLevel::Avx2Fma
    } else {
        SimdLevel::Portable
    }
}

#[cfg(target_arch = "aarch64")]
fn detect() -> SimdLevel {
    SimdLevel::Neon
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detect() -> SimdLevel {
    SimdLevel::Portable
}

/// The widest vector kernels the matrix products (the `gemm` crate) use on this machine:
/// `"avx512"` where the CPU has AVX-512F and the crate's `avx512` feature is on (the default),
/// `"avx2+fma"` where it has AVX2 and FMA, else `"portable"` (x86-64); `"neon"` on aarch64.
pub fn matmul_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "avx2+fma";
        }
        "portable"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "portable"
    }
}

/// Runs `k` with the best instruction set of this CPU (see [`simd_level`]).
#[inline]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Output {
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2Fma => {
            #[allow(unsafe_code)]
            // SAFETY: `run_avx2_fma` only requires the CPU to support AVX2 and FMA, which
            // `detect` verified with `is_x86_feature_detected!` before selecting this level.
            unsafe {
                run_avx2_fma(k)
            }
        }
        SimdLevel::Neon => k.run::<Fused>(),
        _ => k.run::<Unfused>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<K: Kernel>(k: K) -> K::Output {
    k.run::<Fused>()
}

/// `e^x` for f32, max relative error about 2 ulp on [-87, 88] (Cephes-style range reduction and
/// degree-6 polynomial); inputs below -87.3 give about 1e-38 rather than 0 (callers that need an
/// exact zero, like masked attention scores, set it themselves). Written branch-free so that
/// loops calling it vectorise.
#[inline(always)]
pub(crate) fn exp<A: Arith>(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.3);
    let t = A::fma(x, std::f32::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    let r = A::fma(n, -LN2_HI, x);
    let r = A::fma(n, -LN2_LO, r);
    let mut p = 1.987_569_1e-4_f32;
    p = A::fma(p, r, 1.398_199_9e-3);
    p = A::fma(p, r, 8.333_452e-3);
    p = A::fma(p, r, 4.166_579_6e-2);
    p = A::fma(p, r, 1.666_666_5e-1);
    p = A::fma(p, r, 0.5);
    let y = A::fma(p, r * r, r) + 1.0;
    // The low bits of `t` hold n (as 0x4B40_0000 + n); shifting n + 127 into the exponent field
    // gives 2^n for -126 <= n <= 127, which the clamp above guarantees.
    let pow2n = f32::from_bits(t.to_bits().wrapping_add(127) << 23);
    y * pow2n
}

/// The first `N` elements of `s` as an array reference (panics if `s` is shorter, which the
/// callers' index arithmetic rules out).
#[inline(always)]
pub(crate) fn as_array<const N: usize>(s: &[f32]) -> &[f32; N] {
    match s[..N].try_into() {
        Ok(a) => a,
        Err(_) => unreachable!("slice of length N converts to [f32; N]"),
    }
}

/// Logistic sigmoid built on [`exp`].
#[inline(always)]
pub(crate) fn sigmoid<A: Arith>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<A>(-x))
}

/// Integer hash (lowbias32, good avalanche) used for counter-based dropout masks.
#[inline(always)]
pub(crate) fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Key of one row of a dropout mask: mixes the 64-bit seed of the dropout site with the row
/// index (splitmix64 finaliser).
#[inline(always)]
pub(crate) fn row_key(seed: u64, row: u64) -> u32 {
    let mut z = seed ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z ^ (z >> 32)) as u32
}

/// Whether element `col` of the row with key `key` is kept: true with probability
/// `1 - threshold / 2^32`.
#[inline(always)]
pub(crate) fn keep(key: u32, col: u32, threshold: u32) -> bool {
    hash32(key ^ col.wrapping_mul(0x9e37_79b9)) >= threshold
}

/// The `keep` threshold for drop probability `p` in [0, 1).
pub(crate) fn drop_threshold(p: f32) -> u32 {
    (f64::from(p) * 4_294_967_296.0).min(4_294_967_295.0) as u32
}

/// Number of elements per row of the dropout mask of a flat tensor (see
/// [`rowwise::dropout_fwd`]): element `e` is column `e % DROPOUT_ROW` of row `e / DROPOUT_ROW`.
pub(crate) const DROPOUT_ROW: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_a_few_ulp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            for y in [exp::<Fused>(x), exp::<Unfused>(x)] {
                let want = f64::from(x).exp();
                let rel = ((f64::from(y) - want) / want).abs();
                worst = worst.max(rel);
            }
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert!(exp::<Fused>(f32::NEG_INFINITY) < 1e-37);
        assert_eq!(exp::<Fused>(0.0), 1.0);
    }

    #[test]
    fn keep_rate_matches_probability() {
        for p in [0.1f32, 0.5] {
            let t = drop_threshold(p);
            let mut kept = 0usize;
            let n = 200_000u32;
            for i in 0..n {
                let key = row_key(42, u64::from(i / 1000));
                if keep(key, i % 1000, t) {
                    kept += 1;
                }
            }
            let rate = kept as f64 / f64::from(n);
            assert!(
                (rate - (1.0 - f64::from(p))).abs() < 0.005,
                "p={p} keep rate {rate}"
            );
        }
        assert!(keep(row_key(1, 2), 3, drop_threshold(0.0)));
    }

    /// The portable instantiation (no FMA) of every kernel agrees with the FMA one.
    #[test]
    fn portable_and_fma_kernels_agree() {
        use super::attention::{AttnFwd, AttnShape};
        use super::rowwise::{RmsNormFwd, SoftmaxFwd, SwigluBwd, SwigluFwd};
        let v: Vec<f32> = (0..4096)
            .map(|i| ((i as f32) * 0.731).sin() * 3.0)
            .collect();
        // Runs `f` with the portable and with the FMA instantiation and compares the outputs.
        fn check(f: impl Fn(bool) -> Vec<f32>) {
            let (a, b) = (f(false), f(true));
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "max |diff| {worst}");
            assert!(a.iter().any(|x| *x != 0.0));
        }
        fn go<K: Kernel<Output = ()>>(k: K, fma: bool) {
            if fma {
                k.run::<Fused>()
            } else {
                k.run::<Unfused>()
            }
        }
        check(|fma| {
            let mut y = vec![0f32; 2048];
            go(
                RmsNormFwd {
                    x: &v[..2048],
                    w: &v[2048..2080],
                    y: &mut y,
                    eps: 1e-5,
                },
                fma,
            );
            y
        });
        check(|fma| {
            let mut x = v[..2000].to_vec();
            go(SoftmaxFwd { x: &mut x, n: 50 }, fma);
            x
        });
        check(|fma| {
            let mut y = vec![0f32; 1024];
            go(
                SwigluFwd {
                    gu: &v[..2048],
                    y: &mut y,
                    h: 32,
                },
                fma,
            );
            y
        });
        check(|fma| {
            let mut d = vec![0f32; 2048];
            go(
                SwigluBwd {
                    gu: &v[..2048],
                    dy: &v[2048..3072],
                    dgu: &mut d,
                    h: 32,
                },
                fma,
            );
            d
        });
        for causal in [false, true] {
            check(|fma| {
                let sh = AttnShape {
                    n: 70,
                    heads: 2,
                    hd: 8,
                    scale: 0.35,
                    causal,
                    drop: None,
                };
                let mut out = vec![0f32; 70 * 16];
                let mut lse = vec![0f32; 2 * 70];
                go(
                    AttnFwd {
                        sh,
                        b: 0,
                        qkv: &v[..70 * 48],
                        out: &mut out,
                        lse: &mut lse,
                    },
                    fma,
                );
                out
            });
        }
    }
}
