//! Multi-head self-attention on one batch element, forward and backward, in blocks of query
//! rows (the score matrix of a block of [`BLOCK_Q`] rows is the only one that exists at a time).
//!
//! Layout: the input is the fused projection `qkv` of one sample, `[n, 3 * d]` row-major with
//! `q | k | v` along the last axis and head `h` at columns `h * hd .. (h + 1) * hd` of each; the
//! output is `[n, d]` with heads concatenated, ready for the output projection. The forward
//! also stores the log-sum-exp of every score row (`[heads, n]`), which the backward uses to
//! rebuild the probabilities from recomputed scores instead of keeping them.
//!
//! Dropout on the attention probabilities uses a counter-based mask: element (i, j) of head
//! `h` of sample `b` is kept iff `keep(row_key(seed, (b * heads + h) * n + i), j)`, so the
//! backward regenerates exactly the forward's mask.

use super::rowwise::{dot, exp_shift_sum, max};
use super::sgemm::{View, sgemm};
use super::{Arith, Kernel, exp, keep, row_key};

/// A row-major operand: element (i, j) at `data[off + i * ld + j]`.
struct Mat<'a> {
    data: &'a [f32],
    off: usize,
    ld: usize,
}

/// Query rows per block.
pub(crate) const BLOCK_Q: usize = 64;

/// Shape and options of one attention call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttnShape {
    pub n: usize,
    pub heads: usize,
    pub hd: usize,
    pub scale: f32,
    pub causal: bool,
    /// `(threshold, 1 / (1 - p), seed)` when dropout is on.
    pub drop: Option<(u32, f32, u64)>,
}

impl AttnShape {
    fn d(&self) -> usize {
        self.heads * self.hd
    }

    /// Keys visible to query `i` (exclusive end).
    #[inline(always)]
    fn limit(&self, i: usize) -> usize {
        if self.causal { i + 1 } else { self.n }
    }

    #[inline(always)]
    fn key(&self, b: usize, h: usize, i: usize) -> Option<(u32, u32, f32)> {
        self.drop.map(|(t, inv, seed)| {
            (
                row_key(seed, ((b * self.heads + h) * self.n + i) as u64),
                t,
                inv,
            )
        })
    }
}

/// Per-head packed copies of Q (pre-scaled), K, K^T, V or V^T.
fn pack(
    sh: &AttnShape,
    qkv: &[f32],
    h: usize,
    part: usize,
    scale: f32,
    dst: &mut [f32],
    transpose: bool,
) {
    let (n, hd, d) = (sh.n, sh.hd, sh.d());
    let col = part * d + h * hd;
    for (i, row) in qkv.chunks_exact(3 * d).enumerate().take(n) {
        let src = &row[col..col + hd];
        if transpose {
            for (c, v) in src.iter().enumerate() {
                dst[c * n + i] = v * scale;
            }
        } else {
            for (o, v) in dst[i * hd..(i + 1) * hd].iter_mut().zip(src) {
                *o = v * scale;
            }
        }
    }
}

/// Forward for batch element `b`.
pub(crate) struct AttnFwd<'a> {
    pub sh: AttnShape,
    pub b: usize,
    pub qkv: &'a [f32],
    pub out: &'a mut [f32],
    pub lse: &'a mut [f32],
}

impl Kernel for AttnFwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let sh = self.sh;
        let (n, hd, d) = (sh.n, sh.hd, sh.d());
        let mut qs = vec![0f32; n * hd];
        let mut kt = vec![0f32; hd * n];
        let mut v = vec![0f32; n * hd];
        let mut s = vec![0f32; BLOCK_Q.min(n) * n];
        let mut rscale = [0f32; BLOCK_Q];
        for h in 0..sh.heads {
            pack(&sh, self.qkv, h, 0, sh.scale, &mut qs, false);
            pack(&sh, self.qkv, h, 1, 1.0, &mut kt, true);
            pack(&sh, self.qkv, h, 2, 1.0, &mut v, false);
            let mut i0 = 0;
            while i0 < n {
                let i1 = (i0 + BLOCK_Q).min(n);
                let m = i1 - i0;
                let nk = if sh.causal { i1 } else { n };
                let q = Mat {
                    data: &qs,
                    off: i0 * hd,
                    ld: hd,
                };
                let k = Mat {
                    data: &kt,
                    off: 0,
                    ld: n,
                };
                mm(m, nk, hd, &q, false, &k, &mut s, 0, nk, false);
                for r in 0..m {
                    let i = i0 + r;
                    let row = &mut s[r * nk..(r + 1) * nk];
                    let (live, dead) = row.split_at_mut(sh.limit(i));
                    let mx = max(live);
                    let sum = exp_shift_sum::<A>(live, mx);
                    dead.fill(0.0);
                    self.lse[h * n + i] = mx + sum.ln();
                    rscale[r] = 1.0 / sum;
                    if let Some((key, t, inv)) = sh.key(self.b, h, i) {
                        for (j, p) in live.iter_mut().enumerate() {
                            *p = if keep(key, j as u32, t) { *p } else { 0.0 };
                        }
                        rscale[r] *= inv;
                    }
                }
                let p = Mat {
                    data: &s,
                    off: 0,
                    ld: nk,
                };
                let vm = Mat {
                    data: &v,
                    off: 0,
                    ld: hd,
                };
                mm(
                    m,
                    hd,
                    nk,
                    &p,
                    false,
                    &vm,
                    self.out,
                    i0 * d + h * hd,
                    d,
                    false,
                );
                for (r, sc) in rscale.iter().enumerate().take(m) {
                    let at = (i0 + r) * d + h * hd;
                    for o in &mut self.out[at..at + hd] {
                        *o *= sc;
                    }
                }
                i0 = i1;
            }
        }
    }
}

/// Backward for batch element `b`: fills `dqkv` (`[n, 3 * d]`, zero on entry).
pub(crate) struct AttnBwd<'a> {
    pub sh: AttnShape,
    pub b: usize,
    pub qkv: &'a [f32],
    pub out: &'a [f32],
    pub dout: &'a [f32],
    pub lse: &'a [f32],
    pub dqkv: &'a mut [f32],
}

impl Kernel for AttnBwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let sh = self.sh;
        let (n, hd, d) = (sh.n, sh.hd, sh.d());
        let ld3 = 3 * d;
        let bq = BLOCK_Q.min(n);
        let mut qs = vec![0f32; n * hd];
        let mut k = vec![0f32; n * hd];
        let mut kt = vec![0f32; hd * n];
        let mut vt = vec![0f32; hd * n];
        let mut delta = vec![0f32; n];
        let mut pbuf = vec![0f32; bq * n];
        let mut pdrop = vec![0f32; if sh.drop.is_some() { bq * n } else { 0 }];
        let mut dp = vec![0f32; bq * n];
        for h in 0..sh.heads {
            pack(&sh, self.qkv, h, 0, sh.scale, &mut qs, false);
            pack(&sh, self.qkv, h, 1, 1.0, &mut k, false);
            pack(&sh, self.qkv, h, 1, 1.0, &mut kt, true);
            pack(&sh, self.qkv, h, 2, 1.0, &mut vt, true);
            for (i, dl) in delta.iter_mut().enumerate() {
                let at = i * d + h * hd;
                *dl = dot::<A>(&self.dout[at..at + hd], &self.out[at..at + hd]);
            }
            let mut i0 = 0;
            while i0 < n {
                let i1 = (i0 + BLOCK_Q).min(n);
                let m = i1 - i0;
                let nk = if sh.causal { i1 } else { n };
                // Probabilities of the block from recomputed scores and the stored lse.
                let q = Mat {
                    data: &qs,
                    off: i0 * hd,
                    ld: hd,
                };
                let ktm = Mat {
                    data: &kt,
                    off: 0,
                    ld: n,
                };
                mm(m, nk, hd, &q, false, &ktm, &mut pbuf, 0, nk, false);
                for r in 0..m {
                    let i = i0 + r;
                    let lim = sh.limit(i);
                    let row = &mut pbuf[r * nk..(r + 1) * nk];
                    let shift = self.lse[h * n + i];
                    let (live, dead) = row.split_at_mut(lim);
                    for p in live.iter_mut() {
                        *p = exp::<A>(*p - shift);
                    }
                    dead.fill(0.0);
                    if let Some((key, t, inv)) = sh.key(self.b, h, i) {
                        let prow = &mut pdrop[r * nk..(r + 1) * nk];
                        for (j, (o, p)) in prow.iter_mut().zip(row.iter()).enumerate() {
                            *o = if keep(key, j as u32, t) { p * inv } else { 0.0 };
                        }
                    }
                }
                let pused = if sh.drop.is_some() { &pdrop } else { &pbuf };
                let dob = Mat {
                    data: self.dout,
                    off: i0 * d + h * hd,
                    ld: d,
                };
                // dV += P_dropped^T dO
                let pm = Mat {
                    data: pused,
                    off: 0,
                    ld: nk,
                };
                mm(
                    nk,
                    hd,
                    m,
                    &pm,
                    true,
                    &dob,
                    self.dqkv,
                    2 * d + h * hd,
                    ld3,
                    true,
                );
                // dP_dropped = dO V^T
                let vtm = Mat {
                    data: &vt,
                    off: 0,
                    ld: n,
                };
                mm(m, nk, hd, &dob, false, &vtm, &mut dp, 0, nk, false);
                // dS = P * (dP - delta), dP = dP_dropped * mask / (1 - p)
                for r in 0..m {
                    let i = i0 + r;
                    let lim = sh.limit(i);
                    let dl = delta[i];
                    let prow = &pbuf[r * nk..r * nk + lim];
                    let drow = &mut dp[r * nk..(r + 1) * nk];
                    let (live, dead) = drow.split_at_mut(lim);
                    if let Some((key, t, inv)) = sh.key(self.b, h, i) {
                        for (j, (g, p)) in live.iter_mut().zip(prow).enumerate() {
                            let gd = if keep(key, j as u32, t) {
                                *g * inv
                            } else {
                                0.0
                            };
                            *g = p * (gd - dl);
                        }
                    } else {
                        for (g, p) in live.iter_mut().zip(prow) {
                            *g = p * (*g - dl);
                        }
                    }
                    dead.fill(0.0);
                }
                let ds = Mat {
                    data: &dp,
                    off: 0,
                    ld: nk,
                };
                // dQ = scale * dS K
                let km = Mat {
                    data: &k,
                    off: 0,
                    ld: hd,
                };
                mm(
                    m,
                    hd,
                    nk,
                    &ds,
                    false,
                    &km,
                    self.dqkv,
                    i0 * ld3 + h * hd,
                    ld3,
                    false,
                );
                for r in 0..m {
                    let at = (i0 + r) * ld3 + h * hd;
                    for o in &mut self.dqkv[at..at + hd] {
                        *o *= sh.scale;
                    }
                }
                // dK += dS^T (scale * Q)
                let qb = Mat {
                    data: &qs,
                    off: i0 * hd,
                    ld: hd,
                };
                mm(nk, hd, m, &ds, true, &qb, self.dqkv, d + h * hd, ld3, true);
                i0 = i1;
            }
        }
    }
}

/// `C (=|+=) op(A) B` on the `gemm` crate, single-threaded (callers run one batch element per
/// rayon task).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mm(
    m: usize,
    n: usize,
    k: usize,
    a: &Mat<'_>,
    trans_a: bool,
    b: &Mat<'_>,
    c: &mut [f32],
    c_off: usize,
    ldc: usize,
    accumulate: bool,
) {
    let av = if trans_a {
        View {
            data: &a.data[a.off..],
            rs: 1,
            cs: a.ld,
        }
    } else {
        View {
            data: &a.data[a.off..],
            rs: a.ld,
            cs: 1,
        }
    };
    let bv = View {
        data: &b.data[b.off..],
        rs: b.ld,
        cs: 1,
    };
    sgemm(m, n, k, av, bv, &mut c[c_off..], ldc, accumulate, false);
}
