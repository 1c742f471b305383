//! The calibrated "sounding / not sounding" decision: the confidence threshold at max-F1
//! (IoU 0.5) on a test set with non-sounding samples, per variant. Written by `avsl eval`
//! (`calibration.json`) and carried by the checkpoints `avsl train` writes after each
//! validation; read by `avsl localize`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evaluate::max_f1_point;
use crate::score::{Prediction, SampleResult};
use crate::scoring::{Protocol, Scored, prediction_from_json};

/// The IoU a true positive needs at the calibrated operating point.
pub const CALIBRATION_IOU: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// A sample is "sounding" when its confidence is at least this.
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub iou: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// What measured it ("avsl eval", "validation after epoch 3").
    pub source: String,
    pub testset: String,
    /// Samples the thresholds were measured on.
    pub n: usize,
    /// The encoder set that made the maps: "online" or "momentum".
    pub encoders: String,
    /// How maps became scores (protocol, alpha, tau, prediction rule), as in metrics.json.
    pub scoring: Value,
    /// The checkpoint file measured, and its SHA-256 (absent when the calibration is
    /// stored inside the checkpoint itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_sha256: Option<String>,
    pub variants: BTreeMap<String, Threshold>,
}

impl Calibration {
    /// The max-F1 thresholds of every scored variant; `None` without non-sounding samples
    /// (no threshold can then say "not sounding") or without samples.
    pub fn from_scored(
        scored: &Scored,
        source: &str,
        testset: &str,
        encoders: &str,
        scoring: Value,
    ) -> Option<Calibration> {
        let mut variants = BTreeMap::new();
        let mut n = 0;
        for (&variant, results) in &scored.variants {
            let rows: Vec<&SampleResult> = results.iter().collect();
            if !rows.iter().any(|r| r.bb == 0) {
                return None;
            }
            let p = max_f1_point(&rows, CALIBRATION_IOU)?;
            n = rows.len();
            variants.insert(
                variant.to_string(),
                Threshold {
                    threshold: f64::from(p.threshold),
                    precision: p.precision,
                    recall: p.recall,
                    f1: p.f1(),
                    iou: CALIBRATION_IOU,
                },
            );
        }
        (!variants.is_empty()).then(|| Calibration {
            source: source.to_string(),
            testset: testset.to_string(),
            n,
            encoders: encoders.to_string(),
            scoring,
            checkpoint: None,
            checkpoint_sha256: None,
            variants,
        })
    }

    /// The scoring protocol it was measured with (`None` when unreadable).
    pub fn protocol(&self) -> Option<Protocol> {
        Protocol::parse(self.scoring["protocol"].as_str()?)
    }

    /// The prediction rule it was measured with.
    pub fn prediction(&self) -> Option<Prediction> {
        prediction_from_json(&self.scoring["prediction"])
    }

    pub fn alpha(&self) -> Option<f64> {
        self.scoring["alpha"].as_f64()
    }
}
