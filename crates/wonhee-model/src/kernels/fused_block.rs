//! A whole pre-norm SwiGLU transformer block as one custom op on CPU, forward and backward.
//!
//! Why: candle's backward accumulates every gradient as `zeros_like` + `add`, two extra passes
//! over the tensor per graph edge, and a block written with candle ops has about 25 edges over
//! activation-sized tensors. As one op, a block costs one such accumulation (for its input) and
//! runs its own backward: the products through the `gemm` crate, the rest through this crate's
//! row kernels, with only the tensors the backward needs kept (`qkv`, the attention output and
//! its log-sum-exp, the residual stream after attention, the FFN's `[gate | up]`); the two
//! RMSNorm outputs and the SwiGLU output are recomputed.
//!
//! The block's weights arrive as one flat tensor (concatenated in [`BlockLayout`] order by the
//! model at each forward), so the op has two inputs and candle routes the weight gradient back
//! to the individual variables through the concatenation.

use std::borrow::Cow;
use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor, bail};

use crate::kernels::attention::AttnShape;
use crate::kernels::sgemm::{View, sgemm};
use crate::ops::{
    DropSpec, cpu_f32, par_add_dropout, par_attention_bwd, par_attention_fwd, par_dropout,
    par_rms_bwd, par_rms_fwd, par_swiglu_bwd, par_swiglu_fwd, profile, with_f32,
};

/// Offsets of the block's weights in the flat weight vector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockLayout {
    pub d: usize,
    pub h: usize,
    norm1: usize,
    qkv: usize,
    proj: usize,
    norm2: usize,
    gate_up: usize,
    down: usize,
    pub len: usize,
}

impl BlockLayout {
    /// Order: `norm1 [d]`, `qkv [3d, d]`, `proj [d, d]`, `norm2 [d]`, `gate_up [2h, d]`,
    /// `down [d, h]`, each row-major.
    pub fn new(d: usize, h: usize) -> Self {
        let norm1 = 0;
        let qkv = norm1 + d;
        let proj = qkv + 3 * d * d;
        let norm2 = proj + d * d;
        let gate_up = norm2 + d;
        let down = gate_up + 2 * h * d;
        Self {
            d,
            h,
            norm1,
            qkv,
            proj,
            norm2,
            gate_up,
            down,
            len: down + d * h,
        }
    }
}

struct Saved {
    qkv: Vec<f32>,
    attn: Vec<f32>,
    lse: Vec<f32>,
    x1: Vec<f32>,
    gu: Vec<f32>,
}

/// The block op. `drops` are the dropout specs of the attention probabilities, the attention
/// branch and the FFN branch.
pub(crate) struct BlockOp {
    pub lay: BlockLayout,
    pub attn: AttnShape,
    pub drop1: Option<DropSpec>,
    pub drop2: Option<DropSpec>,
    pub eps: f32,
    saved: OnceLock<Saved>,
}

impl BlockOp {
    pub fn new(
        lay: BlockLayout,
        attn: AttnShape,
        drop1: Option<DropSpec>,
        drop2: Option<DropSpec>,
        eps: f32,
    ) -> Self {
        Self {
            lay,
            attn,
            drop1,
            drop2,
            eps,
            saved: OnceLock::new(),
        }
    }
}

/// The weight slices of a flat vector.
struct W<'a> {
    norm1: &'a [f32],
    qkv: &'a [f32],
    proj: &'a [f32],
    norm2: &'a [f32],
    gate_up: &'a [f32],
    down: &'a [f32],
}

impl BlockLayout {
    fn split<'a>(&self, w: &'a [f32]) -> W<'a> {
        let (d, h) = (self.d, self.h);
        W {
            norm1: &w[self.norm1..self.norm1 + d],
            qkv: &w[self.qkv..self.qkv + 3 * d * d],
            proj: &w[self.proj..self.proj + d * d],
            norm2: &w[self.norm2..self.norm2 + d],
            gate_up: &w[self.gate_up..self.gate_up + 2 * h * d],
            down: &w[self.down..self.down + d * h],
        }
    }
}

fn live(s: Option<DropSpec>) -> Option<DropSpec> {
    s.filter(|s| s.p > 0.0)
}

impl CustomOp2 for BlockOp {
    fn name(&self) -> &'static str {
        "wonhee-block"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        profile::timed(profile::Op::BlockFwd, || {
            let x = cpu_f32(s1, l1, "block input")?;
            let w = cpu_f32(s2, l2, "block weights")?;
            let (lay, sh) = (self.lay, self.attn);
            let (d, h) = (lay.d, lay.h);
            match l1.dims() {
                &[_, n, dd] if n == sh.n && dd == d && d == sh.heads * sh.hd => {}
                dims => bail!("block: input {dims:?} does not match n={} d={d}", sh.n),
            }
            if w.len() != lay.len {
                bail!("block: {} weights, expected {}", w.len(), lay.len);
            }
            let w = lay.split(w);
            let m = x.len() / d;
            let xn1 = par_rms_fwd(x, w.norm1, self.eps);
            let mut qkv = vec![0f32; m * 3 * d];
            sgemm(
                m,
                3 * d,
                d,
                View::rm(&xn1, d),
                View::tr(w.qkv, d),
                &mut qkv,
                3 * d,
                false,
                true,
            );
            drop(xn1);
            let (attn, lse) = par_attention_fwd(&qkv, sh);
            let mut a = vec![0f32; m * d];
            sgemm(
                m,
                d,
                d,
                View::rm(&attn, d),
                View::tr(w.proj, d),
                &mut a,
                d,
                false,
                true,
            );
            let x1 = par_add_dropout(x, &a, live(self.drop1));
            drop(a);
            let xn2 = par_rms_fwd(&x1, w.norm2, self.eps);
            let mut gu = vec![0f32; m * 2 * h];
            sgemm(
                m,
                2 * h,
                d,
                View::rm(&xn2, d),
                View::tr(w.gate_up, d),
                &mut gu,
                2 * h,
                false,
                true,
            );
            drop(xn2);
            let hh = par_swiglu_fwd(&gu, h);
            let mut f = vec![0f32; m * d];
            sgemm(
                m,
                d,
                h,
                View::rm(&hh, h),
                View::tr(w.down, h),
                &mut f,
                d,
                false,
                true,
            );
            drop(hh);
            let y = par_add_dropout(&x1, &f, live(self.drop2));
            if self
                .saved
                .set(Saved {
                    qkv,
                    attn,
                    lse,
                    x1,
                    gu,
                })
                .is_err()
            {
                bail!("block: op instance ran its forward twice");
            }
            Ok((CpuStorage::F32(y), l1.shape().clone()))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        profile::timed(profile::Op::BlockBwd, || {
            let Some(sv) = self.saved.get() else {
                bail!("block backward: no forward state")
            };
            let (dx, dw) = with_f32(x, "block input", |xs| {
                with_f32(w, "block weights", |ws| {
                    with_f32(grad, "block grad", |dy| Ok(self.backward(xs, ws, dy, sv)))
                })
            })?;
            let dx = Tensor::from_vec(dx, x.shape(), x.device())?;
            let dw = Tensor::from_vec(dw, w.shape(), w.device())?;
            Ok((Some(dx), Some(dw)))
        })
    }
}

impl BlockOp {
    fn backward(&self, x: &[f32], wflat: &[f32], dy: &[f32], sv: &Saved) -> (Vec<f32>, Vec<f32>) {
        let lay = self.lay;
        let (d, h) = (lay.d, lay.h);
        let w = lay.split(wflat);
        let m = x.len() / d;
        let mut dw = vec![0f32; lay.len];
        // FFN branch: y = x1 + drop2(down(swiglu(gate_up(rms2(x1))))).
        let dyf: Cow<'_, [f32]> = match live(self.drop2) {
            Some(s) => Cow::Owned(par_dropout(dy, s)),
            None => Cow::Borrowed(dy),
        };
        let hh = par_swiglu_fwd(&sv.gu, h);
        let dw_down = &mut dw[lay.down..lay.down + d * h];
        sgemm(
            d,
            h,
            m,
            View::tr(&dyf, d),
            View::rm(&hh, h),
            dw_down,
            h,
            false,
            true,
        );
        drop(hh);
        let mut dhh = vec![0f32; m * h];
        sgemm(
            m,
            h,
            d,
            View::rm(&dyf, d),
            View::rm(w.down, h),
            &mut dhh,
            h,
            false,
            true,
        );
        drop(dyf);
        let dgu = par_swiglu_bwd(&sv.gu, &dhh, h);
        drop(dhh);
        let xn2 = par_rms_fwd(&sv.x1, w.norm2, self.eps);
        let dw_gu = &mut dw[lay.gate_up..lay.gate_up + 2 * h * d];
        sgemm(
            2 * h,
            d,
            m,
            View::tr(&dgu, 2 * h),
            View::rm(&xn2, d),
            dw_gu,
            d,
            false,
            true,
        );
        drop(xn2);
        let mut dxn2 = vec![0f32; m * d];
        sgemm(
            m,
            d,
            2 * h,
            View::rm(&dgu, 2 * h),
            View::rm(w.gate_up, d),
            &mut dxn2,
            d,
            false,
            true,
        );
        drop(dgu);
        let mut dx1 = dy.to_vec();
        let dn2 = par_rms_bwd(&sv.x1, w.norm2, &dxn2, self.eps, &mut dx1, true);
        dw[lay.norm2..lay.norm2 + d].copy_from_slice(&dn2);
        drop(dxn2);
        // Attention branch: x1 = x + drop1(proj(attn(qkv(rms1(x))))).
        let dya: Cow<'_, [f32]> = match live(self.drop1) {
            Some(s) => Cow::Owned(par_dropout(&dx1, s)),
            None => Cow::Borrowed(&dx1),
        };
        let dw_proj = &mut dw[lay.proj..lay.proj + d * d];
        sgemm(
            d,
            d,
            m,
            View::tr(&dya, d),
            View::rm(&sv.attn, d),
            dw_proj,
            d,
            false,
            true,
        );
        let mut dattn = vec![0f32; m * d];
        sgemm(
            m,
            d,
            d,
            View::rm(&dya, d),
            View::rm(w.proj, d),
            &mut dattn,
            d,
            false,
            true,
        );
        drop(dya);
        let dqkv = par_attention_bwd(&sv.qkv, &sv.attn, &dattn, &sv.lse, self.attn);
        drop(dattn);
        let xn1 = par_rms_fwd(x, w.norm1, self.eps);
        let dw_qkv = &mut dw[lay.qkv..lay.qkv + 3 * d * d];
        sgemm(
            3 * d,
            d,
            m,
            View::tr(&dqkv, 3 * d),
            View::rm(&xn1, d),
            dw_qkv,
            d,
            false,
            true,
        );
        drop(xn1);
        let mut dxn1 = vec![0f32; m * d];
        sgemm(
            m,
            d,
            3 * d,
            View::rm(&dqkv, 3 * d),
            View::rm(w.qkv, d),
            &mut dxn1,
            d,
            false,
            true,
        );
        drop(dqkv);
        let mut dx = dx1;
        let dn1 = par_rms_bwd(x, w.norm1, &dxn1, self.eps, &mut dx, true);
        dw[lay.norm1..lay.norm1 + d].copy_from_slice(&dn1);
        (dx, dw)
    }
}
