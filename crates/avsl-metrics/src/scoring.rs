//! Scoring a test list from its maps (any h×w, typically 7×7) under either authors'
//! protocol (docs/method.md §5): the three variants of every sample. Shared by `eval-maps` (maps
//! from files), `eval` (maps from a model) and validation during training.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::{Value, json};

use crate::gt::{BoxFormat, GtMap, MAP_SIZE, PixelBox};
use crate::score::{self, MapKind, Prediction, SampleResult, score_sample};
use crate::upsample;

/// A map as loaded: row-major values and its shape.
#[derive(Debug, Clone)]
pub struct Map {
    pub h: usize,
    pub w: usize,
    pub values: Vec<f32>,
}

/// Which authors' test protocol turns maps into predictions (docs/method.md §5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// SLAVC: bicubic upsampling, absolute scores (S + 1/τ)/(2/τ) and obj/2.5, blend α.
    Slavc,
    /// EZ-VSL: bilinear upsampling, every map min-max normalised, blend α then normalised
    /// again, median threshold. Its maps carry no absolute level, so the confidence that
    /// ranks samples for AP/F1 is SLAVC's, from the same (bilinear) maps in score units.
    Ezvsl,
}

impl Protocol {
    /// The name written in results and calibrations.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Slavc => "slavc",
            Protocol::Ezvsl => "ezvsl",
        }
    }

    pub fn parse(name: &str) -> Option<Protocol> {
        [Protocol::Slavc, Protocol::Ezvsl].into_iter().find(|p| p.name() == name)
    }

    /// α of the av_obj blend in the authors' documented commands.
    pub fn default_alpha(self) -> f64 {
        match self {
            Protocol::Slavc => 0.9,
            Protocol::Ezvsl => 0.4,
        }
    }

    /// The authors' prediction rule: SLAVC's fixed 0.5 on scores, EZ-VSL's median.
    pub fn default_prediction(self) -> Prediction {
        match self {
            Protocol::Slavc => Prediction::Fixed { threshold: 0.5 },
            Protocol::Ezvsl => Prediction::Relative { size: 0.5 },
        }
    }
}

/// A prediction rule as [`ScoringConfig::to_json`] writes it.
pub fn prediction_json(prediction: Prediction) -> Value {
    match prediction {
        Prediction::Relative { size } => json!({"rule": "relative", "size": size}),
        Prediction::Fixed { threshold } => json!({"rule": "fixed", "threshold": threshold}),
    }
}

/// The inverse of [`prediction_json`].
pub fn prediction_from_json(v: &Value) -> Option<Prediction> {
    match v["rule"].as_str()? {
        "relative" => Some(Prediction::Relative { size: v["size"].as_f64()? }),
        "fixed" => Some(Prediction::Fixed { threshold: v["threshold"].as_f64()? }),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct ScoringConfig {
    pub alpha: f64,
    pub tau: f64,
    pub map_kind: MapKind,
    pub prediction: Prediction,
    pub protocol: Protocol,
}

impl ScoringConfig {
    pub fn to_json(&self) -> Value {
        let upsampling = match self.protocol {
            Protocol::Slavc => "bicubic, align_corners=True (PyTorch)",
            Protocol::Ezvsl => "bilinear, align_corners=True (PyTorch)",
        };
        json!({
            "protocol": self.protocol.name(),
            "alpha": self.alpha,
            "tau": self.tau,
            "map_kind": match self.map_kind { MapKind::Logits => "logits", MapKind::Scores => "scores" },
            "prediction": prediction_json(self.prediction),
            "upsampling": upsampling,
        })
    }
}

pub const VARIANTS: [&str; 3] = ["av", "obj", "av_obj"];

/// What the scorer needs of a test sample: its name, its pair and its boxes (none for a
/// non-sounding sample).
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    pub name: &'a str,
    pub video: &'a str,
    pub audio: &'a str,
    pub boxes: &'a [PixelBox],
}

/// Per-sample results of each variant computed (`av` always; `obj`, `av_obj` with
/// object maps), in the order of the test list.
pub struct Scored {
    pub variants: BTreeMap<&'static str, Vec<SampleResult>>,
}

/// Scores every sample. `av_map(i)` and `obj_map(i)` give sample i's maps.
pub fn score_all<E: Send>(
    samples: &[Labelled],
    format: BoxFormat,
    config: &ScoringConfig,
    av_map: &(dyn Fn(usize) -> Result<Map, E> + Sync),
    obj_map: Option<&(dyn Fn(usize) -> Result<Map, E> + Sync)>,
    on_sample: &(dyn Fn() + Sync),
) -> Result<Scored, E> {
    let per_sample: Vec<Vec<SampleResult>> = (0..samples.len())
        .into_par_iter()
        .map(|i| {
            let s = &samples[i];
            let gt = if s.boxes.is_empty() { GtMap::empty() } else { GtMap::from_boxes(s.boxes, format) };
            let obj = obj_map.map(|f| f(i)).transpose()?;
            let area = gt.area();
            let out = variant_maps(&av_map(i)?, obj.as_ref(), config)
                .iter()
                .map(|v| result(s, &gt, area, v, config.prediction))
                .collect();
            on_sample();
            Ok(out)
        })
        .collect::<Result<_, E>>()?;
    let mut variants = BTreeMap::new();
    let count = per_sample.first().map_or(1, Vec::len);
    for (k, name) in VARIANTS.iter().enumerate().take(count) {
        variants.insert(*name, per_sample.iter().map(|r| r[k].clone()).collect());
    }
    Ok(Scored { variants })
}

/// One variant's localisation of one frame and clip: the 224×224 map its prediction
/// thresholds, the confidence that ranks it (exactly as `avsl eval` computes both) and the
/// binary predicted region.
pub struct Localized {
    pub variant: &'static str,
    pub map: Vec<f32>,
    pub confidence: f32,
    pub region: Vec<bool>,
}

/// Every variant of one sample (`av`, and with an object map `obj` and `av_obj`).
pub fn localize(av: &Map, obj: Option<&Map>, config: &ScoringConfig) -> Vec<Localized> {
    variant_maps(av, obj, config)
        .into_iter()
        .zip(VARIANTS)
        .map(|(maps, variant)| {
            let ranked = score::RankedScores::new(&maps.prediction);
            let region = ranked.binary_prediction(config.prediction);
            let confidence = maps.confidence.as_deref().map_or_else(|| ranked.confidence(), score::confidence);
            Localized { variant, map: maps.prediction, confidence, region }
        })
        .collect()
}

/// One variant's 224×224 maps: what the binary prediction thresholds, and what the
/// confidence is the top-quarter mean of (the same map in SLAVC's protocol).
struct VariantMaps {
    prediction: Vec<f32>,
    confidence: Option<Vec<f32>>,
}

/// The maps of `av`, and with an object map of `obj` and `av_obj`, in that order.
fn variant_maps(av: &Map, obj: Option<&Map>, config: &ScoringConfig) -> Vec<VariantMaps> {
    let upsample = |m: &Map| match config.protocol {
        Protocol::Slavc => score::to_grid(&m.values, m.h, m.w, true),
        Protocol::Ezvsl => upsample::bilinear(&m.values, m.h, m.w, MAP_SIZE, MAP_SIZE, true),
    };
    let av_up = upsample(av);
    let av_scores = match config.map_kind {
        MapKind::Logits => score::logits_to_scores(&av_up, config.tau),
        MapKind::Scores => av_up.clone(),
    };
    let obj_scores = obj.map(|o| score::object_to_scores(&upsample(o)));
    match config.protocol {
        Protocol::Slavc => {
            let mut out = vec![VariantMaps { prediction: av_scores, confidence: None }];
            if let Some(obj_scores) = obj_scores {
                let blended = score::blend(&out[0].prediction, &obj_scores, config.alpha);
                out.push(VariantMaps { prediction: obj_scores, confidence: None });
                out.push(VariantMaps { prediction: blended, confidence: None });
            }
            out
        }
        Protocol::Ezvsl => {
            let av_pred = score::min_max_normalize(&av_up);
            let mut out = Vec::new();
            if let (Some(o), Some(obj_scores)) = (obj, obj_scores) {
                let obj_pred = score::min_max_normalize(&upsample(o));
                let blended_pred = score::min_max_normalize(&score::blend(&av_pred, &obj_pred, config.alpha));
                let blended_conf = score::blend(&av_scores, &obj_scores, config.alpha);
                out.push(VariantMaps { prediction: av_pred, confidence: Some(av_scores) });
                out.push(VariantMaps { prediction: obj_pred, confidence: Some(obj_scores) });
                out.push(VariantMaps { prediction: blended_pred, confidence: Some(blended_conf) });
            } else {
                out.push(VariantMaps { prediction: av_pred, confidence: Some(av_scores) });
            }
            out
        }
    }
}

fn result(s: &Labelled, gt: &GtMap, area: f64, maps: &VariantMaps, rule: Prediction) -> SampleResult {
    let (ciou, own_conf, adaptive_ciou) = score_sample(&maps.prediction, gt, area, rule);
    let conf = maps.confidence.as_deref().map_or(own_conf, score::confidence);
    SampleResult {
        name: s.name.to_string(),
        video: s.video.to_string(),
        audio: s.audio.to_string(),
        bb: s.boxes.len(),
        area,
        ciou,
        conf,
        adaptive_ciou,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rules_read_back_as_written() {
        for p in [Protocol::Slavc, Protocol::Ezvsl] {
            assert_eq!(Protocol::parse(p.name()), Some(p));
            let rule = p.default_prediction();
            assert_eq!(prediction_from_json(&prediction_json(rule)), Some(rule));
        }
        assert_eq!(Protocol::parse("SLAVC"), None);
        assert_eq!(prediction_from_json(&json!({"rule": "median"})), None);
        assert_eq!((Protocol::Slavc.default_alpha(), Protocol::Ezvsl.default_alpha()), (0.9, 0.4));
    }
}
