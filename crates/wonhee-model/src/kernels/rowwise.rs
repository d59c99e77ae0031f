//! Row-wise fused kernels (RMSNorm, softmax, SwiGLU, dropout), forward and backward.
//!
//! Each kernel works on a contiguous block of whole rows; [`crate::ops`] splits tensors into
//! blocks of fixed size and runs the blocks in parallel. Reductions inside a row use 16
//! independent lanes summed in a fixed order at the end.

use super::{Arith, DROPOUT_ROW, Kernel, as_array, exp, keep, row_key, sigmoid};

const LANES: usize = 16;

#[inline(always)]
fn reduce_sum(acc: &[f32; LANES]) -> f32 {
    let mut h = [0f32; 8];
    for l in 0..8 {
        h[l] = acc[l] + acc[l + 8];
    }
    let q = [h[0] + h[4], h[1] + h[5], h[2] + h[6], h[3] + h[7]];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// `sum(x[i] * y[i])`.
#[inline(always)]
pub(crate) fn dot<A: Arith>(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    let main = n - n % LANES;
    let mut acc = [0f32; LANES];
    for (xc, yc) in x[..main]
        .chunks_exact(LANES)
        .zip(y[..main].chunks_exact(LANES))
    {
        let xc: &[f32; LANES] = as_array(xc);
        let yc: &[f32; LANES] = as_array(yc);
        for l in 0..LANES {
            acc[l] = A::fma(xc[l], yc[l], acc[l]);
        }
    }
    let mut s = reduce_sum(&acc);
    for i in main..n {
        s = A::fma(x[i], y[i], s);
    }
    s
}

/// `max(x)` (NaN-ignoring, -inf for an empty slice).
#[inline(always)]
pub(crate) fn max(x: &[f32]) -> f32 {
    let main = x.len() - x.len() % LANES;
    let mut acc = [f32::NEG_INFINITY; LANES];
    for xc in x[..main].chunks_exact(LANES) {
        let xc: &[f32; LANES] = as_array(xc);
        for l in 0..LANES {
            acc[l] = acc[l].max(xc[l]);
        }
    }
    let mut m = f32::NEG_INFINITY;
    for v in acc.iter().chain(&x[main..]) {
        m = m.max(*v);
    }
    m
}

/// `y[i] = exp(x[i] - shift)` in place; returns `sum(y)`.
#[inline(always)]
pub(crate) fn exp_shift_sum<A: Arith>(x: &mut [f32], shift: f32) -> f32 {
    let main = x.len() - x.len() % LANES;
    let mut acc = [0f32; LANES];
    let (head, tail) = x.split_at_mut(main);
    for xc in head.chunks_exact_mut(LANES) {
        for l in 0..LANES {
            let e = exp::<A>(xc[l] - shift);
            xc[l] = e;
            acc[l] += e;
        }
    }
    let mut s = reduce_sum(&acc);
    for v in tail {
        *v = exp::<A>(*v - shift);
        s += *v;
    }
    s
}

/// RMSNorm forward over rows of length `w.len()`: `y = x / sqrt(mean(x^2) + eps) * w`.
pub(crate) struct RmsNormFwd<'a> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub y: &'a mut [f32],
    pub eps: f32,
}

impl Kernel for RmsNormFwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let d = self.w.len();
        for (x, y) in self.x.chunks_exact(d).zip(self.y.chunks_exact_mut(d)) {
            let r = 1.0 / (dot::<A>(x, x) / d as f32 + self.eps).sqrt();
            for ((yv, xv), wv) in y.iter_mut().zip(x).zip(self.w) {
                *yv = xv * r * wv;
            }
        }
    }
}

/// RMSNorm backward: writes `dx` for the rows and adds this block's share of `dw` to `dw`.
pub(crate) struct RmsNormBwd<'a> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub dy: &'a [f32],
    pub dx: &'a mut [f32],
    pub dw: &'a mut [f32],
    pub eps: f32,
    /// Add to `dx` instead of overwriting it.
    pub accumulate: bool,
}

impl Kernel for RmsNormBwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let d = self.w.len();
        let inv_d = 1.0 / d as f32;
        let rows = self.x.chunks_exact(d).zip(self.dy.chunks_exact(d));
        for ((x, dy), dx) in rows.zip(self.dx.chunks_exact_mut(d)) {
            let r = 1.0 / (dot::<A>(x, x) * inv_d + self.eps).sqrt();
            // c = sum(dy * w * x); dx = r * dy * w - x * r^3 * c / d.
            let mut c = 0f32;
            let main = d - d % LANES;
            let mut acc = [0f32; LANES];
            for ((xc, dyc), wc) in x[..main]
                .chunks_exact(LANES)
                .zip(dy[..main].chunks_exact(LANES))
                .zip(self.w[..main].chunks_exact(LANES))
            {
                for l in 0..LANES {
                    acc[l] = A::fma(dyc[l] * wc[l], xc[l], acc[l]);
                }
            }
            c += reduce_sum(&acc);
            for i in main..d {
                c = A::fma(dy[i] * self.w[i], x[i], c);
            }
            let k = r * r * r * c * inv_d;
            for i in 0..d {
                let base = if self.accumulate { dx[i] } else { 0.0 };
                dx[i] = base + A::fma(r * dy[i], self.w[i], -(x[i] * k));
                self.dw[i] = A::fma(dy[i] * x[i], r, self.dw[i]);
            }
        }
    }
}

/// Softmax over rows of length `n`, in place (`x` holds the input, then the output).
pub(crate) struct SoftmaxFwd<'a> {
    pub x: &'a mut [f32],
    pub n: usize,
}

impl Kernel for SoftmaxFwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        for row in self.x.chunks_exact_mut(self.n) {
            let m = max(row);
            let s = exp_shift_sum::<A>(row, m);
            let inv = 1.0 / s;
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

/// Softmax backward: `dx = y * (dy - sum(dy * y))`, rows of length `n`.
pub(crate) struct SoftmaxBwd<'a> {
    pub y: &'a [f32],
    pub dy: &'a [f32],
    pub dx: &'a mut [f32],
    pub n: usize,
}

impl Kernel for SoftmaxBwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let n = self.n;
        let rows = self.y.chunks_exact(n).zip(self.dy.chunks_exact(n));
        for ((y, dy), dx) in rows.zip(self.dx.chunks_exact_mut(n)) {
            let s = dot::<A>(dy, y);
            for ((o, yv), dyv) in dx.iter_mut().zip(y).zip(dy) {
                *o = yv * (dyv - s);
            }
        }
    }
}

/// SwiGLU forward: input rows `[gate (h) | up (h)]`, output rows `silu(gate) * up`.
pub(crate) struct SwigluFwd<'a> {
    pub gu: &'a [f32],
    pub y: &'a mut [f32],
    pub h: usize,
}

impl Kernel for SwigluFwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let h = self.h;
        for (gu, y) in self.gu.chunks_exact(2 * h).zip(self.y.chunks_exact_mut(h)) {
            let (g, u) = gu.split_at(h);
            for ((yv, gv), uv) in y.iter_mut().zip(g).zip(u) {
                *yv = gv * sigmoid::<A>(*gv) * uv;
            }
        }
    }
}

/// SwiGLU backward: `d gate = dy * up * s * (1 + g * (1 - s))`, `d up = dy * g * s` with
/// `s = sigmoid(g)`.
pub(crate) struct SwigluBwd<'a> {
    pub gu: &'a [f32],
    pub dy: &'a [f32],
    pub dgu: &'a mut [f32],
    pub h: usize,
}

impl Kernel for SwigluBwd<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let h = self.h;
        let rows = self.gu.chunks_exact(2 * h).zip(self.dy.chunks_exact(h));
        for ((gu, dy), dgu) in rows.zip(self.dgu.chunks_exact_mut(2 * h)) {
            let (g, u) = gu.split_at(h);
            let (dg, du) = dgu.split_at_mut(h);
            for i in 0..h {
                let s = sigmoid::<A>(g[i]);
                let gs = g[i] * s;
                du[i] = dy[i] * gs;
                dg[i] = dy[i] * u[i] * A::fma(gs, 1.0 - s, s);
            }
        }
    }
}

/// Dropout of a flat block starting at element `start` (a multiple of [`DROPOUT_ROW`]):
/// `y = x * scale` where kept, 0 where dropped. Used for both directions (the backward applies
/// the same mask to the gradient).
pub(crate) struct Dropout<'a> {
    pub x: &'a [f32],
    pub y: &'a mut [f32],
    pub start: usize,
    pub seed: u64,
    pub threshold: u32,
    pub scale: f32,
}

impl Kernel for Dropout<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let rows = self
            .x
            .chunks(DROPOUT_ROW)
            .zip(self.y.chunks_mut(DROPOUT_ROW));
        for (r, (x, y)) in rows.enumerate() {
            let key = row_key(self.seed, (self.start / DROPOUT_ROW + r) as u64);
            for (c, (yv, xv)) in y.iter_mut().zip(x).enumerate() {
                *yv = if keep(key, c as u32, self.threshold) {
                    xv * self.scale
                } else {
                    0.0
                };
            }
        }
    }
}

/// Residual add with dropout on the branch: `out = x + y * scale` where kept, `x` where
/// dropped (same mask as [`Dropout`] for the same `start` and seed); plain `x + y` when
/// `threshold` is 0 and `scale` 1.
pub(crate) struct AddDropout<'a> {
    pub x: &'a [f32],
    pub y: &'a [f32],
    pub out: &'a mut [f32],
    pub start: usize,
    pub seed: u64,
    pub threshold: u32,
    pub scale: f32,
}

impl Kernel for AddDropout<'_> {
    type Output = ();
    #[inline(always)]
    fn run<A: Arith>(self) {
        let rows = self.x.chunks(DROPOUT_ROW).zip(self.y.chunks(DROPOUT_ROW));
        for (r, ((x, y), out)) in rows.zip(self.out.chunks_mut(DROPOUT_ROW)).enumerate() {
            if self.threshold == 0 {
                for ((o, xv), yv) in out.iter_mut().zip(x).zip(y) {
                    *o = xv + yv;
                }
                continue;
            }
            let key = row_key(self.seed, (self.start / DROPOUT_ROW + r) as u64);
            for (c, ((o, xv), yv)) in out.iter_mut().zip(x).zip(y).enumerate() {
                *o = if keep(key, c as u32, self.threshold) {
                    A::fma(*yv, self.scale, *xv)
                } else {
                    *xv
                };
            }
        }
    }
}
