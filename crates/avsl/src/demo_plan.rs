//! The demo's plan: the synthetic benchmark's sizes and each model's training
//! configuration (smaller than the paper's; the report prints them).

use avsl_data::synth::SynthConfig;
use avsl_model::Architecture;
use avsl_train::config::TrainConfig;

/// Mixed into the benchmark's seed for the validation scenes.
const VALIDATION_SEED: u64 = 0x76a1_1d47_e000_0000;

const EZVSL_LR: f64 = 3e-4;
/// EZ-VSL's temperature in the demo (0.03 in its paper; docs/synthetic.md §9).
const EZVSL_TAU: f64 = 0.1;

/// The demo's sizes: smaller than the paper's (see the report), same code path.
pub struct Plan {
    pub synth: SynthConfig,
    /// Held-out scenes of the same kind (another seed, no training scenes): each run keeps
    /// the epoch that scores best on them, so the test set never chooses a checkpoint.
    pub validation: SynthConfig,
    pub slavc: TrainConfig,
    pub ezvsl: TrainConfig,
    pub ssl_align: TrainConfig,
}

impl Plan {
    pub fn new(quick: bool, seed: u64) -> Plan {
        // Training scenes pair the source with a silent (green) object, so "the other object"
        // is never a sounding class the loss must push away; every source fills nearly all
        // of its half of the frame, the region relative prediction marks (docs/synthetic.md).
        let benchmark = SynthConfig {
            seed,
            small_fraction: 0.0,
            silent_distractors: true,
            filled_halves: true,
            ..SynthConfig::default()
        };
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
        let (slavc_epochs, ezvsl_epochs, ssl_align_epochs) = if quick { (1, 1, 1) } else { (3, 2, 2) };
        // SSL-align's step runs three views through each trunk (3× the samples), so it
        // gets fewer epochs: two (one left it below 0.70 on a seed; docs/synthetic.md); its k = 1%
        // of the training set neighbours are mined with SLAVC's trained encoders (the
        // paper's are pretrained; none ships with a demo), so `mine_every` never comes.
        let ssl_align = TrainConfig {
            model: Architecture::SslAlign,
            epochs: ssl_align_epochs,
            tau: Architecture::SslAlign.published_tau(),
            dropout_image: 0.0,
            neighbours_k: (synth.train / 100).max(2),
            mine_every: 1000,
            ..common.clone()
        };
        let (val_test, val_negatives) = if quick { (50, 25) } else { (100, 50) };
        let validation = SynthConfig {
            seed: seed ^ VALIDATION_SEED,
            train: 0,
            test: val_test,
            negatives: val_negatives,
            interactive: 0,
            ..synth
        };
        // EZ-VSL with its paper's τ = 0.03 was a draw on this benchmark: at lr 1e-3 or 3e-4
        // some seeds never localised (LocAcc@50 0.24-0.51 at best). With τ = 0.1 every one of
        // ten seeds measured reached 0.75 or more within two epochs (docs/synthetic.md §9).
        let ezvsl = TrainConfig {
            model: Architecture::Ezvsl,
            epochs: ezvsl_epochs,
            dropout_image: 0.0,
            lr: EZVSL_LR,
            tau: EZVSL_TAU,
            ..common.clone()
        };
        Plan {
            synth,
            validation,
            slavc: TrainConfig { model: Architecture::Slavc, epochs: slavc_epochs, ..common.clone() },
            ezvsl,
            ssl_align,
        }
    }
}
