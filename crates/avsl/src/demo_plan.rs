//! The demo's plan: the synthetic benchmark's sizes and each model's training
//! configuration (smaller than the paper's; the report prints them).

use avsl_data::synth::SynthConfig;
use avsl_model::Architecture;
use avsl_train::config::TrainConfig;

/// The demo's sizes: smaller than the paper's (see the report), same code path.
pub struct Plan {
    pub synth: SynthConfig,
    pub slavc: TrainConfig,
    pub ezvsl: TrainConfig,
    pub ssl_align: TrainConfig,
}

impl Plan {
    pub fn new(quick: bool, seed: u64) -> Plan {
        // Training scenes pair the source with a silent (green) object, so "the other object"
        // is never a sounding class the loss must push away; every source is large enough
        // for cIoU 0.5 under relative prediction (docs/synthetic.md).
        let benchmark = SynthConfig { seed, small_fraction: 0.0, silent_distractors: true, ..SynthConfig::default() };
        let synth = if quick {
            SynthConfig { train: 640, test: 100, negatives: 50, interactive: 30, ..benchmark }
        } else {
            SynthConfig { interactive: 100, ..benchmark }
        };
        // Narrow trunks (width 16: 16-32-64-128 channels), d = 64, 112×112 frames through an
        // image trunk without its stem max-pool (the 7×7 map), 1 s of sound, batches of 8,
        // and the learning rate and momentum of a few-hundred-step run (docs/synthetic.md: lr
        // 1e-4 and m 0.999 are too slow for minutes; batches of 8 learn faster per second
        // than 16 or 32).
        let common = TrainConfig {
            dim: 64,
            width: 16,
            lr: 1e-3,
            batch_size: 8,
            momentum_image: 0.99,
            momentum_audio: 0.99,
            image_size: 112,
            audio_seconds: 1.0,
            image_stem_pool: false,
            seed,
            ..TrainConfig::default()
        };
        let (slavc_epochs, ezvsl_epochs) = if quick { (1, 1) } else { (3, 3) };
        // SSL-align's step runs three views through each trunk (3× the samples), so it
        // gets one epoch; its k = 1% of the training set neighbours are mined with SLAVC's
        // trained encoders (the paper's are pretrained; none ships with a demo), so
        // `mine_every` never comes.
        let ssl_align = TrainConfig {
            model: Architecture::SslAlign,
            epochs: 1,
            tau: Architecture::SslAlign.published_tau(),
            dropout_image: 0.0,
            neighbours_k: (synth.train / 100).max(2),
            mine_every: 1000,
            ..common.clone()
        };
        Plan {
            synth,
            slavc: TrainConfig { model: Architecture::Slavc, epochs: slavc_epochs, ..common.clone() },
            ezvsl: TrainConfig { model: Architecture::Ezvsl, epochs: ezvsl_epochs, dropout_image: 0.0, ..common },
            ssl_align,
        }
    }
}
