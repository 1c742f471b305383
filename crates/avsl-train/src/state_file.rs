//! Training checkpoints: our safetensors checkpoint (the model under the authors' names,
//! so `avsl eval` reads it directly) plus Adam's moments as `optimizer.exp_avg.<name>` /
//! `optimizer.exp_avg_sq.<name>` and, in the metadata, the run's configuration and
//! counters. Written atomically (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::path::Path;

use avsl_data::fsutil::write_atomic;
use avsl_metrics::calibration::Calibration;
use avsl_model::Weights;
use avsl_model::checkpoint::{CALIBRATION_KEY, CheckpointError, TRAINING_PREFIX, read_checkpoint, safetensors_bytes};
use avsl_model::kernels::Kernels;
use burn::tensor::Device;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::trainer::{AdamMoments, Trainer};

fn error(path: &Path, problem: impl Into<String>) -> CheckpointError {
    CheckpointError::new(path, problem)
}

const EXP_AVG: &str = "exp_avg.";
const EXP_AVG_SQ: &str = "exp_avg_sq.";

/// Where the training loop stands, saved with the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: u64,
    /// Batches of the current epoch completed.
    pub batch: u64,
    /// The best validation criterion so far.
    pub best: Option<f64>,
}

/// Saves the trainer (weights, optimiser, counters) and the loop's progress, with the
/// calibration measured on exactly these weights, if any.
pub fn save(
    path: &Path,
    trainer: &Trainer,
    progress: Progress,
    calibration: Option<&Calibration>,
) -> Result<(), TrainError> {
    let mut weights = trainer.weights();
    let adam = trainer.adam_moments();
    let adam_step = adam.step;
    for (kind, moments) in [(EXP_AVG, adam.exp_avg), (EXP_AVG_SQ, adam.exp_avg_sq)] {
        for (name, t) in moments.into_tensors() {
            weights.insert(format!("{TRAINING_PREFIX}{kind}{name}"), t);
        }
    }
    let config = serde_json::to_string(&trainer.config).map_err(|e| error(path, e.to_string()))?;
    let mut metadata = BTreeMap::from([
        ("train_config".to_string(), config),
        ("step".to_string(), trainer.step.to_string()),
        ("adam_step".to_string(), adam_step.to_string()),
        ("epoch".to_string(), progress.epoch.to_string()),
        ("batch".to_string(), progress.batch.to_string()),
        ("best".to_string(), progress.best.map_or_else(|| "none".to_string(), |b| b.to_string())),
    ]);
    if let Some(c) = calibration {
        metadata.insert(CALIBRATION_KEY.to_string(), serde_json::to_string(c).map_err(|e| error(path, e.to_string()))?);
    }
    let bytes = safetensors_bytes(path, &weights, &trainer.config.model_config(), &metadata)?;
    let previous = path.is_file();
    write_atomic(path, &bytes).map_err(|error| TrainError::NotSaved { path: path.to_path_buf(), previous, error })
}

fn counter(metadata: &BTreeMap<String, String>, key: &str, path: &Path) -> Result<u64, CheckpointError> {
    metadata
        .get(key)
        .ok_or_else(|| error(path, format!("not a training checkpoint: no {key:?} in its metadata")))?
        .parse()
        .map_err(|_| error(path, format!("metadata {key:?} is not a count")))
}

/// Restores a trainer saved by [`save`] on `devices` (with the kernels for them; several:
/// data-parallel), with its progress.
pub fn load_on_devices(path: &Path, devices: &[Device]) -> Result<(Trainer, Progress), CheckpointError> {
    restore(path, |weights, config| Trainer::on_devices(weights, config, devices))
}

/// As [`load_on_devices`] on one device, with the trunks' kernels chosen by the caller.
pub fn load_with_kernels(
    path: &Path,
    device: &Device,
    kernels: Kernels,
) -> Result<(Trainer, Progress), CheckpointError> {
    restore(path, |weights, config| Ok(Trainer::with_kernels(weights, config, device, kernels)))
}

fn restore(
    path: &Path,
    trainer: impl FnOnce(&Weights, TrainConfig) -> Result<Trainer, TrainError>,
) -> Result<(Trainer, Progress), CheckpointError> {
    let checkpoint = read_checkpoint(path)?;
    let json = checkpoint
        .metadata
        .get("train_config")
        .ok_or_else(|| error(path, "not a training checkpoint: no train_config in its metadata"))?;
    let config: TrainConfig = serde_json::from_str(json).map_err(|e| error(path, format!("train_config: {e}")))?;
    checkpoint.verify(&config.model_config())?;
    let mut trainer = trainer(&checkpoint.weights, config).map_err(|e| error(path, e.to_string()))?;
    trainer.step = counter(&checkpoint.metadata, "step", path)?;
    let step = counter(&checkpoint.metadata, "adam_step", path)?;
    let mut adam = AdamMoments { step, exp_avg: Weights::default(), exp_avg_sq: Weights::default() };
    for name in trainer.trainable() {
        let moment = |kind: &str| checkpoint.training.get(&format!("{TRAINING_PREFIX}{kind}{name}"));
        if let (Some(m), Some(v)) = (moment(EXP_AVG), moment(EXP_AVG_SQ)) {
            adam.exp_avg.insert(name.clone(), m.clone());
            adam.exp_avg_sq.insert(name, v.clone());
        }
    }
    trainer.restore_adam(adam);
    let progress = Progress {
        epoch: counter(&checkpoint.metadata, "epoch", path)?,
        batch: counter(&checkpoint.metadata, "batch", path)?,
        // "none" until a validated epoch.
        best: checkpoint.metadata.get("best").and_then(|b| b.parse::<f64>().ok()),
    };
    Ok((trainer, progress))
}
