//! Scoring a test list from 7×7 (or any h×w) maps and writing every result file. Shared by
//! `eval-maps` (maps from files) and, later, `eval` (maps from a model): one code path.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::testset::TestSample;
use avsl_metrics::evaluate::{
    Subset, SubsetMetrics, evaluate, full_curve, official_curve, reported_subsets, success_curve,
};
use avsl_metrics::gt::MAP_SIZE;
use avsl_metrics::report::{metrics_txt, sample_cious_txt, samples_csv, variant_json};
use avsl_metrics::score::{self, score_sample};
use avsl_metrics::upsample;
use avsl_metrics::{BoxFormat, GtMap, MapKind, Prediction, SampleResult};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::plots::{Series, line_plot};

/// A map as loaded: row-major values and its shape.
#[derive(Debug, Clone)]
pub struct Map {
    pub h: usize,
    pub w: usize,
    pub values: Vec<f32>,
}

/// Which authors' test protocol turns maps into predictions (METHOD §5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// SLAVC: bicubic upsampling, absolute scores (S + 1/τ)/(2/τ) and obj/2.5, blend α.
    Slavc,
    /// EZ-VSL: bilinear upsampling, every map min-max normalised, blend α then normalised
    /// again, median threshold. Its maps carry no absolute level, so the confidence that
    /// ranks samples for AP/F1 is SLAVC's, from the same (bilinear) maps in score units.
    Ezvsl,
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
        let prediction = match self.prediction {
            Prediction::Relative { size } => json!({"rule": "relative", "size": size}),
            Prediction::Fixed { threshold } => json!({"rule": "fixed", "threshold": threshold}),
        };
        let (protocol, upsampling) = match self.protocol {
            Protocol::Slavc => ("slavc", "bicubic, align_corners=True (PyTorch)"),
            Protocol::Ezvsl => ("ezvsl", "bilinear, align_corners=True (PyTorch)"),
        };
        json!({
            "protocol": protocol,
            "alpha": self.alpha,
            "tau": self.tau,
            "map_kind": match self.map_kind { MapKind::Logits => "logits", MapKind::Scores => "scores" },
            "prediction": prediction,
            "upsampling": upsampling,
        })
    }
}

pub const VARIANTS: [&str; 3] = ["av", "obj", "av_obj"];

/// Per-sample results of each variant computed (`av` always; `obj`, `av_obj` with
/// object maps), in the order of the test list.
pub struct Scored {
    pub variants: BTreeMap<&'static str, Vec<SampleResult>>,
}

/// Scores every sample. `av_map(i)` and `obj_map(i)` give sample i's maps.
pub fn score_all(
    samples: &[TestSample],
    format: BoxFormat,
    config: &ScoringConfig,
    av_map: &(dyn Fn(usize) -> Result<Map> + Sync),
    obj_map: Option<&(dyn Fn(usize) -> Result<Map> + Sync)>,
    on_sample: &(dyn Fn() + Sync),
) -> Result<Scored> {
    let per_sample: Vec<Vec<SampleResult>> = (0..samples.len())
        .into_par_iter()
        .map(|i| {
            let s = &samples[i];
            let gt = if s.has_boxes() { GtMap::from_boxes(&s.boxes, format) } else { GtMap::empty() };
            let obj = obj_map.map(|f| f(i)).transpose()?;
            let area = gt.area();
            let out = variant_maps(&av_map(i)?, obj.as_ref(), config)
                .iter()
                .map(|v| result(s, &gt, area, v, config.prediction))
                .collect();
            on_sample();
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut variants = BTreeMap::new();
    let count = per_sample.first().map_or(1, Vec::len);
    for (k, name) in VARIANTS.iter().enumerate().take(count) {
        variants.insert(*name, per_sample.iter().map(|r| r[k].clone()).collect());
    }
    Ok(Scored { variants })
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

fn result(s: &TestSample, gt: &GtMap, area: f64, maps: &VariantMaps, rule: Prediction) -> SampleResult {
    let (ciou, own_conf, adaptive_ciou) = score_sample(&maps.prediction, gt, area, rule);
    let conf = maps.confidence.as_deref().map_or(own_conf, score::confidence);
    SampleResult {
        name: s.name.clone(),
        video: s.video_id.clone(),
        audio: s.audio_id.clone(),
        bb: s.boxes.len(),
        area,
        ciou,
        conf,
        adaptive_ciou,
    }
}

/// Writes `DIR/<variant>/{metrics.txt, sample_cious.txt, samples.csv}` and
/// `DIR/metrics.json`; returns the metrics of every variant for the console.
pub fn write_results(
    dir: &Path,
    scored: &Scored,
    extra: Value,
) -> Result<BTreeMap<&'static str, Vec<(Subset, SubsetMetrics)>>> {
    let mut json_root = serde_json::Map::new();
    let mut all = BTreeMap::new();
    for (&variant, results) in &scored.variants {
        let vdir = dir.join(variant);
        create_dir_all(&vdir)?;
        let metrics = evaluate(results, &reported_subsets());
        let official: Vec<(Subset, SubsetMetrics)> =
            metrics.iter().filter(|(s, _)| Subset::OFFICIAL.contains(s)).cloned().collect();
        write_atomic(&vdir.join("metrics.txt"), metrics_txt(&official).as_bytes())?;
        write_atomic(&vdir.join("sample_cious.txt"), sample_cious_txt(results).as_bytes())?;
        write_atomic(&vdir.join("samples.csv"), samples_csv(results).as_bytes())?;
        json_root.insert(variant.to_string(), variant_json(&metrics));
        all.insert(variant, metrics);
    }
    if let Value::Object(extra) = extra {
        json_root.extend(extra);
    }
    write_atomic(&dir.join("metrics.json"), serde_json::to_string_pretty(&Value::Object(json_root))?.as_bytes())?;
    Ok(all)
}

/// Figures: per variant the precision–recall curves (official points and the exact curve,
/// IoU 0.5 and 0.75), and the cIoU success curves of every variant in one plot.
pub fn write_figures(dir: &Path, scored: &Scored) -> Result<()> {
    let mut success = Vec::new();
    for (&variant, results) in &scored.variants {
        let rows: Vec<&SampleResult> = results.iter().collect();
        let mut series = Vec::new();
        for (iou, tag) in [(0.5, "50"), (0.75, "75")] {
            let exact: Vec<(f64, f64)> =
                std::iter::once((0.0, 1.0)).chain(full_curve(&rows, iou).into_iter().map(|(p, r)| (r, p))).collect();
            series.push(Series { label: format!("exact @{tag}"), points: exact, dashed: false });
            let official = official_curve(&rows, iou).into_iter().map(|(p, r)| (r, p)).collect();
            series.push(Series { label: format!("official (authors' AP) @{tag}"), points: official, dashed: true });
        }
        line_plot(
            &dir.join(variant).join("pr_curve.png"),
            &format!("Precision-recall, {variant}"),
            "recall",
            "precision",
            &series,
        )?;
        success.push(Series { label: variant.to_string(), points: success_curve(&rows), dashed: false });
    }
    line_plot(
        &dir.join("success_curve.png"),
        "cIoU success curve (visible samples)",
        "cIoU threshold",
        "fraction of samples",
        &success,
    )
}

/// The headline table: AP, max-F1, LocAcc@0.5 and AUC per variant (all samples; LocAcc
/// and AUC over the visible ones).
pub fn headline(all: &BTreeMap<&'static str, Vec<(Subset, SubsetMetrics)>>) -> String {
    let mut out = String::from("variant   n      AP@50   maxF1@50  LocAcc@50  AUC     AP_exact@50\n");
    for (variant, metrics) in all {
        if let Some((_, m)) = metrics.iter().find(|(s, _)| *s == Subset::All) {
            out.push_str(&format!(
                "{variant:<9} {:<6} {:<7.4} {:<9.4} {:<10.4} {:<7.4} {:.4}\n",
                m.n,
                m.ap[0].unwrap_or(0.0),
                m.max_f1(0),
                m.loc_acc[0],
                m.auc,
                m.ap_exact[0]
            ));
        }
    }
    out
}
