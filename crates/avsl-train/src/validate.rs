//! Validation during training with the exact evaluator: the current weights run as
//! `avsl eval` runs a checkpoint (SLAVC's momentum encoders, EZ-VSL's only set), maps
//! scored with the model's protocol and relative prediction (a fixed 0.5 threshold says
//! little about a model whose maps have not found their range yet).

use avsl_data::error::DataError;
use avsl_data::preprocess::TestPipeline;
use avsl_data::testset::TestSample;
use avsl_eval::test_pass::{OnBadFile, distinct_pairs, embed_pairs};
use avsl_metrics::calibration::Calibration;
use avsl_metrics::evaluate::{Subset, SubsetMetrics, evaluate, reported_subsets};
use avsl_metrics::scoring::{Labelled, ScoringConfig, score_all};
use avsl_metrics::{BoxFormat, MapKind, Prediction};
use avsl_model::Encoders;

use crate::trainer::Trainer;

/// A validation list and how to read its boxes.
pub struct Validation {
    pub name: String,
    pub samples: Vec<TestSample>,
    pub format: BoxFormat,
}

impl Validation {
    /// The number that picks the best checkpoint: AP@50 on a set with non-sounding
    /// samples (the extended sets), LocAcc@50 otherwise.
    pub fn criterion(&self) -> &'static str {
        if self.samples.iter().any(|s| !s.has_boxes()) { "AP@50" } else { "LocAcc@50" }
    }
}

/// What a validation measured.
pub struct Validated {
    /// Every metric of every subset for the `av` maps.
    pub metrics: Vec<(Subset, SubsetMetrics)>,
    /// The calibrated decision threshold of these weights (sets with non-sounding
    /// samples only).
    pub calibration: Option<Calibration>,
    /// Files that could not be read (with [`OnBadFile::Skip`]) and the pairs left out.
    pub bad: Vec<avsl_eval::test_pass::BadFile>,
    pub pairs_left_out: usize,
}

/// Validates the trainer's current weights.
pub fn validate(
    trainer: &Trainer,
    validation: &Validation,
    batch: usize,
    threads: usize,
    on_bad: OnBadFile,
) -> Result<Validated, DataError> {
    let config = trainer.config.model_config();
    let mut weights = trainer.weights();
    let set = config.architecture.evaluated_set();
    let device = trainer.inference_device();
    let encoders = Encoders::load(&mut weights, config, set, &device).expect("the trainer holds every tensor");
    let pairs: Vec<_> = validation.samples.iter().map(|s| (s.frame.clone(), s.audio.clone())).collect();
    let embedded = embed_pairs(
        distinct_pairs(&pairs),
        &encoders,
        None,
        config.tau,
        batch,
        threads,
        &device,
        &|_| {},
        on_bad,
        TestPipeline::Slavc,
    )?;
    // With --skip-bad, the pairs whose files could not be read are left out (and counted).
    let kept: Vec<usize> = (0..pairs.len()).filter(|&i| embedded.readable(i)).collect();
    let scoring = ScoringConfig {
        alpha: 1.0,
        tau: config.tau,
        map_kind: MapKind::Logits,
        prediction: Prediction::Relative { size: 0.5 },
        protocol: avsl_eval::scoring::protocol_of(config.architecture),
    };
    let labelled: Vec<Labelled> = kept.iter().map(|&i| validation.samples[i].labelled()).collect();
    let scored = score_all::<DataError>(
        &labelled,
        validation.format,
        &scoring,
        &|k| Ok(embedded.pair_map(kept[k]).clone()),
        None,
        &|| {},
    )?;
    Ok(Validated {
        metrics: evaluate(&scored.variants["av"], &reported_subsets()),
        calibration: Calibration::from_scored(&scored, "validation", &validation.name, set.name(), scoring.to_json()),
        pairs_left_out: pairs.len() - kept.len(),
        bad: embedded.bad,
    })
}

/// The criterion's value in `metrics` (subset `all`).
pub fn criterion_value(metrics: &[(Subset, SubsetMetrics)], criterion: &str) -> f64 {
    let all = metrics.iter().find(|(s, _)| *s == Subset::All).map(|(_, m)| m);
    match (all, criterion) {
        (Some(m), "AP@50") => m.ap[0].unwrap_or(0.0),
        (Some(m), _) => m.loc_acc[0],
        (None, _) => f64::NAN,
    }
}
