//! The model's building blocks as differentiable tensor functions, each in two
//! implementations:
//!
//! - **fused** (CPU only): one [`CustomOp1`]/[`CustomOp2`] per function with a hand-written
//!   forward and backward (see `kernels`), parallel over fixed blocks of rows or over batch
//!   elements with rayon;
//! - **composed**: the same maths from candle's differentiable primitives. It runs on every
//!   device (it is what the model uses on CUDA) and is the reference the fused ops are tested
//!   against, values and gradients.
//!
//! [`Kernels::Auto`] picks fused on CPU and composed elsewhere. Both implementations draw
//! identical dropout masks (a counter-based hash of the seed and the element's position), so
//! they agree even in training mode.

use std::sync::{Mutex, OnceLock};

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, D, DType, Device, DeviceLocation, Layout, Shape, Storage,
    Tensor, bail,
};
use rayon::prelude::*;

use crate::kernels::attention::{AttnBwd, AttnFwd, AttnShape};
use crate::kernels::rowwise::{
    AddDropout, Dropout as DropoutKernel, RmsNormBwd, RmsNormFwd, SoftmaxBwd, SoftmaxFwd,
    SwigluBwd, SwigluFwd,
};
use crate::kernels::{DROPOUT_ROW, dispatch, drop_threshold, keep, row_key};

/// Which implementation of the building blocks to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernels {
    /// Fused on CPU, composed on other devices.
    #[default]
    Auto,
    /// The fused CPU kernels (an error on other devices): each SwiGLU transformer block as one
    /// op, the other building blocks as one op each.
    Fused,
    /// The fused CPU kernels op by op, without the whole-block op (kept for benchmarks and
    /// tests).
    FusedOps,
    /// Compositions of candle primitives (any device).
    Composed,
}

impl Kernels {
    /// Whether the whole-block op is used for tensors on `dev`.
    pub fn block_on(self, dev: &Device) -> candle_core::Result<bool> {
        Ok(self != Kernels::FusedOps && self.fused_on(dev)?)
    }

    /// Whether the fused kernels are used for tensors on `dev`.
    pub fn fused_on(self, dev: &Device) -> candle_core::Result<bool> {
        match self {
            Kernels::Auto => Ok(dev.is_cpu()),
            Kernels::Composed => Ok(false),
            Kernels::Fused | Kernels::FusedOps if dev.is_cpu() => Ok(true),
            Kernels::Fused | Kernels::FusedOps => {
                bail!("the fused kernels run on the CPU only, tensors are on {dev:?}")
            }
        }
    }
}

/// Dropout parameters of one call: drop probability and the 64-bit seed of the mask.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropSpec {
    /// Probability of dropping an element, in [0, 1).
    pub p: f32,
    /// Seed of the counter-based mask.
    pub seed: u64,
}

/// Fixed number of f32 elements per parallel task for row-wise ops (tasks hold whole rows; the
/// partition depends only on the shape, never on the number of threads).
const TASK_ELEMS: usize = 1 << 15;

fn rows_per_task(row: usize) -> usize {
    (TASK_ELEMS / row.max(1)).max(1)
}

pub(crate) fn cpu_f32<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        other => bail!("{what}: expected f32, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: input must be contiguous"),
    }
}

/// Runs `f` on the contiguous f32 data of a CPU tensor.
pub(crate) fn with_f32<R>(
    t: &Tensor,
    what: &str,
    f: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cs) => f(cpu_f32(cs, layout, what)?),
        _ => bail!("{what}: fused op needs CPU tensors"),
    }
}

fn last_dim(t: &Tensor, what: &str) -> candle_core::Result<usize> {
    match t.dims().last() {
        Some(&d) if d > 0 => Ok(d),
        _ => bail!(
            "{what}: tensor of shape {:?} has no last dimension",
            t.dims()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Parallel drivers over raw slices, shared by the single ops and the fused block.

/// RMSNorm forward of rows of `w.len()`.
pub(crate) fn par_rms_fwd(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let d = w.len();
    let mut y = vec![0f32; x.len()];
    let chunk = rows_per_task(d) * d;
    y.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .for_each(|(y, x)| {
            dispatch(RmsNormFwd { x, w, y, eps });
        });
    y
}

/// RMSNorm backward: writes (or adds to) `dx`, returns `dw`. The weight gradient is summed per
/// fixed block of rows, then the blocks in order: independent of thread scheduling.
pub(crate) fn par_rms_bwd(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    eps: f32,
    dx: &mut [f32],
    accumulate: bool,
) -> Vec<f32> {
    let d = w.len();
    let chunk = rows_per_task(d) * d;
    let partial: Vec<Vec<f32>> = dx
        .par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk).zip(dy.par_chunks(chunk)))
        .map(|(dx, (x, dy))| {
            let mut dw = vec![0f32; d];
            dispatch(RmsNormBwd {
                x,
                w,
                dy,
                dx,
                dw: &mut dw,
                eps,
                accumulate,
            });
            dw
        })
        .collect();
    let mut dw = vec![0f32; d];
    for p in &partial {
        for (a, b) in dw.iter_mut().zip(p) {
            *a += b;
        }
    }
    dw
}

/// SwiGLU forward, rows `[gate | up]` of `2h`.
pub(crate) fn par_swiglu_fwd(gu: &[f32], h: usize) -> Vec<f32> {
    let mut y = vec![0f32; gu.len() / 2];
    let rows = rows_per_task(2 * h);
    y.par_chunks_mut(rows * h)
        .zip(gu.par_chunks(rows * 2 * h))
        .for_each(|(y, gu)| dispatch(SwigluFwd { gu, y, h }));
    y
}

/// SwiGLU backward: gradient with respect to `[gate | up]`.
pub(crate) fn par_swiglu_bwd(gu: &[f32], dy: &[f32], h: usize) -> Vec<f32> {
    let rows = rows_per_task(2 * h);
    let mut dgu = vec![0f32; gu.len()];
    dgu.par_chunks_mut(rows * 2 * h)
        .zip(gu.par_chunks(rows * 2 * h).zip(dy.par_chunks(rows * h)))
        .for_each(|(dgu, (gu, dy))| dispatch(SwigluBwd { gu, dy, dgu, h }));
    dgu
}

/// Elements per parallel dropout task (a multiple of `DROPOUT_ROW`, so tasks start on rows).
const DROP_CHUNK: usize = DROPOUT_ROW * 16;

/// `x * mask` for the dropout mask of `spec` (see [`dropout_mask`]).
pub(crate) fn par_dropout(x: &[f32], spec: DropSpec) -> Vec<f32> {
    let threshold = drop_threshold(spec.p);
    let scale = 1.0 / (1.0 - spec.p);
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(DROP_CHUNK)
        .zip(x.par_chunks(DROP_CHUNK))
        .enumerate()
        .for_each(|(c, (y, x))| {
            let start = c * DROP_CHUNK;
            dispatch(DropoutKernel {
                x,
                y,
                start,
                seed: spec.seed,
                threshold,
                scale,
            })
        });
    y
}

/// `x + y * mask` (`x + y` without dropout).
pub(crate) fn par_add_dropout(x: &[f32], y: &[f32], spec: Option<DropSpec>) -> Vec<f32> {
    let (threshold, scale, seed) = match spec {
        Some(s) if s.p > 0.0 => (drop_threshold(s.p), 1.0 / (1.0 - s.p), s.seed),
        _ => (0, 1.0, 0),
    };
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(DROP_CHUNK)
        .zip(x.par_chunks(DROP_CHUNK).zip(y.par_chunks(DROP_CHUNK)))
        .enumerate()
        .for_each(|(c, (out, (x, y)))| {
            let start = c * DROP_CHUNK;
            dispatch(AddDropout {
                x,
                y,
                out,
                start,
                seed,
                threshold,
                scale,
            })
        });
    out
}

/// Attention forward over a batch of `qkv` `[b, n, 3d]`: output `[b, n, d]` and lse
/// `[b, heads, n]`, parallel over batch elements.
pub(crate) fn par_attention_fwd(qkv: &[f32], sh: AttnShape) -> (Vec<f32>, Vec<f32>) {
    let (n, d3) = (sh.n, 3 * sh.heads * sh.hd);
    let b = qkv.len() / (n * d3);
    let d = d3 / 3;
    let mut out = vec![0f32; b * n * d];
    let mut lse = vec![0f32; b * sh.heads * n];
    out.par_chunks_mut(n * d)
        .zip(lse.par_chunks_mut(sh.heads * n))
        .zip(qkv.par_chunks(n * d3))
        .enumerate()
        .for_each(|(bi, ((out, lse), qkv))| {
            dispatch(AttnFwd {
                sh,
                b: bi,
                qkv,
                out,
                lse,
            })
        });
    (out, lse)
}

/// Attention backward: gradient with respect to `qkv`.
pub(crate) fn par_attention_bwd(
    qkv: &[f32],
    out: &[f32],
    dout: &[f32],
    lse: &[f32],
    sh: AttnShape,
) -> Vec<f32> {
    let (n, d3) = (sh.n, 3 * sh.heads * sh.hd);
    let d = d3 / 3;
    let mut dqkv = vec![0f32; qkv.len()];
    dqkv.par_chunks_mut(n * d3)
        .zip(qkv.par_chunks(n * d3))
        .zip(out.par_chunks(n * d).zip(dout.par_chunks(n * d)))
        .zip(lse.par_chunks(sh.heads * n))
        .enumerate()
        .for_each(|(bi, (((dqkv, qkv), (out, dout)), lse))| {
            dispatch(AttnBwd {
                sh,
                b: bi,
                qkv,
                out,
                dout,
                lse,
                dqkv,
            });
        });
    dqkv
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

struct RmsNormOp {
    eps: f32,
}

impl CustomOp2 for RmsNormOp {
    fn name(&self) -> &'static str {
        "wonhee-rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::RmsNormFwd, || {
            let x = cpu_f32(s1, l1, "rms_norm x")?;
            let w = cpu_f32(s2, l2, "rms_norm weight")?;
            let d = w.len();
            if d == 0 || x.len() % d != 0 || l1.dims().last() != Some(&d) {
                bail!(
                    "rms_norm: x {:?} does not end in the weight's size {d}",
                    l1.dims()
                );
            }
            Ok((
                CpuStorage::F32(par_rms_fwd(x, w, self.eps)),
                l1.shape().clone(),
            ))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        profile::timed(profile::Op::RmsNormBwd, || {
            let (dx, dw) = with_f32(x, "rms_norm x", |xs| {
                with_f32(w, "rms_norm weight", |ws| {
                    with_f32(grad, "rms_norm grad", |gs| {
                        let mut dx = vec![0f32; xs.len()];
                        let dw = par_rms_bwd(xs, ws, gs, self.eps, &mut dx, false);
                        Ok((dx, dw))
                    })
                })
            })?;
            let dx = Tensor::from_vec(dx, x.shape(), x.device())?;
            let dw = Tensor::from_vec(dw, w.shape(), w.device())?;
            Ok((Some(dx), Some(dw)))
        })
    }
}

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * w`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f32, k: Kernels) -> candle_core::Result<Tensor> {
    if k.fused_on(x.device())? {
        x.contiguous()?
            .apply_op2(&w.contiguous()?, RmsNormOp { eps })
    } else {
        rms_norm_composed(x, w, eps)
    }
}

fn rms_norm_composed(x: &Tensor, w: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let r = (ms + f64::from(eps))?.sqrt()?.recip()?;
    x.broadcast_mul(&r)?.broadcast_mul(w)
}

// ---------------------------------------------------------------------------------------------
// Softmax

struct SoftmaxOp;

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "wonhee-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::SoftmaxFwd, || {
            let x = cpu_f32(s, l, "softmax")?;
            let n = match l.dims().last() {
                Some(&n) if n > 0 => n,
                _ => bail!("softmax: empty last dimension in {:?}", l.dims()),
            };
            let mut y = x.to_vec();
            y.par_chunks_mut(rows_per_task(n) * n)
                .for_each(|x| dispatch(SoftmaxFwd { x, n }));
            Ok((CpuStorage::F32(y), l.shape().clone()))
        })
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        profile::timed(profile::Op::SoftmaxBwd, || {
            let n = last_dim(y, "softmax")?;
            let dx = with_f32(y, "softmax output", |ys| {
                with_f32(grad, "softmax grad", |gs| {
                    let chunk = rows_per_task(n) * n;
                    let mut dx = vec![0f32; ys.len()];
                    dx.par_chunks_mut(chunk)
                        .zip(ys.par_chunks(chunk).zip(gs.par_chunks(chunk)))
                        .for_each(|(dx, (y, dy))| dispatch(SoftmaxBwd { y, dy, dx, n }));
                    Ok(dx)
                })
            })?;
            Ok(Some(Tensor::from_vec(dx, y.shape(), y.device())?))
        })
    }
}

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor, k: Kernels) -> candle_core::Result<Tensor> {
    if k.fused_on(x.device())? {
        x.contiguous()?.apply_op1(SoftmaxOp)
    } else {
        candle_nn::ops::softmax(x, D::Minus1)
    }
}

// ---------------------------------------------------------------------------------------------
// SwiGLU

struct SwigluOp;

impl CustomOp1 for SwigluOp {
    fn name(&self) -> &'static str {
        "wonhee-swiglu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::SwigluFwd, || {
            let gu = cpu_f32(s, l, "swiglu")?;
            let mut dims = l.dims().to_vec();
            let h = match dims.last() {
                Some(&n) if n > 0 && n % 2 == 0 => n / 2,
                _ => bail!("swiglu: last dimension of {:?} must be even", l.dims()),
            };
            if let Some(last) = dims.last_mut() {
                *last = h;
            }
            Ok((CpuStorage::F32(par_swiglu_fwd(gu, h)), Shape::from(dims)))
        })
    }

    fn bwd(&self, gu: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        profile::timed(profile::Op::SwigluBwd, || {
            let h = last_dim(gu, "swiglu")? / 2;
            let dgu = with_f32(gu, "swiglu input", |gus| {
                with_f32(grad, "swiglu grad", |gs| Ok(par_swiglu_bwd(gus, gs, h)))
            })?;
            Ok(Some(Tensor::from_vec(dgu, gu.shape(), gu.device())?))
        })
    }
}

/// SwiGLU activation of a fused `[gate | up]` projection: last dimension `2h` -> `h`,
/// `silu(gate) * up`.
pub fn swiglu(gu: &Tensor, k: Kernels) -> candle_core::Result<Tensor> {
    if k.fused_on(gu.device())? {
        gu.contiguous()?.apply_op1(SwigluOp)
    } else {
        let h = last_dim(gu, "swiglu")? / 2;
        let g = gu.narrow(D::Minus1, 0, h)?;
        let u = gu.narrow(D::Minus1, h, h)?;
        g.silu()? * u
    }
}

// ---------------------------------------------------------------------------------------------
// Dropout

struct DropoutOp {
    spec: DropSpec,
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        "wonhee-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::DropoutFwd, || {
            let x = cpu_f32(s, l, "dropout")?;
            Ok((
                CpuStorage::F32(par_dropout(x, self.spec)),
                l.shape().clone(),
            ))
        })
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        profile::timed(profile::Op::DropoutBwd, || {
            let dx = with_f32(grad, "dropout grad", |g| Ok(par_dropout(g, self.spec)))?;
            Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
        })
    }
}

/// The dropout mask of a tensor of `n` elements as 0 or `1 / (1 - p)` per element (row-major
/// order), on the CPU. Both implementations of [`dropout`] use this mask.
pub fn dropout_mask(n: usize, spec: DropSpec) -> Vec<f32> {
    let threshold = drop_threshold(spec.p);
    let scale = 1.0 / (1.0 - spec.p);
    (0..n)
        .map(|e| {
            let key = row_key(spec.seed, (e / DROPOUT_ROW) as u64);
            if keep(key, (e % DROPOUT_ROW) as u32, threshold) {
                scale
            } else {
                0.0
            }
        })
        .collect()
}

/// Inverted dropout with a counter-based mask (see [`dropout_mask`]); `p = 0` returns `x`.
pub fn dropout(x: &Tensor, spec: DropSpec, k: Kernels) -> candle_core::Result<Tensor> {
    if !(0.0..1.0).contains(&spec.p) {
        bail!("dropout probability {} is outside [0, 1)", spec.p);
    }
    if spec.p == 0.0 {
        return Ok(x.clone());
    }
    if k.fused_on(x.device())? {
        x.contiguous()?.apply_op1(DropoutOp { spec })
    } else {
        x.mul(
            &mask_tensor(x.dims(), spec, x.device(), |n| dropout_mask(n, spec))?
                .to_dtype(x.dtype())?,
        )
    }
}

/// A dropout mask (0 or `1 / (1 - p)`) of the given shape on `dev`: on the CPU the
/// counter-based mask `cpu_mask(elements)` (what the fused kernels draw); on a GPU drawn on the
/// device from its generator seeded with `spec.seed`, so nothing of activation size crosses the
/// bus (deterministic for a seed, but not the CPU's mask).
fn mask_tensor(
    dims: &[usize],
    spec: DropSpec,
    dev: &Device,
    cpu_mask: impl FnOnce(usize) -> Vec<f32>,
) -> candle_core::Result<Tensor> {
    let n: usize = dims.iter().product();
    if dev.is_cpu() {
        return Tensor::from_vec(cpu_mask(n), dims, dev);
    }
    dev.set_seed(spec.seed)?;
    let u = Tensor::rand(0f32, 1f32, dims, dev)?;
    u.ge(f64::from(spec.p))?
        .to_dtype(DType::F32)?
        .affine(1.0 / (1.0 - f64::from(spec.p)), 0.0)
}

// ---------------------------------------------------------------------------------------------
// Attention

struct AttentionOp {
    sh: AttnShape,
    /// Log-sum-exp of every score row, `[batch, heads, n]`, written by the forward.
    lse: OnceLock<Vec<f32>>,
}

impl CustomOp1 for AttentionOp {
    fn name(&self) -> &'static str {
        "wonhee-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::AttentionFwd, || {
            let qkv = cpu_f32(s, l, "attention")?;
            let sh = self.sh;
            let (b, n, d) = match l.dims() {
                &[b, n, d3] if n == sh.n && d3 == 3 * sh.heads * sh.hd => (b, n, d3 / 3),
                dims => bail!("attention: qkv of shape {dims:?} does not match {sh:?}"),
            };
            let (out, lse) = par_attention_fwd(qkv, sh);
            if self.lse.set(lse).is_err() {
                bail!("attention: op instance ran its forward twice");
            }
            Ok((CpuStorage::F32(out), Shape::from((b, n, d))))
        })
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        out: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        profile::timed(profile::Op::AttentionBwd, || {
            let Some(lse) = self.lse.get() else {
                bail!("attention backward: no forward state")
            };
            let dqkv = with_f32(qkv, "attention qkv", |qs| {
                with_f32(out, "attention out", |os| {
                    with_f32(grad, "attention grad", |gs| {
                        Ok(par_attention_bwd(qs, os, gs, lse, self.sh))
                    })
                })
            })?;
            Ok(Some(Tensor::from_vec(dqkv, qkv.shape(), qkv.device())?))
        })
    }
}

/// Scores' scale and the kernel's shape descriptor for an attention call.
pub(crate) fn attn_shape(
    n: usize,
    heads: usize,
    hd: usize,
    causal: bool,
    drop: Option<DropSpec>,
) -> AttnShape {
    AttnShape {
        n,
        heads,
        hd,
        scale: 1.0 / (hd as f32).sqrt(),
        causal,
        drop: drop
            .filter(|s| s.p > 0.0)
            .map(|s| (drop_threshold(s.p), 1.0 / (1.0 - s.p), s.seed)),
    }
}

/// Multi-head self-attention on a fused projection.
///
/// `qkv`: `[batch, n, 3 * d]` with `q | k | v` along the last axis, head `h` at columns
/// `h * d / heads ..` of each part. Returns `[batch, n, d]` (heads concatenated). Scores are
/// scaled once by `1 / sqrt(d / heads)`; `causal` hides keys after the query; `drop` applies
/// dropout to the attention probabilities (mask element (b, h, i, j) from
/// `row_key(seed, (b * heads + h) * n + i)` and column `j`).
pub fn attention(
    qkv: &Tensor,
    heads: usize,
    causal: bool,
    drop: Option<DropSpec>,
    k: Kernels,
) -> candle_core::Result<Tensor> {
    let (_b, n, d3) = qkv.dims3()?;
    if heads == 0 || d3 % (3 * heads) != 0 {
        bail!("attention: last dimension {d3} is not 3 * heads * head_dim with {heads} heads");
    }
    let hd = d3 / 3 / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let drop = match drop {
        Some(s) if !(0.0..1.0).contains(&s.p) => {
            bail!("attention dropout probability {} is outside [0, 1)", s.p)
        }
        Some(s) if s.p > 0.0 => Some(s),
        _ => None,
    };
    if k.fused_on(qkv.device())? {
        let sh = attn_shape(n, heads, hd, causal, drop);
        qkv.contiguous()?.apply_op1(AttentionOp {
            sh,
            lse: OnceLock::new(),
        })
    } else {
        attention_composed(qkv, heads, hd, scale, causal, drop)
    }
}

/// The additive causal mask `[n, n]`: 0 on and below the diagonal, -inf above. Built once per
/// size and device and cached (the composed attention of every causal block reuses it).
pub fn causal_mask(n: usize, dev: &Device) -> candle_core::Result<Tensor> {
    type Cache = Mutex<Vec<((usize, DeviceLocation), Tensor)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (n, dev.location());
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, t)) = cache.iter().find(|(k, _)| *k == key) {
        return Ok(t.clone());
    }
    let m: Vec<f32> = (0..n * n)
        .map(|e| {
            if e % n > e / n {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let t = Tensor::from_vec(m, (n, n), dev)?;
    if cache.len() >= 8 {
        cache.remove(0);
    }
    cache.push((key, t.clone()));
    Ok(t)
}

/// The attention-dropout mask `[b, heads, n, n]` (0 or `1 / (1 - p)`), as the fused kernel
/// draws it (on the CPU; see `mask_tensor` for GPUs).
fn attention_dropout_mask(
    b: usize,
    heads: usize,
    n: usize,
    spec: DropSpec,
    dev: &Device,
) -> candle_core::Result<Tensor> {
    mask_tensor(&[b, heads, n, n], spec, dev, |len| {
        let t = drop_threshold(spec.p);
        let scale = 1.0 / (1.0 - spec.p);
        let mut m = vec![0f32; len];
        for (row, chunk) in m.chunks_exact_mut(n).enumerate() {
            let key = row_key(spec.seed, row as u64);
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = if keep(key, j as u32, t) { scale } else { 0.0 };
            }
        }
        m
    })
}

fn attention_composed(
    qkv: &Tensor,
    heads: usize,
    hd: usize,
    scale: f32,
    causal: bool,
    drop: Option<DropSpec>,
) -> candle_core::Result<Tensor> {
    let (b, n, d3) = qkv.dims3()?;
    let d = d3 / 3;
    // [b, n, 3, heads, hd] -> [3, b, heads, n, hd]
    let parts = qkv
        .reshape((b, n, 3, heads, hd))?
        .permute((2, 0, 3, 1, 4))?;
    let q = (parts.get(0)?.contiguous()? * f64::from(scale))?;
    let kk = parts.get(1)?.contiguous()?;
    let v = parts.get(2)?.contiguous()?;
    let mut s = q.matmul(&kk.t()?)?;
    if causal {
        s = s.broadcast_add(&causal_mask(n, qkv.device())?.to_dtype(s.dtype())?)?;
    }
    let mut p = candle_nn::ops::softmax(&s, D::Minus1)?;
    if let Some(spec) = drop {
        p =
            p.mul(&attention_dropout_mask(b, heads, n, spec, qkv.device())?.to_dtype(p.dtype())?)?;
    }
    let o = p.matmul(&v)?; // [b, heads, n, hd]
    o.transpose(1, 2)?.reshape((b, n, d))
}

/// Opt-in wall-clock accounting of the fused ops and the linear layers, for the benchmark's
/// per-op profile. Off by default (one relaxed atomic load per op when off).
pub mod profile {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Instant;

    /// What is timed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Op {
        /// Attention forward (fused kernel).
        AttentionFwd,
        /// Attention backward (fused kernel).
        AttentionBwd,
        /// RMSNorm forward.
        RmsNormFwd,
        /// RMSNorm backward.
        RmsNormBwd,
        /// SwiGLU forward.
        SwigluFwd,
        /// SwiGLU backward.
        SwigluBwd,
        /// Softmax forward (Soft-MoE).
        SoftmaxFwd,
        /// Softmax backward.
        SoftmaxBwd,
        /// Dropout forward.
        DropoutFwd,
        /// Dropout backward.
        DropoutBwd,
        /// Linear layers' forward (candle matmul + bias).
        LinearFwd,
        /// Fused transformer block forward.
        BlockFwd,
        /// Fused transformer block backward.
        BlockBwd,
    }

    const ALL: [Op; 13] = [
        Op::AttentionFwd,
        Op::AttentionBwd,
        Op::RmsNormFwd,
        Op::RmsNormBwd,
        Op::SwigluFwd,
        Op::SwigluBwd,
        Op::SoftmaxFwd,
        Op::SoftmaxBwd,
        Op::DropoutFwd,
        Op::DropoutBwd,
        Op::LinearFwd,
        Op::BlockFwd,
        Op::BlockBwd,
    ];

    static ON: AtomicBool = AtomicBool::new(false);
    static NS: [AtomicU64; 13] = [const { AtomicU64::new(0) }; 13];
    static CALLS: [AtomicU64; 13] = [const { AtomicU64::new(0) }; 13];

    /// Turns accounting on or off.
    pub fn enable(on: bool) {
        ON.store(on, Ordering::Relaxed);
    }

    /// Clears the counters.
    pub fn reset() {
        for (a, b) in NS.iter().zip(&CALLS) {
            a.store(0, Ordering::Relaxed);
            b.store(0, Ordering::Relaxed);
        }
    }

    /// `(op, seconds, calls)` accumulated since the last [`reset`].
    pub fn snapshot() -> Vec<(Op, f64, u64)> {
        ALL.iter()
            .enumerate()
            .map(|(i, op)| {
                (
                    *op,
                    NS[i].load(Ordering::Relaxed) as f64 * 1e-9,
                    CALLS[i].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Runs `f`, adding its wall time to `op` when accounting is on.
    pub(crate) fn timed<R>(op: Op, f: impl FnOnce() -> R) -> R {
        if !ON.load(Ordering::Relaxed) {
            return f();
        }
        let t = Instant::now();
        let r = f();
        let i = op as usize;
        NS[i].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        CALLS[i].fetch_add(1, Ordering::Relaxed);
        r
    }
}
