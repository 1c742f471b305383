//! The result files of a scored test list (scoring itself is `avsl_metrics::scoring`):
//! `<variant>/{metrics.txt, sample_cious.txt, samples.csv}` and `metrics.json`, the same
//! for `eval-maps` (maps from files), `eval` (maps from a model) and the demo.

use std::collections::BTreeMap;
use std::path::Path;

use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::testset::TestSample;
use avsl_metrics::evaluate::{Subset, SubsetMetrics, evaluate, full_curve, reported_subsets};
use avsl_metrics::report::{metrics_txt, sample_cious_txt, samples_csv, variant_json};
use avsl_metrics::scoring::{Map, Scored, ScoringConfig};
use avsl_metrics::{BoxFormat, SampleResult};
use serde_json::Value;

use crate::error::EvalError;

/// Scores every sample of a test list (see [`avsl_metrics::scoring::score_all`]).
pub fn score_all<E: Send>(
    samples: &[TestSample],
    format: BoxFormat,
    config: &ScoringConfig,
    av_map: &(dyn Fn(usize) -> Result<Map, E> + Sync),
    obj_map: Option<&(dyn Fn(usize) -> Result<Map, E> + Sync)>,
    on_sample: &(dyn Fn() + Sync),
) -> Result<Scored, E> {
    let labelled: Vec<_> = samples.iter().map(TestSample::labelled).collect();
    avsl_metrics::scoring::score_all(&labelled, format, config, av_map, obj_map, on_sample)
}

/// Every metric of every subset, per variant (`av`, `obj`, `av_obj`).
pub type VariantMetrics = BTreeMap<&'static str, Vec<(Subset, SubsetMetrics)>>;

/// Writes `DIR/<variant>/{metrics.txt, sample_cious.txt, samples.csv}` and
/// `DIR/metrics.json`; returns the metrics of every variant for the console.
pub fn write_results(dir: &Path, scored: &Scored, extra: Value) -> Result<VariantMetrics, EvalError> {
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
    let json = serde_json::to_string_pretty(&Value::Object(json_root)).expect("metrics serialise");
    write_atomic(&dir.join("metrics.json"), json.as_bytes())?;
    Ok(all)
}

/// The exact precision–recall curve as (recall, precision) points, drawn from recall 0 at
/// the first point's precision (the authors' recall is 1, not 0, when no positive is
/// found, so a curve cannot be assumed to start at precision 1).
pub fn pr_points(rows: &[&SampleResult], iou: f64) -> Vec<(f64, f64)> {
    let curve: Vec<(f64, f64)> = full_curve(rows, iou).into_iter().map(|(p, r)| (r, p)).collect();
    let start = curve.first().map(|&(_, p)| (0.0, p));
    start.into_iter().chain(curve).collect()
}

/// The headline table: AP, max-F1, LocAcc@0.5 and AUC per variant (all samples; LocAcc
/// and AUC over the visible ones).
pub fn headline(all: &VariantMetrics) -> String {
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
