//! [`Trainer`]: a training run over a prepared dataset, one step at a time, with validation,
//! checkpoints and resume; [`train`] runs one to the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wonhee_dataset::Dataset;
use wonhee_schema::{
    CHECKPOINT_DIR, CONFIG_FILE, DatasetInfo, LogLine, METRICS_LOG, MODEL_FILE, RUN_FORMAT_VERSION,
    RunConfig, RunInfo, TrainPoint, ValPoint,
};
use wonhee_signal::Scaler;

use crate::batch::{Batch, BatchSource, check_beat_inputs};
use crate::checkpoint::{self, State};
use crate::error::{Result, TrainError};
use crate::learner::Learner;
use crate::optim::learning_rate;
use crate::validate::{ValReport, train_val_split, validate};

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
    /// Classification loss (cross-entropy, or the focal loss when `focal_gamma` > 0).
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

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The data side of a run: the dataset, its train-set scaler and the training and validation
/// windows.
struct TrainData {
    ds: Dataset,
    scaler: Scaler,
    train_idx: Vec<usize>,
    val_idx: Vec<usize>,
}

impl TrainData {
    /// Opens `data` and checks that it fits the model of `cfg`.
    fn open(data: &Path, cfg: &RunConfig) -> Result<Self> {
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
        check_beat_inputs(&cfg.model, &ds)?;
        let scaler = ds.scaler(cfg.train.fold)?;
        let (train_idx, val_idx) = train_val_split(&ds, cfg);
        if train_idx.is_empty() {
            return Err(TrainError::Config("no training windows".into()));
        }
        Ok(Self {
            ds,
            scaler,
            train_idx,
            val_idx,
        })
    }
}

/// A training run in progress: the model being trained, where its batches come from, and its
/// run folder (`config.toml`, `run.json`, `metrics.jsonl`, `checkpoint/`, and at the end
/// `model.safetensors`; see [`wonhee_schema`]).
///
/// ```no_run
/// use wonhee_train::{RunConfig, Trainer};
///
/// # fn main() -> wonhee_train::Result<()> {
/// let cfg = RunConfig::from_toml_file("configs/quick.toml".as_ref())?;
/// let dev = candle_core::Device::Cpu;
/// let mut t = Trainer::new("runs/quick".as_ref(), "prepared".as_ref(), &cfg, &dev)?;
/// while !t.is_finished() {
///     let batch = t.next_batch()?;
///     let report = t.step(&batch)?;
///     if let Some(v) = t.validate_if_due()? {
///         println!("step {}: val accuracy {:.3}", report.step, v.accuracy);
///     }
///     if t.checkpoint_due() {
///         t.checkpoint()?;
///     }
/// }
/// let summary = t.finish()?;
/// # Ok(()) }
/// ```
pub struct Trainer {
    cfg: RunConfig,
    dir: PathBuf,
    data: TrainData,
    source: BatchSource,
    learner: Learner,
    info: RunInfo,
    config_sha256: String,
    steps_per_epoch: usize,
    total: usize,
    step: usize,
    /// Training seconds of earlier sessions (a resumed run).
    earlier_seconds: f64,
    last_val: Option<ValReport>,
    session: Instant,
    session_samples: usize,
}

impl Trainer {
    /// Starts a new run of `cfg` on the prepared dataset `data` in the run folder `run`
    /// (created; it must not hold a run already).
    pub fn new(run: &Path, data: &Path, cfg: &RunConfig, device: &Device) -> Result<Self> {
        let t = Self::open(run, data, cfg, device)?;
        if run.join(CHECKPOINT_DIR).exists() || run.join(MODEL_FILE).exists() {
            return Err(TrainError::run(
                run,
                "already holds a run (pass --resume to continue it, or choose another --out)",
            ));
        }
        t.write_config()?;
        let log = run.join(METRICS_LOG);
        if log.exists() {
            std::fs::remove_file(&log).map_err(|e| TrainError::io(&log, e))?;
        }
        t.info.write(run)?;
        Ok(t)
    }

    /// Continues the run in `run` from its checkpoint; `cfg` must be the run's configuration.
    pub fn resume(run: &Path, data: &Path, cfg: &RunConfig, device: &Device) -> Result<Self> {
        let mut t = Self::open(run, data, cfg, device)?;
        let cfg_path = run.join(CONFIG_FILE);
        if RunConfig::from_toml_file(&cfg_path)? != *cfg {
            return Err(TrainError::run(
                &cfg_path,
                "the run was started with another configuration; resume with that one",
            ));
        }
        t.write_config()?;
        let s = checkpoint::load(run, &mut t.learner)?;
        if s.config_sha256 != t.config_sha256 {
            return Err(TrainError::run(
                run.join(CHECKPOINT_DIR),
                "checkpoint of another configuration",
            ));
        }
        t.restore(&s);
        wonhee_schema::truncate_log(&run.join(METRICS_LOG), t.step)?;
        tracing::info!(step = t.step, total = t.total, "resumed from checkpoint");
        t.info.steps_done = t.step;
        t.info.train_seconds = t.earlier_seconds;
        t.info.write(run)?;
        Ok(t)
    }

    /// What [`Trainer::new`] and [`Trainer::resume`] share: checks, data, model, run.json.
    fn open(run: &Path, data: &Path, cfg: &RunConfig, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let d = TrainData::open(data, cfg)?;
        let t = &cfg.train;
        let steps_per_epoch = d.train_idx.len().div_ceil(t.batch_size);
        let total = t
            .max_steps
            .unwrap_or_else(|| (t.epochs * steps_per_epoch as f64).ceil() as usize)
            .max(1);
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        let summary_path = d.ds.dir().join(wonhee_schema::SUMMARY_FILE);
        let summary = std::fs::read(&summary_path).map_err(|e| TrainError::io(&summary_path, e))?;
        let info = RunInfo {
            format_version: RUN_FORMAT_VERSION,
            dataset: DatasetInfo {
                dir: data.display().to_string(),
                summary_sha256: sha256_hex(&summary),
                prepare: d.ds.summary().config.clone(),
                classes: d.ds.class_names().to_vec(),
                scaler: d.scaler,
                fold: t.fold,
                n_train: d.train_idx.len(),
                n_val: d.val_idx.len(),
            },
            parameters: cfg.model.param_count(),
            device: device_name(device),
            total_steps: total,
            steps_done: 0,
            train_seconds: 0.0,
            samples_per_s: 0.0,
            finished: false,
        };
        Ok(Self {
            config_sha256: sha256_hex(cfg.to_toml_string()?.as_bytes()),
            source: BatchSource::new(&d.ds, &d.train_idx, cfg)?,
            learner: Learner::new(cfg, device)?,
            cfg: cfg.clone(),
            dir: run.to_path_buf(),
            data: d,
            info,
            steps_per_epoch,
            total,
            step: 0,
            earlier_seconds: 0.0,
            last_val: None,
            session: Instant::now(),
            session_samples: 0,
        })
    }

    fn write_config(&self) -> Result<()> {
        let text = self.cfg.to_toml_string()?;
        Ok(wonhee_fs::write_atomic(
            &self.dir.join(CONFIG_FILE),
            text.as_bytes(),
        )?)
    }

    fn restore(&mut self, s: &State) {
        self.step = s.step;
        self.earlier_seconds = s.train_seconds;
        self.last_val = s.last_val.clone();
        self.source.restore(&crate::batch::SourceState {
            sampler: s.sampler,
            shuffler_epoch_start: s.shuffler_epoch_start,
            shuffle_pos: s.shuffle_pos,
            masks_pos: s.masks_pos,
            noise_pos: s.noise_pos,
            augment_pos: s.augment_pos,
        });
        self.learner.restore_streams(s.pcgrad_pos, s.dropout);
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Steps planned.
    pub fn total_steps(&self) -> usize {
        self.total
    }

    /// Whether every planned step is done.
    pub fn is_finished(&self) -> bool {
        self.step >= self.total
    }

    /// The model being trained and its optimizer.
    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    /// Draws the next training batch.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let d = &self.data;
        self.source
            .next(&d.ds, &d.scaler, &self.cfg, self.learner.model().device())
    }

    /// One optimizer step on `batch` ([`Learner::step`]), logged to `metrics.jsonl`.
    pub fn step(&mut self, batch: &Batch) -> Result<StepReport> {
        let lr = learning_rate(&self.cfg.train, self.step, self.total);
        let out = self.learner.step(batch, lr, self.step + 1)?;
        self.step += 1;
        self.session_samples += batch.len();
        let elapsed = self.session.elapsed().as_secs_f64();
        let [lc, li, lf] = out.losses;
        let report = StepReport {
            step: self.step,
            total: self.total,
            epoch: self.epoch(),
            lr,
            loss_cls: lc,
            loss_imp: li,
            loss_fc: lf,
            grad_norm: out.grad_norm,
            projections: out.projections,
            samples_per_s: self.session_samples as f64 / elapsed.max(1e-9),
        };
        let [wc, wi, wf] = self.cfg.train.task_weights;
        LogLine::Train(TrainPoint {
            step: self.step,
            epoch: Some(report.epoch),
            lr: Some(lr),
            loss: Some(f64::from(lc) * wc + f64::from(li) * wi + f64::from(lf) * wf),
            loss_cls: Some(f64::from(lc)),
            loss_imp: Some(f64::from(li)),
            loss_fc: Some(f64::from(lf)),
            grad_norm: Some(out.grad_norm),
            pcgrad_projections: Some(out.projections),
            samples_per_s: Some(report.samples_per_s),
            elapsed_s: Some(self.earlier_seconds + elapsed),
        })
        .append(&self.dir.join(METRICS_LOG))?;
        Ok(report)
    }

    fn epoch(&self) -> f64 {
        self.step as f64 / self.steps_per_epoch as f64
    }

    /// Whether a validation is due after the step just done: after the first
    /// `val_first_steps` steps of each epoch, at each epoch's end, at the last step, and every
    /// `val_every` steps.
    pub fn validation_due(&self) -> bool {
        let t = &self.cfg.train;
        let in_epoch = (self.step.max(1) - 1) % self.steps_per_epoch + 1;
        let due = in_epoch == t.val_first_steps
            || in_epoch == self.steps_per_epoch
            || self.step == self.total
            || t.val_every.is_some_and(|n| self.step.is_multiple_of(n));
        due && self.step > 0 && !self.data.val_idx.is_empty()
    }

    /// Validates now ([`validate`] on the validation windows), logged to `metrics.jsonl`.
    pub fn validate(&mut self) -> Result<ValReport> {
        let d = &self.data;
        let mut v = validate(
            self.learner.model(),
            &d.ds,
            &d.val_idx,
            &d.scaler,
            self.cfg.train.seed,
            256,
        )?;
        v.step = self.step;
        LogLine::Val(ValPoint {
            step: self.step,
            epoch: Some(self.epoch()),
            accuracy: Some(v.accuracy),
            macro_f1: Some(v.macro_f1),
            cls_loss: Some(v.cls_loss),
            imp_mse: Some(v.imp_mse),
            fc_mse: Some(v.fc_mse),
        })
        .append(&self.dir.join(METRICS_LOG))?;
        self.last_val = Some(v.clone());
        Ok(v)
    }

    /// [`Trainer::validate`] when [`Trainer::validation_due`].
    pub fn validate_if_due(&mut self) -> Result<Option<ValReport>> {
        if self.validation_due() {
            self.validate().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Whether a checkpoint is due after the step just done (every `checkpoint_every` steps
    /// and at the last).
    pub fn checkpoint_due(&self) -> bool {
        self.step.is_multiple_of(self.cfg.train.checkpoint_every) || self.step == self.total
    }

    /// Training seconds so far, over every session.
    fn train_seconds(&self) -> f64 {
        self.earlier_seconds + self.session.elapsed().as_secs_f64()
    }

    /// Writes the checkpoint folder (atomically replacing the previous one).
    pub fn checkpoint(&self) -> Result<()> {
        let src = self.source.state();
        let state = State {
            step: self.step,
            total_steps: self.total,
            config_sha256: self.config_sha256.clone(),
            sampler: src.sampler,
            shuffler_epoch_start: src.shuffler_epoch_start,
            shuffle_pos: src.shuffle_pos,
            masks_pos: src.masks_pos,
            noise_pos: src.noise_pos,
            augment_pos: src.augment_pos,
            pcgrad_pos: self.learner.pcgrad_pos(),
            dropout: self.learner.dropout_state(),
            train_seconds: self.train_seconds(),
            last_val: self.last_val.clone(),
        };
        checkpoint::save(&self.dir, &self.learner, &state)
    }

    /// Ends the session: the final weights when every step is done, and `run.json`.
    pub fn finish(mut self) -> Result<TrainSummary> {
        let seconds = self.session.elapsed().as_secs_f64();
        let train_seconds = self.earlier_seconds + seconds;
        let finished = self.is_finished();
        if finished {
            wonhee_model::save_weights(self.learner.varmap(), self.dir.join(MODEL_FILE))?;
        }
        let info = &mut self.info;
        info.steps_done = self.step;
        info.train_seconds = train_seconds;
        info.samples_per_s =
            (self.step * self.cfg.train.batch_size) as f64 / train_seconds.max(1e-9);
        info.finished = finished;
        info.write(&self.dir)?;
        Ok(TrainSummary {
            steps_done: self.step,
            total_steps: self.total,
            finished,
            last_val: self.last_val,
            seconds,
            samples_per_s: self.session_samples as f64 / seconds.max(1e-9),
        })
    }

    /// Trains to the end (or to `stop_after`, after a checkpoint), calling `on_step` after
    /// every step and `on_val` after every validation.
    pub fn run(
        mut self,
        stop_after: Option<usize>,
        on_step: &dyn Fn(&StepReport),
        on_val: &dyn Fn(&ValReport),
    ) -> Result<TrainSummary> {
        while !self.is_finished() {
            let batch = self.next_batch()?;
            on_step(&self.step(&batch)?);
            if let Some(v) = self.validate_if_due()? {
                on_val(&v);
            }
            let stop_here = stop_after == Some(self.step);
            if self.checkpoint_due() || stop_here {
                self.checkpoint()?;
            }
            if stop_here {
                break;
            }
        }
        self.finish()
    }
}

/// Trains the model of `cfg` on the prepared dataset `data` into the run folder `run`: a new
/// [`Trainer`] (or a resumed one with `opts.resume`) run to the end.
pub fn train(
    run: &Path,
    data: &Path,
    cfg: &RunConfig,
    opts: &TrainOptions<'_>,
) -> Result<TrainSummary> {
    let t = if opts.resume {
        Trainer::resume(run, data, cfg, &opts.device)?
    } else {
        Trainer::new(run, data, cfg, &opts.device)?
    };
    t.run(opts.stop_after, opts.on_step, opts.on_val)
}

/// `cpu`, `cuda:N` or `metal:N`.
pub fn device_name(dev: &Device) -> String {
    match dev.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}
