//! Checkpoint files. The authors' `.pth` (`torch.save` zip or legacy format) is first
//! checked by `pickle_scan` (only data opcodes, only data constructors such as
//! `_rebuild_tensor_v2` and `OrderedDict`; anything else is refused by name), then read
//! through `pytorch-reader`'s unpickler, which executes nothing. Our own format is safetensors with
//! the authors' names (no `module.`) and the model configuration as JSON in the header's
//! metadata (`avsl_config`). Both can be written (`avsl convert`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use pytorch_reader::{DType, PytorchError, PytorchReader};
use safetensors::{Dtype, SafeTensors};

use crate::arch::{Architecture, EncoderSet, ModelConfig, compare, resnet18_shapes};
use crate::encoders::Encoders;
use crate::pth_writer::{PthTensor, write_state_dict};
use crate::weights::{NamedTensor, Weights};

/// The metadata key of our safetensors files that holds the [`ModelConfig`] as JSON.
pub const CONFIG_KEY: &str = "avsl_config";

#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct CheckpointError {
    pub path: PathBuf,
    pub problem: String,
}

impl CheckpointError {
    pub fn new(path: &Path, problem: impl Into<String>) -> CheckpointError {
        CheckpointError { path: path.to_path_buf(), problem: problem.into() }
    }
}

fn error(path: &Path, problem: impl Into<String>) -> CheckpointError {
    CheckpointError::new(path, problem)
}

/// The state dict of a `.pth` file: under `model` (the authors' training checkpoints),
/// under `state_dict`, or at the top level (torchvision's `resnet18-*.pth`). A leading
/// `module.` (DistributedDataParallel) is removed from every name; BatchNorm's
/// `num_batches_tracked` counters are skipped; float64 tensors are rounded to float32.
pub fn read_pth(path: &Path) -> Result<Weights, CheckpointError> {
    if !path.is_file() {
        return Err(error(path, "no such checkpoint file"));
    }
    crate::pickle_scan::scan_pth(path).map_err(|e| error(path, e.0))?;
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

/// torchvision's ResNet-18 state dict (`resnet18-*.pth`: the ImageNet trunk for object
/// guidance and for initialising the image encoder), checked as a whole; its classifier
/// (`fc.*`) is dropped.
pub fn read_torchvision_resnet18(path: &Path) -> Result<Weights, CheckpointError> {
    let mut w = read_pth(path)?;
    w.remove("fc.weight");
    w.remove("fc.bias");
    let mismatch = compare(&w, &resnet18_shapes("", 3).into_iter().collect());
    if !mismatch.is_empty() {
        return Err(error(path, format!("not a torchvision ResNet-18 state dict: {mismatch}")));
    }
    Ok(w)
}

/// The tensors of a checkpoint file and what it says about itself.
pub struct Checkpoint {
    pub path: PathBuf,
    pub weights: Weights,
    /// The configuration stored in our own files; `None` for the authors' `.pth`.
    pub config: Option<ModelConfig>,
    /// Every other metadata entry of a safetensors header (training state, calibration).
    pub metadata: BTreeMap<String, String>,
    /// Optimiser tensors of a training checkpoint (names starting with
    /// [`TRAINING_PREFIX`]), kept apart from the model's.
    pub training: Weights,
}

/// Names of optimiser state in our training checkpoints start with this.
pub const TRAINING_PREFIX: &str = "optimizer.";

/// True when the file starts like a safetensors file (an 8-byte header length, then `{`).
fn looks_like_safetensors(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 9];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head[8] == b'{'
}

/// Reads a checkpoint in either format (decided by content, not by extension).
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, CheckpointError> {
    if !path.is_file() {
        return Err(error(path, "no such checkpoint file"));
    }
    if looks_like_safetensors(path) {
        read_safetensors(path)
    } else {
        Ok(Checkpoint {
            path: path.to_path_buf(),
            weights: read_pth(path)?,
            config: None,
            metadata: BTreeMap::new(),
            training: Weights::default(),
        })
    }
}

/// Reads one of our safetensors checkpoints (or any safetensors file of float tensors).
pub fn read_safetensors(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| error(path, format!("not a valid safetensors file: {e:?}")))?;
    let tensors =
        SafeTensors::deserialize(&bytes).map_err(|e| error(path, format!("not a valid safetensors file: {e:?}")))?;
    let mut metadata: BTreeMap<String, String> =
        header.metadata().clone().map(|m| m.into_iter().collect()).unwrap_or_default();
    let config = metadata
        .remove(CONFIG_KEY)
        .map(|json| {
            serde_json::from_str::<ModelConfig>(&json)
                .map_err(|e| error(path, format!("metadata {CONFIG_KEY} is not a model configuration: {e}")))
        })
        .transpose()?;
    let mut weights = Weights::default();
    let mut training = Weights::default();
    for (name, view) in tensors.tensors() {
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            other => {
                return Err(error(path, format!("tensor {name} has dtype {other:?}; avsl reads float32 weights")));
            }
        };
        let tensor = NamedTensor { shape: view.shape().to_vec(), values };
        if name.starts_with(TRAINING_PREFIX) { training.insert(name, tensor) } else { weights.insert(name, tensor) }
    }
    if weights.is_empty() {
        return Err(error(path, "the checkpoint holds no tensors"));
    }
    Ok(Checkpoint { path: path.to_path_buf(), weights, config, metadata, training })
}

/// Serialises tensors and metadata as safetensors bytes (names sorted, float32).
fn encode_safetensors(
    weights: &Weights,
    config: &ModelConfig,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, String> {
    let mut info: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    info.insert(CONFIG_KEY.to_string(), serde_json::to_string(config).map_err(|e| e.to_string())?);
    let raw: Vec<(&str, &[usize], Vec<u8>)> = weights
        .iter()
        .map(|(name, t)| (name, t.shape.as_slice(), t.values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = raw
        .iter()
        .map(|(name, shape, data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.to_vec(), data)
                .map(|v| (name.to_string(), v))
                .map_err(|e| format!("tensor {name}: {e:?}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::serialize(views, Some(info)).map_err(|e| format!("{e:?}"))
}

/// Our safetensors checkpoint as bytes (tensors under the authors' names, the
/// configuration and `metadata` in the header); `path` names the file in errors. The
/// caller writes them (atomically: `avsl_data::fsutil::write_atomic`).
pub fn safetensors_bytes(
    path: &Path,
    weights: &Weights,
    config: &ModelConfig,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, CheckpointError> {
    encode_safetensors(weights, config, metadata).map_err(|e| error(path, e))
}

/// The authors' layout as bytes: `{'model': {'module.<name>': tensor}}`, with a
/// `num_batches_tracked` counter (0; eval mode never reads it) for every BatchNorm so that
/// their `load_state_dict` (strict) accepts it. `path` names the file in errors.
pub fn pth_bytes(path: &Path, weights: &Weights) -> Result<Vec<u8>, CheckpointError> {
    let counters: Vec<String> = weights
        .names()
        .filter_map(|n| n.strip_suffix(".running_mean"))
        .map(|bn| format!("module.{bn}.num_batches_tracked"))
        .collect();
    let zero = [0i64];
    let mut tensors: Vec<(String, PthTensor)> = weights
        .iter()
        .map(|(name, t)| (format!("module.{name}"), PthTensor::F32 { shape: &t.shape, values: &t.values }))
        .collect();
    tensors.extend(counters.into_iter().map(|n| (n, PthTensor::I64 { shape: &[], values: &zero })));
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(write_state_dict(std::io::Cursor::new(Vec::new()), "model", &tensors)
        .map_err(|e| error(path, format!("cannot encode: {e}")))?
        .into_inner())
}

/// A checkpoint's encoders, ready for inference: the file read and verified, its
/// configuration (stored, or inferred with `tau`; `expected` must agree), and only the
/// encoder set asked for (`None`: the architecture's evaluated set) built on `device`.
pub fn open_encoders(
    path: &Path,
    tau: f64,
    expected: Option<Architecture>,
    set: Option<EncoderSet>,
    device: &Device,
) -> Result<Encoders, CheckpointError> {
    read_checkpoint(path)?.encoders(tau, expected, set, device)
}

/// The metadata key of the calibrated decision threshold a training checkpoint carries
/// (JSON; written by training's validation, read by the localiser).
pub const CALIBRATION_KEY: &str = "calibration";

impl Checkpoint {
    /// The model configuration: the stored one, else inferred from the tensor names and
    /// shapes with the given τ. `expected` (from `--model`) must agree.
    pub fn config(&self, tau: f64, expected: Option<Architecture>) -> Result<ModelConfig, CheckpointError> {
        let config = match self.config {
            Some(c) => c,
            None => ModelConfig::infer(&self.weights, tau).ok_or_else(|| {
                error(
                    &self.path,
                    "no SLAVC heads (img_proj1.weight), EZ-VSL heads (img_proj.weight) or SSL-align heads \
                     (img_align.2.weight): not a checkpoint of a model avsl knows",
                )
            })?,
        };
        if let Some(a) = expected
            && a != config.architecture
        {
            return Err(error(
                &self.path,
                format!("this is a {} checkpoint, not {}", config.architecture.name(), a.name()),
            ));
        }
        Ok(config)
    }

    /// Checks every name and shape against the architecture, reporting all differences.
    pub fn verify(&self, config: &ModelConfig) -> Result<(), CheckpointError> {
        let mismatch = compare(&self.weights, &config.expected_shapes());
        if mismatch.is_empty() {
            Ok(())
        } else {
            Err(error(&self.path, format!("not a complete {} checkpoint: {mismatch}", config.architecture.name())))
        }
    }

    /// The encoders of this checkpoint's configuration ([`Checkpoint::config`]), the set
    /// asked for or (`None`) the architecture's evaluated set.
    pub fn encoders(
        self,
        tau: f64,
        expected: Option<Architecture>,
        set: Option<EncoderSet>,
        device: &Device,
    ) -> Result<Encoders, CheckpointError> {
        let config = self.config(tau, expected)?;
        let set = set.unwrap_or(config.architecture.evaluated_set());
        self.into_encoders(config, set, device)
    }

    /// Verifies the whole checkpoint, then builds only the encoder set asked for.
    pub fn into_encoders(
        mut self,
        config: ModelConfig,
        set: EncoderSet,
        device: &Device,
    ) -> Result<Encoders, CheckpointError> {
        self.verify(&config)?;
        if !config.architecture.encoder_sets().contains(&set) {
            return Err(error(&self.path, format!("{} has no {}", config.architecture.name(), set.describe())));
        }
        let path = self.path.clone();
        Encoders::load(&mut self.weights, config, set, device).map_err(|e| error(&path, e.to_string()))
    }
}

/// The fuzzing entry point (`fuzz/`, and replayed by the tests): `bytes` as a checkpoint
/// file (written to `scratch`, since the `.pth` reader opens files), through every check
/// `avsl eval` makes before building a model. Only a panic, a hang or a runaway
/// allocation is a failure.
pub fn exercise(bytes: &[u8], scratch: &Path) {
    if std::fs::write(scratch, bytes).is_err() {
        return;
    }
    if let Ok(checkpoint) = read_checkpoint(scratch) {
        use_checkpoint(checkpoint);
    }
}

/// As [`exercise`], with the bytes read as safetensors whatever they start with, so that
/// every mutation reaches that parser (`fuzz/` target `safetensors`).
pub fn exercise_safetensors(bytes: &[u8], scratch: &Path) {
    if std::fs::write(scratch, bytes).is_err() {
        return;
    }
    if let Ok(checkpoint) = read_safetensors(scratch) {
        use_checkpoint(checkpoint);
    }
}

fn use_checkpoint(checkpoint: Checkpoint) {
    if let Ok(config) = checkpoint.config(0.03, None) {
        let _ = checkpoint.verify(&config);
    }
}
