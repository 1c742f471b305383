//! Writing every result file of an evaluation (scoring itself is avsl_metrics::scoring).
//! Shared by `eval-maps` (maps from files) and `eval` (maps from a model): one code path.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use avsl_data::fsutil::{create_dir_all, write_atomic};
use avsl_data::testset::TestSample;
use avsl_metrics::evaluate::{
    Subset, SubsetMetrics, evaluate, full_curve, official_curve, reported_subsets, success_curve,
};
use avsl_metrics::report::{metrics_txt, sample_cious_txt, samples_csv, variant_json};
use avsl_metrics::{BoxFormat, SampleResult};
use serde_json::Value;

use crate::plots::{Series, line_plot};

pub use avsl_metrics::scoring::{Map, Protocol, Scored, ScoringConfig};

/// Scores every sample of a test list (see [`avsl_metrics::scoring::score_all`]).
pub fn score_all(
    samples: &[TestSample],
    format: BoxFormat,
    config: &ScoringConfig,
    av_map: &(dyn Fn(usize) -> Result<Map> + Sync),
    obj_map: Option<&(dyn Fn(usize) -> Result<Map> + Sync)>,
    on_sample: &(dyn Fn() + Sync),
) -> Result<Scored> {
    let labelled: Vec<_> = samples.iter().map(TestSample::labelled).collect();
    avsl_metrics::scoring::score_all(&labelled, format, config, av_map, obj_map, on_sample)
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

/// The exact precision–recall curve as (recall, precision) points, drawn from recall 0 at
/// the first point's precision (the authors' recall is 1, not 0, when no positive is
/// found, so a curve cannot be assumed to start at precision 1).
pub fn pr_points(rows: &[&SampleResult], iou: f64) -> Vec<(f64, f64)> {
    let curve: Vec<(f64, f64)> = full_curve(rows, iou).into_iter().map(|(p, r)| (r, p)).collect();
    let start = curve.first().map(|&(_, p)| (0.0, p));
    start.into_iter().chain(curve).collect()
}

/// Figures: per variant the precision–recall curves (official points and the exact curve,
/// IoU 0.5 and 0.75), and the cIoU success curves of every variant in one plot.
pub fn write_figures(dir: &Path, scored: &Scored) -> Result<()> {
    let mut success = Vec::new();
    for (&variant, results) in &scored.variants {
        let rows: Vec<&SampleResult> = results.iter().collect();
        let mut series = Vec::new();
        for (iou, tag) in [(0.5, "50"), (0.75, "75")] {
            let exact = pr_points(&rows, iou);
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
