//! [`ModelConfig`]: the WonHEE model's hyper-parameters (the `[model]` table of a run
//! configuration), loadable from TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SchemaError};

/// Feed-forward layer of the encoder blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FfnKind {
    /// SwiGLU: `down(silu(gate(x)) * up(x))`, hidden size `ffn_mult * d_model`.
    #[default]
    Swiglu,
    /// Soft mixture of experts (Puigcerver et al. 2023) with `n_experts` SwiGLU experts of
    /// `slots_per_expert` slots each. Only the encoder blocks use it; the heads keep SwiGLU.
    SoftMoe,
}

/// How tokens with missing points enter the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingInput {
    /// The paper: a token holding any missing point is replaced whole by the learnable
    /// missing-value embedding (its observed points are dropped too).
    #[default]
    Replace,
    /// The token embedding reads the P values (missing ones zeroed) and a P-point 0/1 mask,
    /// `Linear(2P, d)`; only tokens with every point missing take the missing-value embedding.
    /// Keeps the observed points of partly masked tokens, which random-point imputation with
    /// P > 1 needs (with `Replace` nearly every token is dropped).
    MaskChannel,
    /// As `MaskChannel`, but missing points carry an estimate made from observed points only
    /// instead of zero: linear interpolation between the nearest observed points in imputation
    /// (held flat beyond the first and the last), the last observed value held in forecasting
    /// (so the input at t depends on nothing after t). The embedding then sees the shape of a
    /// sparsely observed token rather than spikes down to zero.
    Interpolate,
}

/// What the imputation head's output is added to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImputeBase {
    /// Nothing: the head predicts the values (the paper).
    #[default]
    None,
    /// Linear interpolation between the observed points (held flat beyond the first and the
    /// last); the head predicts the residual. Computed from observed points only.
    Linear,
}

/// Hyper-parameters of the WonHEE model. `Default` is the paper's configuration.
///
/// In TOML, every field is optional (missing ones take the default) and unknown fields are
/// errors:
/// ```toml
/// [model]
/// patch = 8
/// ffn = "soft_moe"
/// slots_per_expert = 16
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Input window length L in points (640).
    pub seq_len: usize,
    /// Points per token P (1 = one token per point; must divide `seq_len`).
    pub patch: usize,
    /// Hidden size d (128).
    pub d_model: usize,
    /// Attention heads (4; must divide `d_model`).
    pub n_heads: usize,
    /// Encoder blocks (4).
    pub n_layers: usize,
    /// Blocks in each of the three task heads (2).
    pub head_layers: usize,
    /// Feed-forward kind of the encoder blocks.
    pub ffn: FfnKind,
    /// SwiGLU hidden size as a multiple of `d_model` (4).
    pub ffn_mult: usize,
    /// Soft-MoE experts (5).
    pub n_experts: usize,
    /// Soft-MoE slots per expert (128: 5 x 128 = 640 slots, one per token of the paper config).
    pub slots_per_expert: usize,
    /// Classes of the classification head (5 AAMI classes; 6 with an extra class).
    pub n_classes: usize,
    /// Dropout on the residual branches (after attention and after the feed-forward).
    pub dropout: f32,
    /// Dropout on the attention probabilities.
    pub attn_dropout: f32,
    /// Epsilon of every RMSNorm.
    pub norm_eps: f32,
    /// How tokens with missing points are embedded (`replace`, the paper, `mask_channel` or
    /// `interpolate`).
    pub missing_input: MissingInput,
    /// Base the imputation head's output is added to (`none`, the paper, or `linear`).
    pub impute_base: ImputeBase,
    /// Per-beat rhythm features (e.g. RR-interval ratios) the classification reads: 0 (the
    /// paper) for none; otherwise `Linear(rhythm_inputs, d)` of them, no bias, is added to the
    /// [CLS] token and `WonHee::forward_classify_with` needs them. The trainer gives 4 (the
    /// RR-interval log ratios), 8 (those and the patient-relative shape context of
    /// `wonhee_dataset::beat_context`) or 11 (and its timing features: prematurity against
    /// the rhythm's own irregularity).
    pub rhythm_inputs: usize,
    /// Whether the classification pass reads a second lead (false, the paper: MLII only).
    /// When set, `Linear(patch, d)` of the second lead's points, no bias, is added to each
    /// token's embedding in the classification pass only (imputation and forecasting read the
    /// first lead alone), and `WonHee::forward_classify_leads` needs it. Left out of the
    /// written TOML when off.
    #[serde(skip_serializing_if = "is_false")]
    pub second_lead: bool,
    /// Whether the [CLS] token also reads 3 patient-relative features of the beat in the
    /// second lead (`wonhee_dataset::lead2_shape`: its distance, amplitude and residual against
    /// that lead's own median beat), after the `rhythm_inputs` features: the rhythm layer is
    /// then `Linear(rhythm_inputs + 3, d)` ([`ModelConfig::beat_inputs`]). Needs
    /// `rhythm_inputs > 0` and a dataset prepared with the second lead. Left out of the
    /// written TOML when off.
    #[serde(skip_serializing_if = "is_false")]
    pub lead2_context: bool,
}

/// Second-lead features a model with `lead2_context` reads after its rhythm features.
pub const LEAD2_CONTEXT_INPUTS: usize = 3;

/// `true` for `false` (serde's `skip_serializing_if` for options that are off by default).
fn is_false(v: &bool) -> bool {
    !*v
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            seq_len: 640,
            patch: 1,
            d_model: 128,
            n_heads: 4,
            n_layers: 4,
            head_layers: 2,
            ffn: FfnKind::Swiglu,
            ffn_mult: 4,
            n_experts: 5,
            slots_per_expert: 128,
            n_classes: 5,
            dropout: 0.1,
            attn_dropout: 0.1,
            norm_eps: 1e-5,
            missing_input: MissingInput::Replace,
            impute_base: ImputeBase::None,
            rhythm_inputs: 0,
            second_lead: false,
            lead2_context: false,
        }
    }
}

/// Nominal floating-point operations per sample (2 per multiply-add of every matrix product,
/// attention scores counted in full even where causal; norms and activations not counted).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flops {
    /// `forward_classify` (one sample).
    pub classify: f64,
    /// `forward_impute`.
    pub impute: f64,
    /// `forward_forecast`.
    pub forecast: f64,
    /// One training sample: the three forwards plus their backwards (counted as twice the
    /// forward), i.e. `3 * (classify + impute + forecast)`.
    pub train_step: f64,
}

impl ModelConfig {
    /// Parses a config from TOML: either a bare table of model fields, or a file whose `[model]`
    /// table holds them (other tables, such as `[train]`, are then ignored). Validates it.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let table: toml::Table =
            toml::from_str(s).map_err(|e| SchemaError::ModelConfig(format!("TOML: {e}")))?;
        let cfg: ModelConfig = match table.get("model") {
            Some(toml::Value::Table(m)) => m.clone().try_into(),
            Some(_) => return Err(SchemaError::ModelConfig("`model` must be a table".into())),
            None => toml::Value::Table(table).try_into(),
        }
        .map_err(|e| SchemaError::ModelConfig(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads [`ModelConfig::from_toml_str`] from a file; errors name the file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| SchemaError::ModelConfigFile {
            path: path.to_path_buf(),
            msg: match e {
                SchemaError::ModelConfig(m) => m,
                other => other.to_string(),
            },
        })
    }

    /// The config as a TOML table (bare fields).
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| SchemaError::ModelConfig(e.to_string()))
    }

    /// Checks every constraint; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SchemaError::ModelConfig(m));
        if self.seq_len == 0 || self.patch == 0 {
            return bad(format!(
                "seq_len ({}) and patch ({}) must be positive",
                self.seq_len, self.patch
            ));
        }
        if !self.seq_len.is_multiple_of(self.patch) {
            return bad(format!(
                "seq_len ({}) must be divisible by patch ({})",
                self.seq_len, self.patch
            ));
        }
        if self.d_model == 0 || !self.d_model.is_multiple_of(2) {
            return bad(format!(
                "d_model ({}) must be positive and even",
                self.d_model
            ));
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return bad(format!(
                "d_model ({}) must be divisible by n_heads ({})",
                self.d_model, self.n_heads
            ));
        }
        if self.n_layers == 0 {
            return bad("n_layers must be at least 1".into());
        }
        if self.ffn_mult == 0 {
            return bad("ffn_mult must be at least 1".into());
        }
        if self.ffn == FfnKind::SoftMoe && (self.n_experts == 0 || self.slots_per_expert == 0) {
            return bad(format!(
                "soft_moe needs n_experts ({}) and slots_per_expert ({}) >= 1",
                self.n_experts, self.slots_per_expert
            ));
        }
        if self.n_classes < 2 {
            return bad(format!("n_classes ({}) must be at least 2", self.n_classes));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attn_dropout", self.attn_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{name} ({p}) must be in [0, 1)"));
            }
        }
        if self.lead2_context && self.rhythm_inputs == 0 {
            return bad("lead2_context needs rhythm_inputs > 0 (its features follow them)".into());
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return bad(format!("norm_eps ({}) must be positive", self.norm_eps));
        }
        Ok(())
    }

    /// Per-beat features the [CLS] token reads: `rhythm_inputs`, plus
    /// [`LEAD2_CONTEXT_INPUTS`] with `lead2_context`.
    pub fn beat_inputs(&self) -> usize {
        self.rhythm_inputs + usize::from(self.lead2_context) * LEAD2_CONTEXT_INPUTS
    }

    /// Tokens per window without the [CLS] token: `seq_len / patch`.
    pub fn n_tokens(&self) -> usize {
        self.seq_len / self.patch.max(1)
    }

    /// SwiGLU hidden size.
    pub fn ffn_hidden(&self) -> usize {
        self.ffn_mult * self.d_model
    }

    /// Soft-MoE slots in total.
    pub fn n_slots(&self) -> usize {
        self.n_experts * self.slots_per_expert
    }

    /// Inputs of the token embedding: P, or 2P with a mask channel.
    pub fn embed_inputs(&self) -> usize {
        match self.missing_input {
            MissingInput::Replace => self.patch,
            MissingInput::MaskChannel | MissingInput::Interpolate => 2 * self.patch,
        }
    }

    /// Number of trainable parameters, from the formula (tested against the built VarMap).
    pub fn param_count(&self) -> usize {
        let d = self.d_model;
        let h = self.ffn_hidden();
        let swiglu = 3 * h * d;
        let attn = 4 * d * d;
        let block = |ffn: usize| 2 * d + attn + ffn;
        let enc_ffn = match self.ffn {
            FfnKind::Swiglu => swiglu,
            FfnKind::SoftMoe => d * self.n_slots() + self.n_experts * swiglu,
        };
        let head = |out: usize| self.head_layers * block(swiglu) + d + d * out + out;
        let embed = self.embed_inputs() * d + d;
        embed
            + 2 * d // missing-value and [CLS] embeddings
            + self.beat_inputs() * d
            + usize::from(self.second_lead) * self.patch * d
            + self.n_layers * block(enc_ffn)
            + d // encoder's final norm
            + head(self.n_classes)
            + head(self.patch)
            + head(self.patch)
    }

    /// Nominal FLOPs per sample (see [`Flops`]).
    pub fn flops(&self) -> Flops {
        let d = self.d_model as f64;
        let h = self.ffn_hidden() as f64;
        let n = self.n_tokens() as f64;
        let p = self.patch as f64;
        let s = self.n_slots() as f64;
        let swiglu = |t: f64| 2.0 * t * 3.0 * h * d;
        let enc_ffn = |t: f64| match self.ffn {
            FfnKind::Swiglu => swiglu(t),
            // router logits, dispatch, experts on the slots, combine
            FfnKind::SoftMoe => 2.0 * t * d * s * 3.0 + swiglu(s),
        };
        let attn = |t: f64| 2.0 * t * 4.0 * d * d + 2.0 * 2.0 * t * t * d;
        let trunk = |t: f64| {
            self.n_layers as f64 * (attn(t) + enc_ffn(t))
                + self.head_layers as f64 * (attn(t) + swiglu(t))
        };
        let embed = 2.0 * n * self.embed_inputs() as f64 * d;
        let classify = embed
            + 2.0 * self.beat_inputs() as f64 * d
            + f64::from(u8::from(self.second_lead)) * 2.0 * n * p * d
            + trunk(n + 1.0)
            + 2.0 * d * self.n_classes as f64;
        let per_token = embed + trunk(n) + 2.0 * n * d * p;
        Flops {
            classify,
            impute: per_token,
            forecast: per_token,
            train_step: 3.0 * (classify + 2.0 * per_token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_flops_match_the_brief() {
        let f = ModelConfig::default().flops();
        assert!(
            (f.train_step / 1e9 - 29.5).abs() < 0.1,
            "{}",
            f.train_step / 1e9
        );
        let p8 = ModelConfig {
            patch: 8,
            ..Default::default()
        }
        .flops();
        assert!(
            (p8.train_step / 1e9 - 2.5).abs() < 0.1,
            "{}",
            p8.train_step / 1e9
        );
    }

    #[test]
    fn toml_bare_or_model_table() {
        let a = ModelConfig::from_toml_str("patch = 8\nffn = \"soft_moe\"").unwrap();
        assert_eq!((a.patch, a.ffn, a.d_model), (8, FfnKind::SoftMoe, 128));
        let b = ModelConfig::from_toml_str("[model]\npatch = 8\n[train]\nlr = 3e-4\n").unwrap();
        assert_eq!(b.patch, 8);
        let round = ModelConfig::from_toml_str(&a.to_toml_string().unwrap()).unwrap();
        assert_eq!(round, a);
        let e = ModelConfig::from_toml_str("pach = 8")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pach"), "{e}");
        let e = ModelConfig::from_toml_str("ffn = \"mlp\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mlp"), "{e}");
    }

    #[test]
    fn validate_names_the_problem() {
        let cases = [
            (
                ModelConfig {
                    patch: 7,
                    ..Default::default()
                },
                "divisible by patch",
            ),
            (
                ModelConfig {
                    n_heads: 3,
                    ..Default::default()
                },
                "divisible by n_heads",
            ),
            (
                ModelConfig {
                    dropout: 1.0,
                    ..Default::default()
                },
                "dropout",
            ),
            (
                ModelConfig {
                    n_classes: 1,
                    ..Default::default()
                },
                "n_classes",
            ),
            (
                ModelConfig {
                    d_model: 0,
                    ..Default::default()
                },
                "d_model",
            ),
            (
                ModelConfig {
                    ffn: FfnKind::SoftMoe,
                    n_experts: 0,
                    ..Default::default()
                },
                "n_experts",
            ),
        ];
        for (cfg, want) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        }
        assert!(ModelConfig::default().validate().is_ok());
    }

    #[test]
    fn config_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "[model]\nn_heads = 5\n").unwrap();
        let e = ModelConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("n_heads"), "{e}");
        let e = ModelConfig::from_toml_file(dir.path().join("nope.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.toml"), "{e}");
    }
}
