//! The WonHEE transformer in candle: one network for heartbeat classification, imputation of
//! missing points and forecasting of a trailing block of an ECG window.
//!
//! ```no_run
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::VarBuilder;
//! use wonhee_model::{ModelConfig, WonHee, init_varmap};
//!
//! # fn main() -> wonhee_model::Result<()> {
//! let cfg = ModelConfig::default(); // the paper's config
//! let dev = wonhee_model::device::parse_device("cpu")?;
//! let vm = init_varmap(&cfg, 42, &dev)?; // seeded initialisation
//! let model = WonHee::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
//! let x = Tensor::zeros((2, cfg.seq_len), DType::F32, &dev)?;
//! let mut m = vec![0u8; 2 * cfg.seq_len];
//! m[600..640].fill(1); // the last 40 points of sample 0 are missing
//! let missing = Tensor::from_vec(m, (2, cfg.seq_len), &dev)?;
//! let logits = model.forward_classify(&x, false)?; // [2, 5]
//! let recon = model.forward_impute(&x, &missing, false)?; // [2, 640]
//! let pred = model.forward_forecast(&x, &missing, true)?; // [2, 640], dropout on
//! wonhee_model::save_weights(&vm, "model.safetensors")?;
//! # Ok(()) }
//! ```
//!
//! # Architecture ([`ModelConfig`] defaults in brackets)
//! - Input `x` `[b, seq_len]` f32, `missing` `[b, seq_len]` (nonzero = missing). Missing points
//!   are set to 0 (by a select, so NaN there is fine), the window is cut into tokens of `patch`
//!   points [1], each embedded by `Linear(patch, d)` [d = 128]; every token holding a missing
//!   point gets the learnable `missing` embedding instead; sinusoidal positions are added.
//! - Classification prepends the learnable `cls` token (no position encoding). With
//!   `rhythm_inputs` [0] > 0, per-beat features `[b, rhythm_inputs]` (RR-interval ratios in
//!   WonHEE-rs) are added to it through `rhythm: Linear(rhythm_inputs, d)` without bias
//!   ([`WonHee::forward_classify_with`], [`WonHee::embed_with`]). With `second_lead` [false],
//!   the classification pass also reads a second lead `x2` `[b, seq_len]`, whose tokens are
//!   embedded by `lead2: Linear(patch, d)` without bias and added to the first lead's token
//!   embeddings ([`WonHee::forward_classify_leads`], [`WonHee::embed_leads`]); imputation and
//!   forecasting read the first lead alone.
//! - Encoder: `n_layers` [4] pre-norm blocks, each `x + drop(proj(attn(rmsnorm(x))))` then
//!   `x + drop(ffn(rmsnorm(x)))`; attention has `n_heads` [4] heads, scores scaled once by
//!   `1/sqrt(d/heads)`, dropout on the probabilities, a causal mask in forecast mode. The FFN is
//!   SwiGLU (hidden `4d`) or a Soft-MoE of SwiGLU experts ([`FfnKind`]). A final RMSNorm.
//! - Three heads (`classify`, `impute`, `forecast`), each `head_layers` [2] SwiGLU blocks, an
//!   RMSNorm and a linear output: class logits from the [CLS] token, or `patch` values per token.
//!   The forecast head and the encoder run causally in [`WonHee::forward_forecast`].
//! - No bias in the blocks' projections; biases in `embed` and the heads' outputs.
//!
//! # Weights
//! Variable names are stable and listed (with shapes) in [`tensor_specs`]; [`save_weights`] and
//! [`load_weights`] write and read safetensors files with those keys. [`init_varmap`] gives a
//! seeded, reproducible initialisation (candle's own initialisers are unseeded on CPU).
//!
//! # Dropout and determinism
//! Dropout masks are counter-based hashes of a 64-bit seed and the element's position, so the
//! backward regenerates them and results do not depend on threads. The seeds come from a
//! ChaCha8 generator owned by the model: every training-mode forward draws one seed per dropout
//! site (three per block, in block order). Seed it with [`WonHee::seed_dropout`]; for a bitwise
//! resume save [`WonHee::dropout_state`] in the checkpoint and restore it with
//! [`WonHee::set_dropout_state`]. `train = false` draws nothing and applies no dropout.
//!
//! # Kernels
//! On CPU ([`ops::Kernels::Auto`] / `Fused`) each SwiGLU transformer block is one custom op with
//! a hand-written backward: its matrix products go through the `gemm` crate (the engine under
//! candle's CPU matmul, built with its AVX-512 kernels), attention is computed in blocks of 64
//! query rows without materialising the score tensor (the backward recomputes scores from the
//! stored log-sum-exp), and RMSNorm, SwiGLU, residual dropout are fused row kernels; the
//! block keeps only `qkv`, the attention output, the residual stream and the FFN's
//! `[gate | up]` for its backward. Soft-MoE blocks use the same kernels op by op. On other
//! devices the model is built from candle primitives (`Composed`), which is also the reference
//! the fused path is tested against. Everything is differentiable end to end: candle-nn
//! 0.11's fused softmax/rms_norm have no backward and are not used.
//!
//! # Memory and the training step
//! Summing the three task losses and calling one `backward` keeps the graphs of all three
//! forwards alive at once. Calling `backward` after each task's forward and adding the three
//! [`candle_core::backprop::GradStore`]s gives the same gradients with a third of the peak (and
//! is what PCGrad needs anyway). Measured peak resident memory of a summed three-task step on
//! CPU: see `docs/bench/model.md`.

mod block;
pub mod device;
mod error;
pub mod kernels;
mod model;
pub mod ops;
mod weights;

pub use block::{Block, Ffn, Linear, SoftMoe, SwiGlu};
pub use error::{ModelError, Result};
pub use model::{DropoutState, WonHee, sinusoidal_positions};
pub use weights::{TensorSpec, init_varmap, load_weights, save_weights, tensor_specs};
/// The model's configuration, from [`wonhee_schema`] (a run file's `[model]` table).
pub use wonhee_schema::{FfnKind, Flops, ImputeBase, MissingInput, ModelConfig};

/// Alias of [`WonHee`].
pub type WonHeeModel = WonHee;
