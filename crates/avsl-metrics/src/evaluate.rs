//! Dataset-level metrics (docs/method.md §6, §7 items 22–26), in two variants:
//! *official* reproduces the authors' evaluator bit for bit (its AP skips the largest
//! confidence and subsamples thresholds, its F1 is evaluated at ten thresholds only);
//! *exact* uses every threshold and a precision–recall curve that starts at recall 0.

use crate::numeric::pairwise_sum;
use crate::score::SampleResult;

/// Sample subsets reported by the authors, plus subsets by number of boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    All,
    Visible,
    Small,
    Medium,
    Large,
    Huge,
    Boxes(usize),
    /// At least this many boxes.
    BoxesAtLeast(usize),
}

impl Subset {
    /// The subsets of the authors' `metrics.txt`, in their order.
    pub const OFFICIAL: [Subset; 6] =
        [Subset::All, Subset::Visible, Subset::Small, Subset::Medium, Subset::Large, Subset::Huge];

    pub fn name(self) -> String {
        match self {
            Subset::All => "all".into(),
            Subset::Visible => "visible".into(),
            Subset::Small => "small".into(),
            Subset::Medium => "medium".into(),
            Subset::Large => "large".into(),
            Subset::Huge => "huge".into(),
            Subset::Boxes(n) => format!("boxes_{n}"),
            Subset::BoxesAtLeast(n) => format!("boxes_{n}plus"),
        }
    }

    pub fn contains(self, s: &SampleResult) -> bool {
        let sized = |lo: f64, hi: f64| s.bb > 0 && lo <= s.area && s.area < hi;
        match self {
            Subset::All => true,
            Subset::Visible => s.bb > 0,
            Subset::Small => sized(0.0, 32.0 * 32.0),
            Subset::Medium => sized(32.0 * 32.0, 96.0 * 96.0),
            Subset::Large => sized(96.0 * 96.0, 144.0 * 144.0),
            Subset::Huge => sized(144.0 * 144.0, 1e8),
            Subset::Boxes(n) => s.bb == n,
            Subset::BoxesAtLeast(n) => s.bb >= n,
        }
    }
}

/// Precision and recall when a sample counts as detected iff `conf ≥ threshold`.
/// Negatives (no boxes) are false positives when detected.
pub fn precision_recall(rows: &[&SampleResult], threshold: f32, iou: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for s in rows {
        let detected = s.conf >= threshold;
        match (s.bb > 0, detected) {
            (false, true) => fp += 1,
            (false, false) => {}
            (true, true) if s.ciou >= iou => tp += 1,
            (true, true) => fp += 1,
            (true, false) => fn_ += 1,
        }
    }
    let p = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
    let r = if tp + fn_ == 0 { 1.0 } else { tp as f64 / (tp + fn_) as f64 };
    (p, r)
}

/// The authors' AP: thresholds `sort(conf)[:-1][::-k]`, k = max(1, N // 200); precision
/// made monotone from the right; `Σ pmax[i] · (R[i+1] − R[i])` summed left to right.
/// `None` when there are fewer than two thresholds (Python's `sum([])` = integer 0).
pub fn ap_official(rows: &[&SampleResult], iou: f64) -> Option<f64> {
    let pr = official_curve(rows, iou);
    if pr.len() < 2 {
        return None;
    }
    let mut pmax = vec![0.0f64; pr.len()];
    let mut running = f64::NEG_INFINITY;
    for i in (0..pr.len()).rev() {
        running = running.max(pr[i].0);
        pmax[i] = running;
    }
    Some((0..pr.len() - 1).fold(0.0, |acc, i| acc + pmax[i] * (pr[i + 1].1 - pr[i].1)))
}

/// The (precision, recall) points of the authors' AP: thresholds `sort(conf)[:-1][::-k]`.
pub fn official_curve(rows: &[&SampleResult], iou: f64) -> Vec<(f64, f64)> {
    let mut confs: Vec<f32> = rows.iter().map(|s| s.conf).collect();
    confs.sort_by(f32::total_cmp);
    let k = (rows.len() / 200).max(1);
    let thresholds: Vec<f32> = confs[..confs.len().saturating_sub(1)].iter().rev().step_by(k).copied().collect();
    thresholds.iter().map(|&t| precision_recall(rows, t, iou)).collect()
}

/// The authors' F1 list: thresholds `sorted(conf)[::max(1, N // 10)]`, F1 = 2rp/(r+p).
pub fn f1_list_official(rows: &[&SampleResult], iou: f64) -> Vec<f64> {
    let mut confs: Vec<f32> = rows.iter().map(|s| s.conf).collect();
    confs.sort_by(f32::total_cmp);
    let step = (rows.len() / 10).max(1);
    confs.iter().step_by(step).map(|&t| f1(precision_recall(rows, t, iou))).collect()
}

fn f1((p, r): (f64, f64)) -> f64 {
    if r + p > 0.0 { 2.0 * r * p / (r + p) } else { 0.0 }
}

/// Precision and recall when every sample with confidence ≥ `threshold` is detected.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
}

impl OperatingPoint {
    pub fn f1(&self) -> f64 {
        f1((self.precision, self.recall))
    }
}

/// The operating point at every distinct confidence, highest first, in one sweep over the
/// samples sorted by confidence (O(N log N)).
pub fn operating_points(rows: &[&SampleResult], iou: f64) -> Vec<OperatingPoint> {
    let mut sorted: Vec<&SampleResult> = rows.to_vec();
    sorted.sort_by(|a, b| b.conf.total_cmp(&a.conf));
    let positives = rows.iter().filter(|s| s.bb > 0).count() as u64;
    let (mut tp, mut fp, mut detected_positives) = (0u64, 0u64, 0u64);
    let mut curve = Vec::new();
    for (i, s) in sorted.iter().enumerate() {
        match (s.bb > 0, s.ciou >= iou) {
            (true, true) => tp += 1,
            _ => fp += 1,
        }
        detected_positives += (s.bb > 0) as u64;
        // Emit a point once every sample at this confidence is in.
        if sorted.get(i + 1).is_none_or(|next| next.conf != s.conf) {
            let fn_ = positives - detected_positives;
            let precision = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
            let recall = if tp + fn_ == 0 { 1.0 } else { tp as f64 / (tp + fn_) as f64 };
            curve.push(OperatingPoint { threshold: s.conf, precision, recall });
        }
    }
    curve
}

/// (precision, recall) at every distinct confidence, highest first.
pub fn full_curve(rows: &[&SampleResult], iou: f64) -> Vec<(f64, f64)> {
    operating_points(rows, iou).into_iter().map(|p| (p.precision, p.recall)).collect()
}

/// The operating point of largest F1 (the highest threshold among ties): the calibrated
/// decision threshold "sounding / not sounding".
pub fn max_f1_point(rows: &[&SampleResult], iou: f64) -> Option<OperatingPoint> {
    operating_points(rows, iou).into_iter().fold(None, |best, p| match best {
        Some(b) if b.f1() >= p.f1() => Some(b),
        _ => Some(p),
    })
}

/// AP over every threshold, the curve starting at recall 0, precision monotone from the
/// right (the all-point interpolated AP of VOC 2010+).
pub fn ap_exact(rows: &[&SampleResult], iou: f64) -> f64 {
    let curve = full_curve(rows, iou);
    let mut pmax = vec![0.0f64; curve.len()];
    let mut running = f64::NEG_INFINITY;
    for i in (0..curve.len()).rev() {
        running = running.max(curve[i].0);
        pmax[i] = running;
    }
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for (&(_, r), &p) in curve.iter().zip(&pmax) {
        ap += p * (r - previous_recall);
        previous_recall = r;
    }
    ap
}

/// The largest F1 over every threshold.
pub fn max_f1_exact(rows: &[&SampleResult], iou: f64) -> f64 {
    full_curve(rows, iou).into_iter().map(f1).fold(0.0, f64::max)
}

/// Fraction of visible samples with cIoU ≥ `iou` (the historical "cIoU@0.5"); NaN without
/// visible samples.
pub fn loc_acc(rows: &[&SampleResult], iou: f64) -> f64 {
    let visible: Vec<_> = rows.iter().filter(|s| s.bb > 0).collect();
    visible.iter().filter(|s| s.ciou >= iou).count() as f64 / visible.len() as f64
}

/// The cIoU success curve over the visible samples: (t, fraction with cIoU ≥ t) for
/// t = 0.05·i, i = 0..20.
pub fn success_curve(rows: &[&SampleResult]) -> Vec<(f64, f64)> {
    let cious: Vec<f64> = rows.iter().filter(|s| s.bb > 0).map(|s| s.ciou).collect();
    (0..21)
        .map(|i| 0.05 * i as f64)
        .map(|t| (t, cious.iter().filter(|&&c| c >= t).count() as f64 / cious.len() as f64))
        .collect()
}

/// Area under the cIoU success curve, trapezoid rule summed as numpy does. NaN without
/// visible samples.
pub fn auc(rows: &[&SampleResult]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = success_curve(rows).into_iter().unzip();
    let terms: Vec<f64> = (0..20).map(|i| (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0).collect();
    pairwise_sum(&terms)
}

/// Mean adaptive cIoU over the visible samples whose boxes cover at least one pixel (it
/// is undefined for an empty ground truth). Summed in sorted order, so the row order
/// cannot change the last digit.
pub fn mean_adaptive_ciou(rows: &[&SampleResult]) -> f64 {
    let mut v: Vec<f64> =
        rows.iter().filter(|s| s.bb > 0 && !s.adaptive_ciou.is_nan()).map(|s| s.adaptive_ciou).collect();
    v.sort_by(f64::total_cmp);
    pairwise_sum(&v) / v.len() as f64
}

/// Mean cIoU over the visible samples (EZ-VSL's "Avg-cIoU"; NaN cIoUs, from an empty
/// ground truth and an empty prediction, are left out). Summed in sorted order.
pub fn mean_ciou(rows: &[&SampleResult]) -> f64 {
    let mut v: Vec<f64> = rows.iter().filter(|s| s.bb > 0 && !s.ciou.is_nan()).map(|s| s.ciou).collect();
    v.sort_by(f64::total_cmp);
    pairwise_sum(&v) / v.len() as f64
}

/// Every metric of one subset at IoU 0.5 and 0.75.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubsetMetrics {
    pub n: usize,
    pub precision: [f64; 2],
    pub ap: [Option<f64>; 2],
    pub f1_list: [Vec<f64>; 2],
    pub loc_acc: [f64; 2],
    pub auc: f64,
    pub ap_exact: [f64; 2],
    pub max_f1_exact: [f64; 2],
    pub adaptive_ciou: f64,
    pub mean_ciou: f64,
}

pub const IOU_THRESHOLDS: [f64; 2] = [0.5, 0.75];

impl SubsetMetrics {
    pub fn compute(rows: &[&SampleResult]) -> SubsetMetrics {
        let each = |f: &dyn Fn(f64) -> f64| [f(0.5), f(0.75)];
        SubsetMetrics {
            n: rows.len(),
            precision: each(&|iou| precision_recall(rows, -1000.0, iou).0),
            ap: [ap_official(rows, 0.5), ap_official(rows, 0.75)],
            f1_list: [f1_list_official(rows, 0.5), f1_list_official(rows, 0.75)],
            loc_acc: each(&|iou| loc_acc(rows, iou)),
            auc: auc(rows),
            ap_exact: each(&|iou| ap_exact(rows, iou)),
            max_f1_exact: each(&|iou| max_f1_exact(rows, iou)),
            adaptive_ciou: mean_adaptive_ciou(rows),
            mean_ciou: mean_ciou(rows),
        }
    }

    /// max-F1 of the official (ten-threshold) list.
    pub fn max_f1(&self, k: usize) -> f64 {
        self.f1_list[k].iter().copied().fold(0.0, f64::max)
    }
}

/// Metrics of every non-empty subset (empty subsets are omitted, as the authors do).
pub fn evaluate(results: &[SampleResult], subsets: &[Subset]) -> Vec<(Subset, SubsetMetrics)> {
    subsets
        .iter()
        .filter_map(|&subset| {
            let rows: Vec<&SampleResult> = results.iter().filter(|s| subset.contains(s)).collect();
            (!rows.is_empty()).then(|| (subset, SubsetMetrics::compute(&rows)))
        })
        .collect()
}

/// The subsets `metrics.json` reports: the official six and 1, 2, ≥3 boxes.
pub fn reported_subsets() -> Vec<Subset> {
    let mut s = Subset::OFFICIAL.to_vec();
    s.extend([Subset::Boxes(1), Subset::Boxes(2), Subset::BoxesAtLeast(3)]);
    s
}
