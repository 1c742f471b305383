//! Every hyper-parameter of a run, with the published recipe as defaults (docs/method.md §3).

use avsl_data::transform::InputShape;
use avsl_model::arch::{PUBLISHED_AUDIO_SECONDS, PUBLISHED_IMAGE_SIZE};
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
    /// SSL-align: largest shift, in seconds, of the augmented view's audio window.
    pub audio_shift: f64,
    /// SSL-align: how many nearest neighbours per sample its neighbour view is drawn from.
    pub neighbours_k: usize,
    /// SSL-align without a neighbour file: mine neighbours with the model being trained
    /// before the first epoch and then every this many epochs.
    pub mine_every: u64,
    /// SSL-align: the alignment term s_A of eq. 5 (false: the ablation without it).
    pub alignment_loss: bool,
    /// Side of the square training and test frames (224 published; the maps are scored
    /// at 224×224 whatever it is). Smaller inputs train faster on small machines.
    pub image_size: usize,
    /// Seconds of the audio window (3 published).
    pub audio_seconds: f64,
    /// Keep the image trunk's stem max-pool (true published). Without it 112×112 frames
    /// give the 7×7 map of 224×224 ones at about 3/4 of the step time (docs/synthetic.md).
    pub image_stem_pool: bool,
    /// How the learning rate moves over the run (constant in the papers).
    pub lr_schedule: LrSchedule,
    /// Steps over which the learning rate rises linearly from lr/warmup_steps to lr (0: none).
    pub warmup_steps: u64,
    /// Every batch holds samples of distinct classes, read from a class list
    /// (`TrainOptions::class_list`): no same-class pair, which the contrastive losses would
    /// push apart as a negative (off in the papers; docs/synthetic.md).
    pub distinct_class_batches: bool,
}

/// The learning rate over a run of `total` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// `lr` at every step (the published recipes).
    #[default]
    Constant,
    /// `lr · ½(1 + cos(π·step/total))`: from `lr` down to nearly 0 at the last step.
    Cosine,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig::published(Architecture::Slavc)
    }
}

/// Largest accepted trunk width and head width: 8× and 16× the published sizes. A
/// configuration file of a few bytes must not be able to ask for petabytes of weights.
pub const MAX_WIDTH: usize = 512;
pub const MAX_DIM: usize = 8192;
const MAX_BATCH: usize = 1 << 16;
const MAX_EPOCHS: u64 = 1_000_000;
/// A ResNet-18 trunk reduces by 32: smaller frames give no map.
const MIN_IMAGE_SIZE: usize = 32;
const MAX_IMAGE_SIZE: usize = 1024;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, a key that is not a configuration key, or a value of the wrong type.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value outside the range a run can use.
    #[error("{0}")]
    Range(String),
}

impl TrainConfig {
    /// The published recipe of `model` (docs/method.md §3, §4, §4b): EZ-VSL and SSL-align have no
    /// visual dropout; SSL-align has τ = 0.07 and 50 epochs; the paper gives no batch size
    /// for it, so it keeps 128.
    pub fn published(model: Architecture) -> TrainConfig {
        let slavc = TrainConfig {
            model,
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
            audio_shift: 1.0,
            neighbours_k: 1000,
            mine_every: 5,
            alignment_loss: true,
            image_size: PUBLISHED_IMAGE_SIZE,
            audio_seconds: PUBLISHED_AUDIO_SECONDS,
            image_stem_pool: true,
            lr_schedule: LrSchedule::Constant,
            warmup_steps: 0,
            distinct_class_batches: false,
        };
        match model {
            Architecture::Slavc => slavc,
            Architecture::Ezvsl => TrainConfig { dropout_image: 0.0, ..slavc },
            Architecture::SslAlign => TrainConfig { dropout_image: 0.0, tau: 0.07, epochs: 50, ..slavc },
        }
    }

    /// The learning rate of step `step` (counted from 0) of a run of `total` steps.
    pub fn lr_at(&self, step: u64, total: u64) -> f64 {
        let warmup = if step < self.warmup_steps { (step + 1) as f64 / self.warmup_steps as f64 } else { 1.0 };
        let decay = match self.lr_schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total.max(1) as f64).cos()),
        };
        self.lr * warmup * decay
    }

    /// The frames' side and the audio window the networks are fed.
    pub fn input(&self) -> InputShape {
        InputShape { image_size: self.image_size, audio_seconds: self.audio_seconds }
    }

    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            architecture: self.model,
            dim: self.dim,
            tau: self.tau,
            width: self.width,
            image_size: self.image_size,
            audio_seconds: self.audio_seconds,
            image_stem_pool: self.image_stem_pool,
        }
    }

    /// A configuration from a TOML file's text (every field optional, unknown fields
    /// refused), checked with [`TrainConfig::check`]. Keys the file leaves out take the
    /// published recipe of its model, or of `model` when given (a `--model` flag wins).
    pub fn from_toml(text: &str, model: Option<Architecture>) -> Result<TrainConfig, ConfigError> {
        let file: toml::Table = toml::from_str(text)?;
        let named: TrainConfig = file.clone().try_into()?;
        let model = model.unwrap_or(if file.contains_key("model") { named.model } else { Architecture::Slavc });
        let mut merged = toml::Table::try_from(TrainConfig::published(model)).expect("configurations serialise");
        merged.extend(file);
        let mut config: TrainConfig = merged.try_into()?;
        config.model = model;
        config.check()?;
        Ok(config)
    }

    /// Every value within the range a run can use.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.ranges().map_err(ConfigError::Range)
    }

    fn ranges(&self) -> Result<(), String> {
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
        within("dropout_image", self.dropout_image, 0.0, 1.0, true)?;
        within("audio_shift", self.audio_shift, 0.0, 60.0, false)?;
        if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&self.image_size) {
            return Err(format!("image_size = {} is outside [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}]", self.image_size));
        }
        within("audio_seconds", self.audio_seconds, 0.25, 60.0, false)?;
        if self.neighbours_k == 0 || self.neighbours_k > MAX_BATCH * 64 {
            return Err(format!("neighbours_k = {} is outside [1, {}]", self.neighbours_k, MAX_BATCH * 64));
        }
        if self.mine_every == 0 || self.mine_every > MAX_EPOCHS {
            return Err(format!("mine_every = {} is outside [1, {MAX_EPOCHS}]", self.mine_every));
        }
        if self.model != Architecture::Slavc && self.dropout_image > 0.0 {
            return Err(format!(
                "dropout_image = {}: only SLAVC has visual dropout ({} has none)",
                self.dropout_image,
                self.model.name()
            ));
        }
        Ok(())
    }
}

/// The fuzzing entry point (`fuzz/`, replayed by the tests): `bytes` as a configuration
/// file, through the parse and the checks, then the model shapes a valid one asks for.
/// Only a panic, a hang or a runaway allocation is a failure.
pub fn exercise(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(config) = TrainConfig::from_toml(text, None) {
        let shapes = config.model_config().expected_shapes();
        assert!(!shapes.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_schedules() {
        let constant = TrainConfig { lr: 1e-3, ..TrainConfig::default() };
        assert!((0..100).all(|s| constant.lr_at(s, 100) == 1e-3));
        let cosine = TrainConfig::from_toml("lr = 1e-3\nlr_schedule = \"cosine\"\nwarmup_steps = 10\n", None).unwrap();
        assert_eq!((cosine.lr_schedule, cosine.warmup_steps), (LrSchedule::Cosine, 10));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        // Warm-up: 1/10, 2/10, … of the cosine's value.
        assert!(close(cosine.lr_at(0, 100), 1e-4));
        assert!(close(cosine.lr_at(9, 100), 1e-3 * 0.5 * (1.0 + (0.09 * std::f64::consts::PI).cos())));
        assert!(close(cosine.lr_at(50, 100), 5e-4));
        assert!(cosine.lr_at(99, 100) < 1e-6 && cosine.lr_at(99, 100) > 0.0);
        assert!(TrainConfig::from_toml("lr_schedule = \"step\"\n", None).is_err());
    }

    #[test]
    fn files_are_checked_field_by_field() {
        let c = TrainConfig::from_toml("model = \"ezvsl\"\nwidth = 16\ndim = 64\nlr = 1e-3\n", None).unwrap();
        assert_eq!((c.model, c.width, c.dim, c.lr, c.epochs), (Architecture::Ezvsl, 16, 64, 1e-3, 20));
        // Keys the file leaves out come from its model's recipe: EZ-VSL has no dropout.
        assert_eq!(c.dropout_image, 0.0);
        assert_eq!(TrainConfig::from_toml(&toml::to_string(&c).unwrap(), None).unwrap(), c);
        // A --model flag re-bases the omitted keys on its recipe.
        let s = TrainConfig::from_toml("width = 16\n", Some(Architecture::SslAlign)).unwrap();
        assert_eq!((s.model, s.tau, s.epochs, s.dropout_image, s.width), (Architecture::SslAlign, 0.07, 50, 0.0, 16));
        assert_eq!(TrainConfig::from_toml("", None).unwrap(), TrainConfig::published(Architecture::Slavc));
        let e = |text: &str| TrainConfig::from_toml(text, None).unwrap_err().to_string();
        assert!(e("model = \"ezvsl\"\ndropout_image = 0.5").contains("only SLAVC has visual dropout"));
        assert!(e("neighbours_k = 0").contains("neighbours_k = 0"));
        assert!(e("width = 100000000").contains("width = 100000000 is outside [1, 512]"));
        assert!(e("dim = 0").contains("dim = 0"));
        assert!(e("batch_size = 1").contains("at least 2"));
        assert!(e("lr = nan").contains("lr = NaN"));
        assert!(e("dropout_image = 1.0").contains("[0, 1)"));
        assert!(e("learning_rate = 0.1").contains("unknown field"));
        assert!(e("epochs = -3").contains("epochs"));
    }
}
