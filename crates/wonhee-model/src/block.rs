//! The transformer's layers: [`Linear`], the feed-forward kinds ([`SwiGlu`], [`SoftMoe`]) and
//! the pre-norm transformer [`Block`] built from them. On CPU a SwiGLU block runs as one fused
//! op ([`crate::kernels::fused_block`]); elsewhere it is composed of candle primitives.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use crate::kernels::fused_block::{BlockLayout, BlockOp};
use crate::ops::{self, DropSpec, Kernels};
use crate::{FfnKind, ModelConfig, Result};

/// Initialisation of a weight matrix `[out, in]` (and its bias): uniform in
/// `±1 / sqrt(in)`, as PyTorch's `nn.Linear`.
pub(crate) fn linear_init(fan_in: usize) -> Init {
    let b = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

/// Initialisation of the learnable missing-value and [CLS] embeddings.
pub(crate) const EMBED_INIT: Init = Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

/// A dense layer `y = x W^T (+ b)` on the last axis, as one matrix product over all leading
/// axes.
#[derive(Clone, Debug)]
pub struct Linear {
    w: Tensor,
    b: Option<Tensor>,
}

impl Linear {
    /// `weight` `[out, in]` and, with `bias`, `bias` `[out]` under `vb`.
    pub fn new(fan_in: usize, fan_out: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let init = linear_init(fan_in);
        let w = vb.get_with_hints((fan_out, fan_in), "weight", init)?;
        let b = if bias {
            Some(vb.get_with_hints(fan_out, "bias", init)?)
        } else {
            None
        };
        Ok(Self { w, b })
    }

    /// Applies the layer to `x` of shape `[.., in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::profile::timed(ops::profile::Op::LinearFwd, || self.forward_inner(x))
    }

    fn forward_inner(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims();
        let fan_in = dims.last().copied().unwrap_or(0);
        let rows = x.elem_count() / fan_in.max(1);
        let y = x.reshape((rows, fan_in))?.matmul(&self.w.t()?)?;
        let y = match &self.b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = dims.to_vec();
        if let Some(last) = out.last_mut() {
            *last = self.w.dim(0)?;
        }
        Ok(y.reshape(out)?)
    }
}

/// SwiGLU feed-forward: `down(silu(x G^T) * (x U^T))` with `gate_up.weight = [G; U]`.
#[derive(Clone, Debug)]
pub struct SwiGlu {
    gate_up: Linear,
    down: Linear,
}

impl SwiGlu {
    /// `gate_up.weight` `[2h, d]` (gate rows first), `down.weight` `[d, h]`.
    pub fn new(d: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gate_up: Linear::new(d, 2 * hidden, false, vb.pp("gate_up"))?,
            down: Linear::new(hidden, d, false, vb.pp("down"))?,
        })
    }

    /// `x`: `[.., d]`.
    pub fn forward(&self, x: &Tensor, k: Kernels) -> Result<Tensor> {
        let gu = self.gate_up.forward(x)?;
        self.down.forward(&ops::swiglu(&gu, k)?)
    }
}

/// Soft mixture of experts (Puigcerver et al. 2023): every slot is a softmax-over-tokens
/// weighted average of the tokens (dispatch), each expert processes its slots, and every token
/// is a softmax-over-slots weighted average of the slot outputs (combine). Both softmaxes use
/// the same logits `x Phi`.
///
/// Slots pool over the whole sequence, so a Soft-MoE layer is not causal: in forecast mode the
/// output at a position can depend on later tokens (which carry only the missing-value
/// embedding there, never a masked value).
#[derive(Clone, Debug)]
pub struct SoftMoe {
    phi: Tensor,
    experts: Vec<SwiGlu>,
    slots_per_expert: usize,
}

impl SoftMoe {
    /// `phi` `[d, n_experts * slots_per_expert]` and `experts.{e}` SwiGLUs under `vb`.
    pub fn new(
        d: usize,
        hidden: usize,
        n_experts: usize,
        slots_per_expert: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let phi = vb.get_with_hints((d, n_experts * slots_per_expert), "phi", linear_init(d))?;
        let experts = (0..n_experts)
            .map(|e| SwiGlu::new(d, hidden, vb.pp("experts").pp(e)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            phi,
            experts,
            slots_per_expert,
        })
    }

    /// Dispatch weights `[b, slots, tokens]` (each slot's row sums to 1) and combine weights
    /// `[b, tokens, slots]` (each token's row sums to 1) for `x` `[b, tokens, d]`.
    pub fn routing(&self, x: &Tensor, k: Kernels) -> Result<(Tensor, Tensor)> {
        let (b, t, d) = x.dims3()?;
        let s = self.phi.dim(1)?;
        let logits = x
            .reshape((b * t, d))?
            .matmul(&self.phi)?
            .reshape((b, t, s))?;
        let dispatch = ops::softmax_last_dim(&logits.transpose(1, 2)?.contiguous()?, k)?;
        let combine = ops::softmax_last_dim(&logits, k)?;
        Ok((dispatch, combine))
    }

    /// `x`: `[b, tokens, d]` -> `[b, tokens, d]`.
    pub fn forward(&self, x: &Tensor, k: Kernels) -> Result<Tensor> {
        let (dispatch, combine) = self.routing(x, k)?;
        let slots = dispatch.matmul(x)?; // [b, slots, d]
        let outs = self
            .experts
            .iter()
            .enumerate()
            .map(|(e, ex)| {
                let xs = slots.narrow(1, e * self.slots_per_expert, self.slots_per_expert)?;
                ex.forward(&xs.contiguous()?, k)
            })
            .collect::<Result<Vec<_>>>()?;
        let ys = Tensor::cat(&outs, 1)?;
        Ok(combine.matmul(&ys)?)
    }
}

/// Feed-forward layer of a block.
#[derive(Clone, Debug)]
pub enum Ffn {
    /// Dense SwiGLU.
    Swiglu(SwiGlu),
    /// Soft-MoE of SwiGLU experts.
    SoftMoe(SoftMoe),
}

/// Run-time context of one forward pass.
pub(crate) struct Pass<'a> {
    pub causal: bool,
    pub kernels: Kernels,
    pub dropout: f32,
    pub attn_dropout: f32,
    /// Source of dropout seeds; `None` in evaluation mode.
    pub rng: Option<&'a mut ChaCha8Rng>,
}

impl Pass<'_> {
    fn drop(&mut self, p: f32) -> Option<DropSpec> {
        self.rng.as_mut().map(|r| DropSpec {
            p,
            seed: r.next_u64(),
        })
    }
}

/// Pre-norm transformer block: `x + drop(proj(attn(norm1(x))))`, then
/// `x + drop(ffn(norm2(x)))`.
#[derive(Clone, Debug)]
pub struct Block {
    norm1: Tensor,
    qkv: Linear,
    proj: Linear,
    norm2: Tensor,
    ffn: Ffn,
    heads: usize,
    eps: f32,
}

impl Block {
    /// A block with the given feed-forward kind (`norm1`, `attn.qkv`, `attn.proj`, `norm2`,
    /// `ffn` under `vb`).
    pub fn new(cfg: &ModelConfig, ffn: FfnKind, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        let ffn = match ffn {
            FfnKind::Swiglu => Ffn::Swiglu(SwiGlu::new(d, cfg.ffn_hidden(), vb.pp("ffn"))?),
            FfnKind::SoftMoe => Ffn::SoftMoe(SoftMoe::new(
                d,
                cfg.ffn_hidden(),
                cfg.n_experts,
                cfg.slots_per_expert,
                vb.pp("ffn"),
            )?),
        };
        Ok(Self {
            norm1: vb
                .pp("norm1")
                .get_with_hints(d, "weight", Init::Const(1.0))?,
            qkv: Linear::new(d, 3 * d, false, vb.pp("attn").pp("qkv"))?,
            proj: Linear::new(d, d, false, vb.pp("attn").pp("proj"))?,
            norm2: vb
                .pp("norm2")
                .get_with_hints(d, "weight", Init::Const(1.0))?,
            ffn,
            heads: cfg.n_heads,
            eps: cfg.norm_eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> Result<Tensor> {
        let k = pass.kernels;
        let attn_drop = pass.drop(pass.attn_dropout);
        let drop1 = pass.drop(pass.dropout);
        let drop2 = pass.drop(pass.dropout);
        if let Ffn::Swiglu(f) = &self.ffn
            && k.block_on(x.device())?
        {
            return self.forward_fused(x, f, pass.causal, attn_drop, drop1, drop2);
        }
        let h = ops::rms_norm(x, &self.norm1, self.eps, k)?;
        let qkv = self.qkv.forward(&h)?;
        let a = ops::attention(&qkv, self.heads, pass.causal, attn_drop, k)?;
        let a = self.proj.forward(&a)?;
        let a = match drop1 {
            Some(s) => ops::dropout(&a, s, k)?,
            None => a,
        };
        let x = (x + a)?;
        let h = ops::rms_norm(&x, &self.norm2, self.eps, k)?;
        let f = match &self.ffn {
            Ffn::Swiglu(f) => f.forward(&h, k)?,
            Ffn::SoftMoe(f) => f.forward(&h, k)?,
        };
        let f = match drop2 {
            Some(s) => ops::dropout(&f, s, k)?,
            None => f,
        };
        Ok((x + f)?)
    }

    /// The whole block as one fused CPU op (see `block.rs`).
    fn forward_fused(
        &self,
        x: &Tensor,
        f: &SwiGlu,
        causal: bool,
        attn_drop: Option<DropSpec>,
        drop1: Option<DropSpec>,
        drop2: Option<DropSpec>,
    ) -> Result<Tensor> {
        let (_b, n, d) = x.dims3()?;
        let h = f.down.w.dim(1)?;
        let lay = BlockLayout::new(d, h);
        let w = Tensor::cat(
            &[
                &self.norm1,
                &self.qkv.w.flatten_all()?,
                &self.proj.w.flatten_all()?,
                &self.norm2,
                &f.gate_up.w.flatten_all()?,
                &f.down.w.flatten_all()?,
            ],
            0,
        )?;
        let sh = ops::attn_shape(n, self.heads, d / self.heads, causal, attn_drop);
        let op = BlockOp::new(lay, sh, drop1, drop2, self.eps);
        Ok(x.contiguous()?.apply_op2(&w, op)?)
    }
}
