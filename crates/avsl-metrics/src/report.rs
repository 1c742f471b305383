//! Result files: the authors' `metrics.txt` and `sample_cious.txt` (docs/method.md §7 item 27,
//! comparable line by line), our `samples.csv`, and the `metrics.json` objects.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::evaluate::{Subset, SubsetMetrics};
use crate::pyfmt::{fixed1, repr_f32, repr_f64};
use crate::score::SampleResult;

/// `metrics.txt`: `key: value` lines sorted by key, Python formatting, empty subsets left
/// out (the authors skip their `np.nan` placeholders).
pub fn metrics_txt(official: &[(Subset, SubsetMetrics)]) -> String {
    let mut lines = Vec::new();
    for (k, iou) in [50, 75].into_iter().enumerate() {
        for (subset, m) in official {
            let tag = format!("{}@{iou}", subset.name());
            lines.push(format!("Precision-{tag}: {}", repr_f64(m.precision[k])));
            let f1: Vec<String> = m.f1_list[k].iter().map(|f| fixed1(f * 100.0)).collect();
            lines.push(format!("F1-{tag}: {}", f1.join(" ")));
            lines.push(format!("AP-{tag}: {}", m.ap[k].map_or("0".to_string(), repr_f64)));
            lines.push(format!("AUC-{tag}: {}", repr_f64(m.auc)));
        }
    }
    lines.sort();
    lines.join("\n")
}

/// Rows in ascending cIoU, NaN last. The authors use numpy's unstable argsort on a list
/// they shuffled without a seed, so the order of equal cIoUs is arbitrary there; ours is
/// the input order (stable).
fn by_ciou(results: &[SampleResult]) -> Vec<&SampleResult> {
    let mut rows: Vec<&SampleResult> = results.iter().collect();
    rows.sort_by(|a, b| match (a.ciou.is_nan(), b.ciou.is_nan()) {
        (false, false) => a.ciou.total_cmp(&b.ciou),
        (x, y) => x.cmp(&y),
    });
    rows
}

/// `sample_cious.txt`: `name,area,bb,ciou,conf` in ascending cIoU.
pub fn sample_cious_txt(results: &[SampleResult]) -> String {
    let mut out = String::from("name,area,bb,ciou,conf\n");
    for s in by_ciou(results) {
        // The authors format the float32 confidence with an f-string, which numpy turns into a
        // Python float: 17 significant digits, not float32's shortest.
        let _ =
            writeln!(out, "{},{},{},{},{}", s.name, repr_f64(s.area), s.bb, repr_f64(s.ciou), repr_f64(s.conf as f64));
    }
    out
}

/// `samples.csv`: every per-sample figure, in list order, as a csv with a header.
pub fn samples_csv(results: &[SampleResult]) -> String {
    let mut out = String::from("name,video,audio,has_boxes,bb,area,ciou,conf,adaptive_ciou\n");
    for s in results {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&s.name),
            csv_field(&s.video),
            csv_field(&s.audio),
            s.bb > 0,
            s.bb,
            repr_f64(s.area),
            repr_f64(s.ciou),
            repr_f32(s.conf),
            repr_f64(s.adaptive_ciou)
        );
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn number(x: f64) -> Value {
    // JSON has no NaN: an undefined metric is null.
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// One subset's entry of `metrics.json` (fractions in [0, 1]).
pub fn subset_json(m: &SubsetMetrics) -> Value {
    json!({
        "n": m.n,
        "AP@50": number(m.ap[0].unwrap_or(0.0)),
        "AP@75": number(m.ap[1].unwrap_or(0.0)),
        "maxF1@50": number(m.max_f1(0)),
        "maxF1@75": number(m.max_f1(1)),
        "F1_list@50": m.f1_list[0],
        "F1_list@75": m.f1_list[1],
        "Precision@50": number(m.precision[0]),
        "Precision@75": number(m.precision[1]),
        "LocAcc@50": number(m.loc_acc[0]),
        "LocAcc@75": number(m.loc_acc[1]),
        "AUC": number(m.auc),
        "AP_exact@50": number(m.ap_exact[0]),
        "AP_exact@75": number(m.ap_exact[1]),
        "maxF1_exact@50": number(m.max_f1_exact[0]),
        "maxF1_exact@75": number(m.max_f1_exact[1]),
        "adaptive_cIoU": number(m.adaptive_ciou),
        "mean_cIoU": number(m.mean_ciou),
    })
}

/// `{subset: {metric: value}}` for one variant.
pub fn variant_json(metrics: &[(Subset, SubsetMetrics)]) -> Value {
    Value::Object(metrics.iter().map(|(s, m)| (s.name(), subset_json(m))).collect())
}
