//! The network: token embedding with missing-value masking, encoder, three task heads.

use std::sync::Mutex;

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::{Init, VarBuilder};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::block::{Block, EMBED_INIT, Linear, Pass};
use crate::ops::{self, Kernels};
use crate::{FfnKind, ImputeBase, MissingInput, ModelConfig};
use crate::{ModelError, Result};

/// A task head: blocks, a final RMSNorm and an output layer.
#[derive(Clone, Debug)]
struct Head {
    blocks: Vec<Block>,
    norm: Tensor,
    out: Linear,
}

impl Head {
    fn new(cfg: &ModelConfig, out: usize, vb: VarBuilder) -> Result<Self> {
        let blocks = (0..cfg.head_layers)
            .map(|i| Block::new(cfg, FfnKind::Swiglu, vb.pp("blocks").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            blocks,
            norm: vb
                .pp("norm")
                .get_with_hints(cfg.d_model, "weight", Init::Const(1.0))?,
            out: Linear::new(cfg.d_model, out, true, vb.pp("out"))?,
        })
    }
}

/// State of the dropout generator, for checkpoints: restoring it with
/// [`WonHee::set_dropout_state`] makes the next forward passes draw the same masks as after
/// the save.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropoutState {
    /// The seed given to [`WonHee::seed_dropout`].
    pub seed: u64,
    /// 32-bit words consumed since seeding (two per forward-pass dropout site).
    pub word_pos: u64,
}

struct DropoutRng {
    seed: u64,
    rng: ChaCha8Rng,
}

impl DropoutRng {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

/// The WonHEE model: shared embedding and encoder, three task heads.
///
/// Inputs are `x`: f32 `[batch, seq_len]` and, for imputation and forecasting, `missing`:
/// `[batch, seq_len]` of any dtype where nonzero means missing (u8 0/1 is the natural choice;
/// f32 0/1 works too). Missing values are replaced by 0 before the token embedding (with a
/// select, so NaN there is harmless; `missing_input = "interpolate"` then fills them from the
/// observed points) and the embedding of every token holding a missing point (every point,
/// with a mask channel) is replaced by the learnable `missing` embedding: no path carries a
/// masked value.
pub struct WonHee {
    cfg: ModelConfig,
    embed: Linear,
    missing: Tensor,
    cls: Tensor,
    rhythm: Option<Linear>,
    lead2: Option<Linear>,
    pos: Tensor,
    encoder: Vec<Block>,
    enc_norm: Tensor,
    classify: Head,
    impute: Head,
    forecast: Head,
    kernels: Kernels,
    rng: Mutex<DropoutRng>,
    device: Device,
}

impl std::fmt::Debug for WonHee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WonHee")
            .field("cfg", &self.cfg)
            .field("kernels", &self.kernels)
            .finish()
    }
}

/// The first non-finite value of the f32 matrix `t` with `cols` columns: row, column, value.
fn first_non_finite(t: &Tensor, cols: usize) -> Result<Option<(usize, usize, f32)>> {
    let v = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(v.iter()
        .position(|v| !v.is_finite())
        .map(|i| (i / cols.max(1), i % cols.max(1), v[i])))
}

/// Sinusoidal position encoding `[n, d]`: `sin(t / 10000^(2i/d))` at column `2i`, `cos` at
/// `2i + 1`.
pub fn sinusoidal_positions(n: usize, d: usize, dev: &Device) -> Result<Tensor> {
    let mut v = vec![0f32; n * d];
    for t in 0..n {
        for i in 0..d / 2 {
            let freq = 10000f64.powf(-2.0 * i as f64 / d as f64);
            let a = t as f64 * freq;
            v[t * d + 2 * i] = a.sin() as f32;
            v[t * d + 2 * i + 1] = a.cos() as f32;
        }
    }
    Ok(Tensor::from_vec(v, (n, d), dev)?)
}

impl WonHee {
    /// Builds the model, taking (or creating) its variables from `vb` under the names listed in
    /// the crate docs. For a reproducible initialisation fill the VarMap first with
    /// [`crate::init_varmap`]; a fresh VarMap is filled by candle's unseeded generator.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        if vb.dtype() != DType::F32 {
            return Err(ModelError::Config(format!(
                "dtype {:?}: the model is f32",
                vb.dtype()
            )));
        }
        let d = cfg.d_model;
        let device = vb.device().clone();
        let encoder = (0..cfg.n_layers)
            .map(|i| Block::new(cfg, cfg.ffn, vb.pp("encoder").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            embed: Linear::new(cfg.embed_inputs(), d, true, vb.pp("embed"))?,
            missing: vb.get_with_hints(d, "missing", EMBED_INIT)?,
            cls: vb.get_with_hints(d, "cls", EMBED_INIT)?,
            rhythm: if cfg.rhythm_inputs > 0 {
                Some(Linear::new(cfg.beat_inputs(), d, false, vb.pp("rhythm"))?)
            } else {
                None
            },
            lead2: if cfg.second_lead {
                Some(Linear::new(cfg.patch, d, false, vb.pp("lead2"))?)
            } else {
                None
            },
            pos: sinusoidal_positions(cfg.n_tokens(), d, &device)?,
            encoder,
            enc_norm: vb
                .pp("encoder")
                .pp("norm")
                .get_with_hints(d, "weight", Init::Const(1.0))?,
            classify: Head::new(cfg, cfg.n_classes, vb.pp("classify"))?,
            impute: Head::new(cfg, cfg.patch, vb.pp("impute"))?,
            forecast: Head::new(cfg, cfg.patch, vb.pp("forecast"))?,
            kernels: Kernels::Auto,
            rng: Mutex::new(DropoutRng::new(0)),
            device,
        })
    }

    /// Uses the given kernel implementation (default [`Kernels::Auto`]).
    pub fn with_kernels(mut self, k: Kernels) -> Self {
        self.kernels = k;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The device of the model's tensors.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Re-seeds the dropout generator (seed 0 at construction).
    pub fn seed_dropout(&self, seed: u64) {
        *self.lock_rng() = DropoutRng::new(seed);
    }

    /// The dropout generator's state (see [`DropoutState`]).
    pub fn dropout_state(&self) -> DropoutState {
        let g = self.lock_rng();
        DropoutState {
            seed: g.seed,
            word_pos: u64::try_from(g.rng.get_word_pos()).unwrap_or(u64::MAX),
        }
    }

    /// Restores a state from [`WonHee::dropout_state`].
    pub fn set_dropout_state(&self, s: DropoutState) {
        let mut r = DropoutRng::new(s.seed);
        r.rng.set_word_pos(u128::from(s.word_pos));
        *self.lock_rng() = r;
    }

    fn lock_rng(&self) -> std::sync::MutexGuard<'_, DropoutRng> {
        // A panic while holding the lock cannot leave the generator half-updated.
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_x(&self, x: &Tensor) -> Result<usize> {
        let l = self.cfg.seq_len;
        match x.dims() {
            &[b, len] if len == l && b > 0 => {}
            dims => {
                return Err(ModelError::Input(format!(
                    "x has shape {dims:?}, expected [batch, {l}] with batch >= 1"
                )));
            }
        }
        if x.dtype() != DType::F32 {
            return Err(ModelError::Input(format!(
                "x has dtype {:?}, expected f32",
                x.dtype()
            )));
        }
        if !x.device().same_device(&self.device) {
            return Err(ModelError::Input(format!(
                "x is on {:?}, the model on {:?}",
                x.device(),
                self.device
            )));
        }
        Ok(x.dim(0)?)
    }

    /// Zeroes missing points, checks that the observed ones are finite, and returns the
    /// cleaned input, the per-token flags `[b, n, 1]` (u8) of the tokens to replace by the
    /// missing-value embedding and the point mask `[b, seq_len]` (u8).
    fn clean(&self, x: &Tensor, missing: Option<&Tensor>) -> Result<Cleaned> {
        let b = self.check_x(x)?;
        let (n, p) = (self.cfg.n_tokens(), self.cfg.patch);
        let (x0, tok) = match missing {
            None => (x.clone(), None),
            Some(m) => {
                if m.dims() != x.dims() {
                    return Err(ModelError::Input(format!(
                        "missing mask has shape {:?}, x has {:?}",
                        m.dims(),
                        x.dims()
                    )));
                }
                let m = m.to_device(&self.device)?.ne(0f64)?;
                let x0 = m.where_cond(&x.zeros_like()?, x)?;
                let per_token = m.reshape((b, n, p))?;
                let tok = match self.cfg.missing_input {
                    MissingInput::Replace => per_token.max_keepdim(D::Minus1)?,
                    MissingInput::MaskChannel | MissingInput::Interpolate => {
                        per_token.min_keepdim(D::Minus1)?
                    }
                };
                (x0, Some((tok, m)))
            }
        };
        if let Some((r, c, v)) = first_non_finite(&x0, self.cfg.seq_len)? {
            return Err(ModelError::Input(format!(
                "x[{r}, {c}] = {v} is not finite and not marked missing"
            )));
        }
        Ok((x0, tok))
    }

    /// Token embeddings `[b, n, d]` with missing tokens replaced and positions added; also
    /// the cleaned input and point mask, and (with `missing_input = "interpolate"`) the filled
    /// input: linear interpolation, or the last observed value held where `causal`.
    fn tokens(
        &self,
        x: &Tensor,
        missing: Option<&Tensor>,
        causal: bool,
    ) -> Result<(Tensor, Cleaned, Option<Tensor>)> {
        let cleaned = self.clean(x, missing)?;
        let (x0, masks) = &cleaned;
        let b = x0.dim(0)?;
        let (n, p, d) = (self.cfg.n_tokens(), self.cfg.patch, self.cfg.d_model);
        let mut filled = None;
        let input = match self.cfg.missing_input {
            MissingInput::Replace => x0.reshape((b, n, p))?,
            MissingInput::MaskChannel | MissingInput::Interpolate => {
                let (values, m) = match masks {
                    Some((_, m)) => {
                        let values = if self.cfg.missing_input == MissingInput::Interpolate {
                            let fill = if causal { Fill::Hold } else { Fill::Linear };
                            let f = fill_missing(x0, m, fill)?;
                            filled = Some(f.clone());
                            f
                        } else {
                            x0.clone()
                        };
                        (values, m.to_dtype(DType::F32)?)
                    }
                    None => (x0.clone(), x0.zeros_like()?),
                };
                Tensor::cat(&[values.reshape((b, n, p))?, m.reshape((b, n, p))?], 2)?
            }
        };
        let mut e = self.embed.forward(&input)?;
        if let Some((tok, _)) = masks {
            let mask = tok.broadcast_as((b, n, d))?;
            e = mask.where_cond(&self.missing.broadcast_as((b, n, d))?, &e)?;
        }
        Ok((e.broadcast_add(&self.pos)?, cleaned, filled))
    }

    fn pass(
        &self,
        causal: bool,
        train: bool,
        f: impl FnOnce(&mut Pass<'_>) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut guard = train.then(|| self.lock_rng());
        let mut pass = Pass {
            causal,
            kernels: self.kernels,
            dropout: self.cfg.dropout,
            attn_dropout: self.cfg.attn_dropout,
            rng: guard.as_mut().map(|g| &mut g.rng),
        };
        f(&mut pass)
    }

    fn trunk(&self, h: Tensor, head: &Head, pass: &mut Pass<'_>) -> Result<Tensor> {
        let mut h = h;
        for blk in &self.encoder {
            h = blk.forward(&h, pass)?;
        }
        h = ops::rms_norm(&h, &self.enc_norm, self.cfg.norm_eps, pass.kernels)?;
        for blk in &head.blocks {
            h = blk.forward(&h, pass)?;
        }
        Ok(ops::rms_norm(
            &h,
            &head.norm,
            self.cfg.norm_eps,
            pass.kernels,
        )?)
    }

    /// Checks `rhythm` against the config: required exactly when `rhythm_inputs > 0`, shape
    /// `[b, beat_inputs]` f32 (`ModelConfig::beat_inputs`), finite.
    fn check_rhythm(&self, b: usize, rhythm: Option<&Tensor>) -> Result<()> {
        let want = self.cfg.beat_inputs();
        let r = match (want, rhythm) {
            (0, None) => return Ok(()),
            (0, Some(_)) => {
                return Err(ModelError::Input(
                    "rhythm features given, but the model has rhythm_inputs = 0".into(),
                ));
            }
            (_, None) => {
                return Err(ModelError::Input(format!(
                    "the model reads {want} rhythm features per beat (rhythm_inputs, lead2_context); \
                     none given"
                )));
            }
            (_, Some(r)) => r,
        };
        if r.dims() != [b, want] || r.dtype() != DType::F32 {
            return Err(ModelError::Input(format!(
                "rhythm features have shape {:?} and dtype {:?}, expected [{b}, {want}] f32",
                r.dims(),
                r.dtype()
            )));
        }
        if let Some((i, j, v)) = first_non_finite(r, want)? {
            return Err(ModelError::Input(format!(
                "rhythm[{i}, {j}] = {v} is not finite"
            )));
        }
        Ok(())
    }

    /// Checks `x2` against the config (required exactly when `second_lead`, the shape of
    /// `x`, f32, finite) and returns its token embeddings `[b, n, d]` when given.
    fn lead2_tokens(&self, b: usize, x2: Option<&Tensor>) -> Result<Option<Tensor>> {
        let (lin, x2) = match (&self.lead2, x2) {
            (None, None) => return Ok(None),
            (None, Some(_)) => {
                return Err(ModelError::Input(
                    "a second lead given, but the model has second_lead = false".into(),
                ));
            }
            (Some(_), None) => {
                return Err(ModelError::Input(
                    "the model reads a second lead (second_lead); none given".into(),
                ));
            }
            (Some(lin), Some(x2)) => (lin, x2),
        };
        let l = self.cfg.seq_len;
        if x2.dims() != [b, l] || x2.dtype() != DType::F32 {
            return Err(ModelError::Input(format!(
                "second lead has shape {:?} and dtype {:?}, expected [{b}, {l}] f32",
                x2.dims(),
                x2.dtype()
            )));
        }
        let x2 = x2.to_device(&self.device)?;
        if let Some((i, j, v)) = first_non_finite(&x2, l)? {
            return Err(ModelError::Input(format!(
                "x2[{i}, {j}] = {v} is not finite"
            )));
        }
        let (n, p) = (self.cfg.n_tokens(), self.cfg.patch);
        Ok(Some(lin.forward(&x2.reshape((b, n, p))?)?))
    }

    fn cls_features(
        &self,
        x: &Tensor,
        x2: Option<&Tensor>,
        rhythm: Option<&Tensor>,
        pass: &mut Pass<'_>,
    ) -> Result<Tensor> {
        // `tokens` checks `x` first, so its errors come before the others'.
        let (e, _, _) = self.tokens(x, None, false)?;
        let b = e.dim(0)?;
        let e = match self.lead2_tokens(b, x2)? {
            Some(e2) => (e + e2)?,
            None => e,
        };
        self.check_rhythm(b, rhythm)?;
        let d = self.cfg.d_model;
        let mut cls = self.cls.reshape((1, 1, d))?.broadcast_as((b, 1, d))?;
        if let (Some(lin), Some(r)) = (&self.rhythm, rhythm) {
            let r = r.to_device(&self.device)?;
            cls = cls.broadcast_add(&lin.forward(&r)?.reshape((b, 1, d))?)?;
        }
        let h = Tensor::cat(&[&cls, &e], 1)?;
        let h = self.trunk(h, &self.classify, pass)?;
        Ok(h.i((.., 0, ..))?)
    }

    /// Class logits `[b, n_classes]` from the [CLS] token. `train` turns dropout on. For a
    /// model without rhythm inputs (the paper's); see [`WonHee::forward_classify_with`].
    pub fn forward_classify(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_classify_with(x, None, train)
    }

    /// Class logits with the beats' rhythm features `rhythm` `[b, rhythm_inputs]` (required
    /// exactly when the config has `rhythm_inputs > 0`), added to the [CLS] token through a
    /// linear layer.
    pub fn forward_classify_with(
        &self,
        x: &Tensor,
        rhythm: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        self.forward_classify_leads(x, None, rhythm, train)
    }

    /// [`WonHee::forward_classify_with`] with the second lead `x2` `[b, seq_len]` (required
    /// exactly when the config has `second_lead`), whose token embeddings are added to the
    /// first lead's.
    pub fn forward_classify_leads(
        &self,
        x: &Tensor,
        x2: Option<&Tensor>,
        rhythm: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        self.pass(false, train, |pass| {
            let f = self.cls_features(x, x2, rhythm, pass)?;
            self.classify.out.forward(&f)
        })
    }

    /// The [CLS] features `[b, d]` that the classification layer reads (evaluation mode), for
    /// t-SNE and the like. For a model without rhythm inputs; see [`WonHee::embed_with`].
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.embed_with(x, None)
    }

    /// [`WonHee::embed`] with the beats' rhythm features (as in
    /// [`WonHee::forward_classify_with`]).
    pub fn embed_with(&self, x: &Tensor, rhythm: Option<&Tensor>) -> Result<Tensor> {
        self.embed_leads(x, None, rhythm)
    }

    /// [`WonHee::embed_with`] with the second lead (as in [`WonHee::forward_classify_leads`]).
    pub fn embed_leads(
        &self,
        x: &Tensor,
        x2: Option<&Tensor>,
        rhythm: Option<&Tensor>,
    ) -> Result<Tensor> {
        self.pass(false, false, |pass| self.cls_features(x, x2, rhythm, pass))
    }

    fn per_point(
        &self,
        x: &Tensor,
        missing: &Tensor,
        causal: bool,
        head: &Head,
        base: ImputeBase,
        train: bool,
    ) -> Result<Tensor> {
        self.pass(causal, train, |pass| {
            let (e, (x0, masks), filled) = self.tokens(x, Some(missing), causal)?;
            let b = e.dim(0)?;
            let h = self.trunk(e, head, pass)?;
            let y = head.out.forward(&h)?.reshape((b, self.cfg.seq_len))?;
            match (base, masks) {
                (ImputeBase::Linear, Some((_, m))) => {
                    // The embedding's fill is the linear one unless `causal`.
                    let base = match filled {
                        Some(f) if !causal => f,
                        _ => fill_missing(&x0, &m, Fill::Linear)?,
                    };
                    Ok((y + base)?)
                }
                _ => Ok(y),
            }
        })
    }

    /// Reconstruction `[b, seq_len]` of the window (the loss is taken at missing points).
    pub fn forward_impute(&self, x: &Tensor, missing: &Tensor, train: bool) -> Result<Tensor> {
        self.per_point(x, missing, false, &self.impute, self.cfg.impute_base, train)
    }

    /// Causal prediction `[b, seq_len]`: the output for token t depends only on tokens <= t
    /// (with the SwiGLU encoder; see [`SoftMoe`] for the MoE variant).
    pub fn forward_forecast(&self, x: &Tensor, missing: &Tensor, train: bool) -> Result<Tensor> {
        self.per_point(x, missing, true, &self.forecast, ImputeBase::None, train)
    }
}

/// Cleaned input `[b, seq_len]` and, with a mask, the per-token replace flags and point mask.
type Cleaned = (Tensor, Option<(Tensor, Tensor)>);

/// How [`fill_missing`] estimates a missing point from the observed ones (`m == 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// Linear interpolation between the nearest observed points, held flat before the first
    /// and after the last (`wonhee_signal::fill_nan_linear`).
    Linear,
    /// The last observed value at or before the point (0 before the first): causal.
    Hold,
}

/// Each row of `x0` `[b, L]` with its missing points (`m != 0`) filled from its observed
/// points; all zero where a row has none. Reads only observed values. Computed on the host:
/// it is O(b L) and carries no gradient.
fn fill_missing(x0: &Tensor, m: &Tensor, fill: Fill) -> Result<Tensor> {
    let (b, l) = x0.dims2()?;
    let xs = x0.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let ms = m.to_dtype(DType::U8)?.flatten_all()?.to_vec1::<u8>()?;
    let mut out = vec![0f32; b * l];
    for r in 0..b {
        let (x, m, o) = (&xs[r * l..][..l], &ms[r * l..][..l], &mut out[r * l..][..l]);
        match fill {
            Fill::Linear => interpolate_row(x, m, o),
            Fill::Hold => hold_row(x, m, o),
        }
    }
    Ok(Tensor::from_vec(out, (b, l), x0.device())?)
}

fn interpolate_row(x: &[f32], missing: &[u8], out: &mut [f32]) {
    let mut row: Vec<f64> = x
        .iter()
        .zip(missing)
        .map(|(&v, &m)| if m != 0 { f64::NAN } else { f64::from(v) })
        .collect();
    match wonhee_signal::fill_nan_linear(&mut row) {
        Ok(_) => {
            for (o, v) in out.iter_mut().zip(&row) {
                *o = *v as f32;
            }
        }
        // No observed point: nothing to interpolate from.
        Err(_) => out.fill(0.0),
    }
}

fn hold_row(x: &[f32], missing: &[u8], out: &mut [f32]) {
    let mut last = 0f32;
    for ((o, &v), &m) in out.iter_mut().zip(x).zip(missing) {
        if m == 0 {
            last = v;
        }
        *o = last;
    }
}

#[cfg(test)]
mod linear_fill_tests {
    use super::{hold_row, interpolate_row};

    #[test]
    fn interpolates_between_and_holds_beyond_observed_points() {
        let x = [9.0, 1.0, 9.0, 9.0, 4.0, 9.0, 9.0];
        let m = [1, 0, 1, 1, 0, 1, 1];
        let mut out = [f32::NAN; 7];
        interpolate_row(&x, &m, &mut out);
        assert_eq!(out, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]);
        let mut none = [f32::NAN; 3];
        interpolate_row(&[5.0; 3], &[1; 3], &mut none);
        assert_eq!(none, [f32::NAN; 3].map(|_| 0.0));
    }

    #[test]
    fn hold_carries_the_last_observed_value_forward_only() {
        let x = [9.0, 1.0, 9.0, 9.0, 4.0, 9.0];
        let m = [1, 0, 1, 1, 0, 1];
        let mut out = [f32::NAN; 6];
        hold_row(&x, &m, &mut out);
        assert_eq!(out, [0.0, 1.0, 1.0, 1.0, 4.0, 4.0]);
    }
}
