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

/// Largest accepted trunk width and head width: 8× and 16× the published sizes. A
/// configuration file of a few bytes must not be able to ask for petabytes of weights.
pub const MAX_WIDTH: usize = 512;
pub const MAX_DIM: usize = 8192;
const MAX_BATCH: usize = 1 << 16;
const MAX_EPOCHS: u64 = 1_000_000;

impl TrainConfig {
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig { architecture: self.model, dim: self.dim, tau: self.tau, width: self.width }
    }

    /// A configuration from a TOML file's text (every field optional, unknown fields
    /// refused), checked with [`TrainConfig::check`].
    pub fn from_toml(text: &str) -> Result<TrainConfig, String> {
        let config: TrainConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// Every value within the range a run can use.
    pub fn check(&self) -> Result<(), String> {
        let within = |name: &str, v: f64, lo: f64, hi: f64, hi_open: bool| {
            let ok = v.is_finite() && v >= lo && if hi_open { v < hi } else { v <= hi };
            if ok {
                Ok(())
            } else {
                Err(format!("{name} = {v} is outside [{lo}, {hi}{}", if hi_open { ")" } else { "]" }))
            }
        };
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!("width = {} is outside [1, {MAX_WIDTH}]", self.width));
        }
        if !(1..=MAX_DIM).contains(&self.dim) {
            return Err(format!("dim = {} is outside [1, {MAX_DIM}]", self.dim));
        }
        if !(2..=MAX_BATCH).contains(&self.batch_size) {
            return Err(format!(
                "batch_size = {}: contrastive training needs at least 2 samples per batch (at most {MAX_BATCH})",
                self.batch_size
            ));
        }
        if self.epochs > MAX_EPOCHS {
            return Err(format!("epochs = {} is more than {MAX_EPOCHS}", self.epochs));
        }
        within("tau", self.tau, 1e-6, 1e3, false)?;
        within("lr", self.lr, 1e-12, 10.0, false)?;
        within("momentum_image", self.momentum_image, 0.0, 1.0, false)?;
        within("momentum_audio", self.momentum_audio, 0.0, 1.0, false)?;
        within("dropout_image", self.dropout_image, 0.0, 1.0, true)
    }
}

/// The fuzzing entry point (`fuzz/`, replayed by the tests): `bytes` as a configuration
/// file, through the parse and the checks, then the model shapes a valid one asks for.
/// Only a panic, a hang or a runaway allocation is a failure.
pub fn exercise(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(config) = TrainConfig::from_toml(text) {
        let shapes = config.model_config().expected_shapes();
        assert!(!shapes.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_field_by_field() {
        let c = TrainConfig::from_toml("model = \"ezvsl\"\nwidth = 16\ndim = 64\nlr = 1e-3\n").unwrap();
        assert_eq!((c.model, c.width, c.dim, c.lr, c.epochs), (Architecture::Ezvsl, 16, 64, 1e-3, 20));
        assert_eq!(TrainConfig::from_toml(&toml::to_string(&c).unwrap()).unwrap(), c);
        let e = |text: &str| TrainConfig::from_toml(text).unwrap_err();
        assert!(e("width = 100000000").contains("width = 100000000 is outside [1, 512]"));
        assert!(e("dim = 0").contains("dim = 0"));
        assert!(e("batch_size = 1").contains("at least 2"));
        assert!(e("lr = nan").contains("lr = NaN"));
        assert!(e("dropout_image = 1.0").contains("[0, 1)"));
        assert!(e("learning_rate = 0.1").contains("unknown field"));
        assert!(e("epochs = -3").contains("epochs"));
    }
}
