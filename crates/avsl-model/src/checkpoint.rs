//! Reading the authors' `.pth` checkpoints (`torch.save` zip or legacy format) into
//! [`Weights`], through `pytorch-reader`'s restricted unpickler: only the pickle
//! operations tensor checkpoints use are accepted, nothing is executed.

use std::path::{Path, PathBuf};

use pytorch_reader::{DType, PytorchError, PytorchReader};

use crate::weights::{NamedTensor, Weights};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct CheckpointError {
    pub path: PathBuf,
    pub problem: String,
}

fn error(path: &Path, problem: impl Into<String>) -> CheckpointError {
    CheckpointError { path: path.to_path_buf(), problem: problem.into() }
}

/// The state dict of a `.pth` file: under `model` (the authors' training checkpoints),
/// under `state_dict`, or at the top level (torchvision's `resnet18-*.pth`). A leading
/// `module.` (DistributedDataParallel) is removed from every name; BatchNorm's
/// `num_batches_tracked` counters are skipped; float64 tensors are rounded to float32.
pub fn read_pth(path: &Path) -> Result<Weights, CheckpointError> {
    if !path.is_file() {
        return Err(error(path, "no such checkpoint file"));
    }
    let open = |key: Option<&str>| match key {
        Some(k) => PytorchReader::with_top_level_key(path, k),
        None => PytorchReader::new(path),
    };
    let reader = match open(Some("model")) {
        Err(PytorchError::KeyNotFound(_)) => match open(Some("state_dict")) {
            Err(PytorchError::KeyNotFound(_)) => open(None),
            other => other,
        },
        other => other,
    }
    .map_err(|e| error(path, format!("not a readable PyTorch checkpoint: {e}")))?;
    let mut weights = Weights::default();
    for (name, tensor) in reader.into_tensors() {
        let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let bytes = tensor.read().map_err(|e| error(path, format!("tensor {name}: {e}")))?;
        let values: Vec<f32> = match tensor.dtype() {
            DType::F32 => bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect(),
            DType::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
                .collect(),
            other => {
                return Err(error(
                    path,
                    format!("tensor {name} has dtype {other:?}; avsl reads float32 or float64 weights"),
                ));
            }
        };
        weights.insert(name, NamedTensor { shape: tensor.shape().to_vec(), values });
    }
    if weights.is_empty() {
        return Err(error(path, "the checkpoint holds no float tensors"));
    }
    Ok(weights)
}
