//! Every hyper-parameter of a run, with the published recipe as defaults (METHOD §3).

use avsl_model::{Architecture, ModelConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub model: Architecture,
    /// Width d of the projection heads.
    pub dim: usize,
    /// Base channel width of the ResNet-18 trunks (64 = torchvision's; `--image-weights`
    /// needs 64).
    pub width: usize,
    pub tau: f64,
    pub lr: f64,
    pub epochs: u64,
    pub batch_size: usize,
    /// EMA factor of SLAVC's momentum image encoder and heads.
    pub momentum_image: f64,
    /// EMA factor of SLAVC's momentum audio encoder and heads.
    pub momentum_audio: f64,
    /// Dropout on the image trunk's features before the heads (SLAVC's "extreme" 0.9).
    pub dropout_image: f64,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: Architecture::Slavc,
            dim: 512,
            width: 64,
            tau: 0.03,
            lr: 1e-4,
            epochs: 20,
            batch_size: 128,
            momentum_image: 0.999,
            momentum_audio: 0.999,
            dropout_image: 0.9,
            seed: 0,
        }
    }
}

impl TrainConfig {
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig { architecture: self.model, dim: self.dim, tau: self.tau, width: self.width }
    }
}
