//! The multi-task training loop.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wonhee_dataset::{Dataset, RHYTHM_FEATURES, RngState, Shuffler, Side, WeightedSampler};
use wonhee_model::{DropoutState, WonHee};
use wonhee_signal::Scaler;

use crate::config::{Combine, RunConfig, SamplerKind};
use crate::error::{Result, TrainError};
use crate::masks::{draw_k, random_mask, trailing_mask};
use crate::optim::{AdamW, clip_grad_norm, grad_norm, learning_rate};
use crate::pcgrad::{TaskGrads, pcgrad, sum};
use crate::run::{
    CHECKPOINT_DIR, CONFIG_FILE, DatasetInfo, INFO_FILE, METRICS_LOG, MODEL_FILE,
    RUN_FORMAT_VERSION, RunInfo, readable_by_all, write_atomic, write_json,
};

/// Task names, in loss order.
pub const TASKS: [&str; 3] = ["classification", "imputation", "forecasting"];

/// What the training loop reports after every step.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based step just finished.
    pub step: usize,
    /// Steps planned.
    pub total: usize,
    /// Epoch (fractional).
    pub epoch: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Classification cross-entropy.
    pub loss_cls: f32,
    /// Imputation MSE on hidden points.
    pub loss_imp: f32,
    /// Forecasting MSE on hidden points.
    pub loss_fc: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// PCGrad projections made this step.
    pub projections: usize,
    /// Training samples per second over this session so far.
    pub samples_per_s: f64,
}

/// Validation figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValReport {
    /// Step after which it was computed.
    pub step: usize,
    /// Classification accuracy.
    pub accuracy: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Mean cross-entropy.
    pub cls_loss: f64,
    /// Imputation MSE on hidden points (K = 370, fixed masks).
    pub imp_mse: f64,
    /// Forecasting MSE on hidden points (trailing K = 370).
    pub fc_mse: f64,
}

/// Options of one training session.
pub struct TrainOptions<'a> {
    /// Where the model runs.
    pub device: Device,
    /// Continue from the run folder's checkpoint.
    pub resume: bool,
    /// Stop (as if interrupted, after writing a checkpoint) once this step is done.
    pub stop_after: Option<usize>,
    /// Called after every step.
    pub on_step: &'a dyn Fn(&StepReport),
    /// Called after every validation.
    pub on_val: &'a dyn Fn(&ValReport),
}

/// Result of a training session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Steps done in total.
    pub steps_done: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Whether the run is complete.
    pub finished: bool,
    /// Last validation.
    pub last_val: Option<ValReport>,
    /// Seconds of this session.
    pub seconds: f64,
    /// Samples per second in this session.
    pub samples_per_s: f64,
}

/// Random streams of a run, each from its own seed, checkpointed as (seed, position).
struct Streams {
    masks: ChaCha8Rng,
    noise: ChaCha8Rng,
    pcgrad: ChaCha8Rng,
}

fn stream(seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn pos(r: &ChaCha8Rng) -> u128 {
    r.get_word_pos()
}

fn at(seed: u64, salt: u64, word_pos: u128) -> ChaCha8Rng {
    let mut r = stream(seed, salt);
    r.set_word_pos(word_pos);
    r
}

/// Everything besides tensors that a checkpoint restores.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    step: usize,
    total_steps: usize,
    config_sha256: String,
    sampler: RngState,
    /// Shuffle sampler: its state before the current epoch's permutation, and the position in it.
    shuffler_epoch_start: Option<RngState>,
    shuffle_pos: usize,
    masks_pos: u128,
    noise_pos: u128,
    pcgrad_pos: u128,
    dropout: DropoutState,
    train_seconds: f64,
    last_val: Option<ValReport>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Train and validation window indices: the validation windows are a seeded, class-stratified
/// share of the training side (at most `val_max`), removed from training.
pub fn train_val_split(ds: &Dataset, cfg: &RunConfig) -> (Vec<usize>, Vec<usize>) {
    let t = &cfg.train;
    let on_train_side = |s: Side| match (t.fold, s) {
        (Some(k), Side::Fold(f)) => f != k,
        (None, Side::Train) => true,
        _ => false,
    };
    let all: Vec<usize> = (0..ds.len())
        .filter(|&i| on_train_side(ds.sides()[i]))
        .collect();
    let n_val = ((all.len() as f64 * t.val_fraction).round() as usize).min(t.val_max);
    if n_val == 0 {
        return (all, Vec::new());
    }
    let mut rng = stream(t.seed, 11);
    let n_classes = ds.class_names().len();
    let mut val = Vec::with_capacity(n_val);
    for c in 0..n_classes {
        let mut idx: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| usize::from(ds.labels()[i]) == c)
            .collect();
        let take =
            ((idx.len() as f64 * n_val as f64 / all.len() as f64).round() as usize).min(idx.len());
        for i in 0..take {
            let j = rng.random_range(i..idx.len());
            idx.swap(i, j);
        }
        val.extend_from_slice(&idx[..take]);
    }
    val.sort_unstable();
    let train = all
        .into_iter()
        .filter(|i| val.binary_search(i).is_err())
        .collect();
    (train, val)
}

/// Masked mean squared error: mean of `(pred - target)^2` over positions where `mask` is 1.
pub fn masked_mse(pred: &Tensor, target: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let d = (pred - target)?.sqr()?;
    let num = (d * mask)?.sum_all()?;
    let den = mask.sum_all()?;
    Ok(num.broadcast_div(&den)?)
}

/// The rhythm features `[b, rhythm_inputs]` of windows `idx` when the model reads them
/// (`model.rhythm_inputs > 0`), else `None`.
pub fn rhythm_batch(
    model: &wonhee_model::ModelConfig,
    ds: &Dataset,
    idx: &[usize],
    dev: &Device,
) -> Result<Option<Tensor>> {
    if model.rhythm_inputs == 0 {
        return Ok(None);
    }
    let mut r = vec![0f32; idx.len() * RHYTHM_FEATURES];
    ds.fill_rhythm(idx, &mut r)?;
    Ok(Some(Tensor::from_vec(
        r,
        (idx.len(), RHYTHM_FEATURES),
        dev,
    )?))
}

/// Checks that the model's rhythm inputs are the dataset's rhythm features and that the
/// dataset has them.
pub(crate) fn check_rhythm(model: &wonhee_model::ModelConfig, ds: &Dataset) -> Result<()> {
    match model.rhythm_inputs {
        0 => Ok(()),
        RHYTHM_FEATURES => {
            ds.rr()?;
            Ok(())
        }
        n => Err(TrainError::Config(format!(
            "model.rhythm_inputs is {n}; the dataset gives {RHYTHM_FEATURES} rhythm features \
             per beat (or set 0 for none)"
        ))),
    }
}

/// One batch, on the device.
struct Batch {
    x: Tensor,
    x_in: Tensor,
    rhythm: Option<Tensor>,
    labels: Tensor,
    imp_mask: Tensor,
    fc_mask: Tensor,
}

fn make_batch(
    ds: &Dataset,
    idx: &[usize],
    scaler: &Scaler,
    cfg: &RunConfig,
    st: &mut Streams,
    dev: &Device,
) -> Result<Batch> {
    let l = ds.window_len();
    let b = idx.len();
    let mut x = vec![0f32; b * l];
    ds.fill_batch(idx, scaler, &mut x)?;
    let t = &cfg.train;
    let mut imp = vec![0f32; b * l];
    let mut fc = vec![0f32; b * l];
    for i in 0..b {
        let k = draw_k(t.mask_min, t.mask_max, &mut st.masks);
        for (o, h) in imp[i * l..(i + 1) * l]
            .iter_mut()
            .zip(random_mask(l, k, &mut st.masks))
        {
            *o = f32::from(u8::from(h));
        }
        let k = draw_k(t.mask_min, t.mask_max, &mut st.masks);
        for (o, h) in fc[i * l..(i + 1) * l].iter_mut().zip(trailing_mask(l, k)) {
            *o = f32::from(u8::from(h));
        }
    }
    let x_in = if t.noise_std > 0.0 {
        let s = t.noise_std;
        x.iter()
            .map(|&v| {
                // Box-Muller from the run's noise stream.
                let u1: f64 = st.noise.random_range(f64::EPSILON..1.0);
                let u2: f64 = st.noise.random();
                v + (s * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect()
    } else {
        x.clone()
    };
    let labels: Vec<u32> = idx.iter().map(|&i| u32::from(ds.labels()[i])).collect();
    Ok(Batch {
        x: Tensor::from_vec(x, (b, l), dev)?,
        x_in: Tensor::from_vec(x_in, (b, l), dev)?,
        rhythm: rhythm_batch(&cfg.model, ds, idx, dev)?,
        labels: Tensor::from_vec(labels, b, dev)?,
        imp_mask: Tensor::from_vec(imp, (b, l), dev)?,
        fc_mask: Tensor::from_vec(fc, (b, l), dev)?,
    })
}

fn check_finite(v: f32, step: usize, task: &'static str) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(TrainError::NonFinite {
            step,
            task,
            value: v,
        })
    }
}

/// Gradients of `loss` for `vars`, in order.
fn grads_of(loss: &Tensor, vars: &[(String, candle_core::Var)]) -> Result<TaskGrads> {
    let store = loss.backward()?;
    Ok(vars
        .iter()
        .map(|(_, v)| store.get(v.as_tensor()).cloned())
        .collect())
}

/// Evaluation-mode figures on `idx` (classification, plus imputation and forecasting with
/// hidden K = 370 and masks fixed by `seed`, so successive validations are comparable).
pub fn validate(
    model: &WonHee,
    ds: &Dataset,
    idx: &[usize],
    scaler: &Scaler,
    seed: u64,
    batch: usize,
) -> Result<ValReport> {
    let dev = model.device().clone();
    let l = ds.window_len();
    let n_classes = ds.class_names().len();
    let k = 370.min(l - 1);
    let mut rng = stream(seed, 21);
    let mut conf = vec![vec![0u64; n_classes]; n_classes];
    let (mut ce, mut imp_se, mut fc_se, mut n_imp, mut n_fc) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for chunk in idx.chunks(batch.max(1)) {
        let b = chunk.len();
        let mut x = vec![0f32; b * l];
        ds.fill_batch(chunk, scaler, &mut x)?;
        let xt = Tensor::from_vec(x, (b, l), &dev)?;
        let rt = rhythm_batch(model.config(), ds, chunk, &dev)?;
        let logits = model.forward_classify_with(&xt, rt.as_ref(), false)?;
        let labels: Vec<u32> = chunk.iter().map(|&i| u32::from(ds.labels()[i])).collect();
        let lt = Tensor::from_vec(labels.clone(), b, &dev)?;
        ce +=
            f64::from(candle_nn::loss::cross_entropy(&logits, &lt)?.to_scalar::<f32>()?) * b as f64;
        let pred = logits.argmax(1)?.to_vec1::<u32>()?;
        for (t, p) in labels.iter().zip(&pred) {
            conf[*t as usize][*p as usize] += 1;
        }
        let mut im = vec![0f32; b * l];
        for i in 0..b {
            for (o, h) in im[i * l..(i + 1) * l]
                .iter_mut()
                .zip(random_mask(l, k, &mut rng))
            {
                *o = f32::from(u8::from(h));
            }
        }
        let im = Tensor::from_vec(im, (b, l), &dev)?;
        let fm = Tensor::from_vec(
            (0..b)
                .flat_map(|_| trailing_mask(l, k))
                .map(|h| f32::from(u8::from(h)))
                .collect::<Vec<_>>(),
            (b, l),
            &dev,
        )?;
        let rec = model.forward_impute(&xt, &im, false)?;
        imp_se += f64::from(((rec - &xt)?.sqr()? * &im)?.sum_all()?.to_scalar::<f32>()?);
        n_imp += (b * k) as f64;
        let fc = model.forward_forecast(&xt, &fm, false)?;
        fc_se += f64::from(((fc - &xt)?.sqr()? * &fm)?.sum_all()?.to_scalar::<f32>()?);
        n_fc += (b * k) as f64;
    }
    let n = idx.len().max(1) as f64;
    let correct: u64 = (0..n_classes).map(|c| conf[c][c]).sum();
    let mut f1s = Vec::new();
    #[allow(clippy::needless_range_loop)]
    for c in 0..n_classes {
        let tp = conf[c][c] as f64;
        let support: f64 = conf[c].iter().sum::<u64>() as f64;
        let predicted: f64 = (0..n_classes).map(|r| conf[r][c]).sum::<u64>() as f64;
        if support > 0.0 {
            f1s.push(if tp > 0.0 {
                2.0 * tp / (support + predicted)
            } else {
                0.0
            });
        }
    }
    Ok(ValReport {
        step: 0,
        accuracy: correct as f64 / n,
        macro_f1: if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f64>() / f1s.len() as f64
        },
        cls_loss: ce / n,
        imp_mse: imp_se / n_imp.max(1.0),
        fc_mse: fc_se / n_fc.max(1.0),
    })
}

fn append_log(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    writeln!(f, "{value}").map_err(|e| TrainError::io(path, e))
}

/// Keeps only the log lines of steps `<= step` (after a resume).
fn truncate_log(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                .is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes())
}

/// Writes the checkpoint folder atomically (new folder, then rename over the old one).
fn save_checkpoint(run: &Path, vm: &VarMap, opt: &AdamW, state: &State) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".checkpoint-")
        .tempdir_in(run)
        .map_err(|e| TrainError::io(run, e))?;
    wonhee_model::save_weights(vm, tmp.path().join(MODEL_FILE))?;
    let opt_tensors: HashMap<String, Tensor> = opt.state_tensors().into_iter().collect();
    let opt_path = tmp.path().join("optimizer.safetensors");
    candle_core::safetensors::save(&opt_tensors, &opt_path)?;
    readable_by_all(&opt_path)?;
    write_json(&tmp.path().join("state.json"), state)?;
    let dest = run.join(CHECKPOINT_DIR);
    let old = run.join(".checkpoint-old");
    let _ = std::fs::remove_dir_all(&old);
    if dest.exists() {
        std::fs::rename(&dest, &old).map_err(|e| TrainError::io(&dest, e))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &dest).map_err(|e| TrainError::io(&dest, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn load_checkpoint(run: &Path, vm: &VarMap, opt: &mut AdamW) -> Result<State> {
    let dir = run.join(CHECKPOINT_DIR);
    let state_path = dir.join("state.json");
    let text = std::fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: State =
        serde_json::from_slice(&text).map_err(|e| TrainError::run(&state_path, e.to_string()))?;
    wonhee_model::load_weights(vm, dir.join(MODEL_FILE))?;
    let opt_path = dir.join("optimizer.safetensors");
    let tensors = candle_core::safetensors::load(&opt_path, &Device::Cpu)
        .map_err(|e| TrainError::run(&opt_path, e.to_string()))?;
    opt.load_state(&|k| tensors.get(k).cloned(), state.step)
        .map_err(|m| TrainError::run(&opt_path, m))?;
    Ok(state)
}

/// Trains the model of `cfg` on the prepared dataset `data` into the run folder `run`.
pub fn train(
    run: &Path,
    data: &Path,
    cfg: &RunConfig,
    opts: &TrainOptions<'_>,
) -> Result<TrainSummary> {
    cfg.validate()?;
    let t = &cfg.train;
    let dev = &opts.device;
    let ds = Dataset::open(data)?;
    if ds.window_len() != cfg.model.seq_len {
        return Err(TrainError::Config(format!(
            "the dataset's windows have {} points, model.seq_len is {}",
            ds.window_len(),
            cfg.model.seq_len
        )));
    }
    if ds.class_names().len() != cfg.model.n_classes {
        return Err(TrainError::Config(format!(
            "the dataset has {} classes, model.n_classes is {}",
            ds.class_names().len(),
            cfg.model.n_classes
        )));
    }
    check_rhythm(&cfg.model, &ds)?;
    let scaler = ds.scaler(t.fold)?;
    let (train_idx, val_idx) = train_val_split(&ds, cfg);
    if train_idx.is_empty() {
        return Err(TrainError::Config("no training windows".into()));
    }
    let steps_per_epoch = train_idx.len().div_ceil(t.batch_size);
    let total = t
        .max_steps
        .unwrap_or_else(|| (t.epochs * steps_per_epoch as f64).ceil() as usize)
        .max(1);

    // The run folder and its description.
    let config_text = cfg.to_toml_string()?;
    let config_sha = sha256_hex(config_text.as_bytes());
    std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
    let cfg_path = run.join(CONFIG_FILE);
    if opts.resume {
        let existing = RunConfig::from_toml_file(&cfg_path)?;
        if existing != *cfg {
            return Err(TrainError::run(
                &cfg_path,
                "the run was started with another configuration; resume with that one",
            ));
        }
    } else if run.join(CHECKPOINT_DIR).exists() || run.join(MODEL_FILE).exists() {
        return Err(TrainError::run(
            run,
            "already holds a run (pass --resume to continue it, or choose another --out)",
        ));
    }
    write_atomic(&cfg_path, config_text.as_bytes())?;
    let summary_path = ds.dir().join(wonhee_dataset::SUMMARY_FILE);
    let summary_bytes =
        std::fs::read(&summary_path).map_err(|e| TrainError::io(&summary_path, e))?;
    let mut info = RunInfo {
        format_version: RUN_FORMAT_VERSION,
        dataset: DatasetInfo {
            dir: data.display().to_string(),
            summary_sha256: sha256_hex(&summary_bytes),
            prepare: ds.summary().config.clone(),
            classes: ds.class_names().to_vec(),
            scaler,
            fold: t.fold,
            n_train: train_idx.len(),
            n_val: val_idx.len(),
        },
        parameters: cfg.model.param_count(),
        device: device_name(dev),
        total_steps: total,
        steps_done: 0,
        train_seconds: 0.0,
        samples_per_s: 0.0,
        finished: false,
    };

    // Model, optimizer, streams.
    let vm = wonhee_model::init_varmap(&cfg.model, t.seed, dev)?;
    let model = WonHee::new(&cfg.model, VarBuilder::from_varmap(&vm, DType::F32, dev))?;
    model.seed_dropout(t.seed ^ 0xD0);
    let mut vars: Vec<(String, candle_core::Var)> = vm
        .data()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut opt = AdamW::new(vars.clone(), t)?;
    let labels = ds.labels();
    let n_classes = ds.class_names().len();
    let power = if t.sampler == SamplerKind::Sqrt {
        0.5
    } else {
        1.0
    };
    let mut sampler =
        WeightedSampler::class_tempered(train_idx.clone(), labels, n_classes, power, t.seed ^ 0x5A)
            .ok_or_else(|| {
                TrainError::Config(
                    "cannot build the class-balanced sampler (no training windows?)".into(),
                )
            })?;
    let mut shuffler = Shuffler::new(train_idx.clone(), t.seed ^ 0x5B);
    let mut order: Vec<usize> = Vec::new();
    let mut shuffle_pos = 0usize;
    let mut shuffler_epoch_start: Option<RngState> = None;
    let mut st = Streams {
        masks: stream(t.seed, 1),
        noise: stream(t.seed, 2),
        pcgrad: stream(t.seed, 3),
    };
    let mut step = 0usize;
    let mut train_seconds = 0.0;
    let mut last_val: Option<ValReport> = None;
    let log = run.join(METRICS_LOG);

    if opts.resume {
        let s = load_checkpoint(run, &vm, &mut opt)?;
        if s.config_sha256 != config_sha {
            return Err(TrainError::run(
                run.join(CHECKPOINT_DIR),
                "checkpoint of another configuration",
            ));
        }
        step = s.step;
        train_seconds = s.train_seconds;
        last_val = s.last_val.clone();
        sampler.set_state(s.sampler);
        if let Some(start) = s.shuffler_epoch_start {
            shuffler.set_state(start);
            order = shuffler.epoch();
            shuffler_epoch_start = Some(start);
        }
        shuffle_pos = s.shuffle_pos;
        st = Streams {
            masks: at(t.seed, 1, s.masks_pos),
            noise: at(t.seed, 2, s.noise_pos),
            pcgrad: at(t.seed, 3, s.pcgrad_pos),
        };
        model.set_dropout_state(s.dropout);
        truncate_log(&log, step)?;
        tracing::info!(step, total, "resumed from checkpoint");
    } else {
        let _ = std::fs::remove_file(&log);
    }

    info.steps_done = step;
    info.train_seconds = train_seconds;
    write_json(&run.join(INFO_FILE), &info)?;

    let session = Instant::now();
    let mut session_samples = 0usize;
    let checkpoint = |step: usize,
                      opt: &AdamW,
                      sampler: &WeightedSampler,
                      shuffler_epoch_start: Option<RngState>,
                      shuffle_pos: usize,
                      st: &Streams,
                      train_seconds: f64,
                      last_val: &Option<ValReport>|
     -> Result<()> {
        let state = State {
            step,
            total_steps: total,
            config_sha256: config_sha.clone(),
            sampler: sampler.state(),
            shuffler_epoch_start,
            shuffle_pos,
            masks_pos: pos(&st.masks),
            noise_pos: pos(&st.noise),
            pcgrad_pos: pos(&st.pcgrad),
            dropout: model.dropout_state(),
            train_seconds,
            last_val: last_val.clone(),
        };
        save_checkpoint(run, &vm, opt, &state)
    };

    while step < total {
        // Draw the batch.
        let idx: Vec<usize> = match t.sampler {
            SamplerKind::Balanced | SamplerKind::Sqrt => sampler.sample(t.batch_size),
            SamplerKind::Shuffle => {
                if shuffle_pos >= order.len() {
                    shuffler_epoch_start = Some(shuffler.state());
                    order = shuffler.epoch();
                    shuffle_pos = 0;
                }
                let end = (shuffle_pos + t.batch_size).min(order.len());
                let v = order[shuffle_pos..end].to_vec();
                shuffle_pos = end;
                v
            }
        };
        let batch = make_batch(&ds, &idx, &scaler, cfg, &mut st, dev)?;
        let lr = learning_rate(t, step, total);
        let [wc, wi, wf] = t.task_weights;

        // Each task: forward, loss, backward (one graph alive at a time).
        let logits = model.forward_classify_with(&batch.x_in, batch.rhythm.as_ref(), true)?;
        let loss_c = candle_nn::loss::cross_entropy(&logits, &batch.labels)?;
        let lc = loss_c.to_scalar::<f32>()?;
        check_finite(lc, step + 1, TASKS[0])?;
        let gc = grads_of(&(loss_c * wc)?, &vars)?;
        drop(logits);
        let rec = model.forward_impute(&batch.x_in, &batch.imp_mask, true)?;
        let loss_i = masked_mse(&rec, &batch.x, &batch.imp_mask)?;
        let li = loss_i.to_scalar::<f32>()?;
        check_finite(li, step + 1, TASKS[1])?;
        let gi = grads_of(&(loss_i * wi)?, &vars)?;
        drop(rec);
        let fc = model.forward_forecast(&batch.x_in, &batch.fc_mask, true)?;
        let loss_f = masked_mse(&fc, &batch.x, &batch.fc_mask)?;
        let lf = loss_f.to_scalar::<f32>()?;
        check_finite(lf, step + 1, TASKS[2])?;
        let gf = grads_of(&(loss_f * wf)?, &vars)?;
        drop(fc);

        let (mut grads, projections) = match t.combine {
            Combine::Sum => (sum(&[gc, gi, gf])?, 0),
            Combine::Pcgrad => pcgrad(&[gc, gi, gf], &mut st.pcgrad)?,
        };
        let gnorm = match t.grad_clip {
            Some(c) => clip_grad_norm(&mut grads, c)?,
            None => grad_norm(&grads)?,
        };
        if !gnorm.is_finite() {
            return Err(TrainError::NonFinite {
                step: step + 1,
                task: "gradient norm",
                value: gnorm as f32,
            });
        }
        opt.step(&grads, lr)?;
        step += 1;
        session_samples += idx.len();

        let elapsed = session.elapsed().as_secs_f64();
        let report = StepReport {
            step,
            total,
            epoch: step as f64 / steps_per_epoch as f64,
            lr,
            loss_cls: lc,
            loss_imp: li,
            loss_fc: lf,
            grad_norm: gnorm,
            projections,
            samples_per_s: session_samples as f64 / elapsed.max(1e-9),
        };
        append_log(
            &log,
            &serde_json::json!({
                "kind": "train", "step": step, "epoch": report.epoch, "lr": lr,
                "loss": f64::from(lc) * wc + f64::from(li) * wi + f64::from(lf) * wf,
                "loss_cls": lc, "loss_imp": li, "loss_fc": lf, "grad_norm": gnorm,
                "pcgrad_projections": projections, "samples_per_s": report.samples_per_s,
                "elapsed_s": train_seconds + elapsed,
            }),
        )?;
        (opts.on_step)(&report);

        // Validation: after the first `val_first_steps` steps of each epoch, at each epoch's
        // end, and every `val_every` steps.
        let in_epoch = (step - 1) % steps_per_epoch + 1;
        let due = in_epoch == t.val_first_steps
            || in_epoch == steps_per_epoch
            || step == total
            || t.val_every.is_some_and(|n| step.is_multiple_of(n));
        if due && !val_idx.is_empty() {
            let mut v = validate(&model, &ds, &val_idx, &scaler, t.seed, 256)?;
            v.step = step;
            append_log(
                &log,
                &serde_json::json!({
                    "kind": "val", "step": step, "epoch": report.epoch, "accuracy": v.accuracy,
                    "macro_f1": v.macro_f1, "cls_loss": v.cls_loss, "imp_mse": v.imp_mse, "fc_mse": v.fc_mse,
                }),
            )?;
            (opts.on_val)(&v);
            last_val = Some(v);
        }

        let stop_here = opts.stop_after == Some(step);
        if step.is_multiple_of(t.checkpoint_every) || step == total || stop_here {
            let secs = train_seconds + session.elapsed().as_secs_f64();
            checkpoint(
                step,
                &opt,
                &sampler,
                shuffler_epoch_start,
                shuffle_pos,
                &st,
                secs,
                &last_val,
            )?;
        }
        if stop_here {
            break;
        }
    }

    let seconds = session.elapsed().as_secs_f64();
    train_seconds += seconds;
    let finished = step >= total;
    if finished {
        wonhee_model::save_weights(&vm, run.join(MODEL_FILE))?;
    }
    info.steps_done = step;
    info.train_seconds = train_seconds;
    info.samples_per_s = (step * t.batch_size) as f64 / train_seconds.max(1e-9);
    info.finished = finished;
    write_json(&run.join(INFO_FILE), &info)?;
    Ok(TrainSummary {
        steps_done: step,
        total_steps: total,
        finished,
        last_val,
        seconds,
        samples_per_s: session_samples as f64 / seconds.max(1e-9),
    })
}

/// `cpu`, `cuda:N` or `metal:N`.
pub fn device_name(dev: &Device) -> String {
    match dev.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The checkpoint folder of a run.
pub fn checkpoint_dir(run: &Path) -> PathBuf {
    run.join(CHECKPOINT_DIR)
}
