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
        let synth = if quick {
            SynthConfig { seed, train: 640, test: 100, negatives: 50, interactive: 30, ..SynthConfig::default() }
        } else {
            SynthConfig { seed, interactive: 100, ..SynthConfig::default() }
        };
        // Narrow trunks (width 16: 16-32-64-128 channels), d = 64, and the learning rate and
        // momentum of a few-hundred-step run (docs/synthetic.md: lr 1e-4 and m 0.999 are too slow for
        // minutes).
        let common = TrainConfig {
            dim: 64,
            width: 16,
            lr: 1e-3,
            batch_size: 32,
            momentum_image: 0.99,
            momentum_audio: 0.99,
            seed,
            ..TrainConfig::default()
        };
        let (slavc_epochs, ezvsl_epochs) = if quick { (2, 2) } else { (3, 1) };
        // SSL-align's step runs three views through each trunk (3× the samples), so it
        // gets one epoch; it mines its neighbours once, with its initial trunks (no
        // pretrained encoder in a demo), k = 1% of the training set.
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
