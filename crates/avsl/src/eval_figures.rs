//! Figures of a scored test list: precision–recall curves per variant (official points
//! and the exact curve) and the cIoU success curves.

use std::path::Path;

use anyhow::Result;
use avsl_eval::checkpoint_eval::Evaluated;
use avsl_eval::results::{headline, pr_points};
use avsl_metrics::SampleResult;
use avsl_metrics::evaluate::{official_curve, success_curve};
use avsl_metrics::scoring::Scored;

use crate::plots::{Series, line_plot};

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

/// What `eval` and `eval-maps` show after scoring: the figures in `dir`, the headline
/// table and where the results are.
pub fn show(dir: &Path, evaluated: &Evaluated) -> Result<()> {
    write_figures(dir, &evaluated.scored)?;
    print!("{}", headline(&evaluated.metrics));
    println!("results: {}", dir.display());
    Ok(())
}
