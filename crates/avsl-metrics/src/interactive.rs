//! Interactive (multi-source) localisation ("Aligning Sight and Sound", §4): an image
//! with several sound sources counts as localised only if every source is localised with
//! its own audio.

use crate::gt::GtMap;
use crate::numeric::{pairwise_sum, sort_f32};
use crate::score::{ciou, min_max_normalize};
use crate::segmentation::{f_measure_curve, f_score, mask_iou};

/// One (image, source) pair's cIoU (or adaptive cIoU), tagged with its image.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceResult {
    pub image: String,
    pub ciou: f64,
}

/// Per image, the smallest cIoU over its sources (NaN counts as failure): an image passes
/// a threshold iff all its sources do.
fn worst_per_image(results: &[SourceResult]) -> Vec<f64> {
    let mut worst: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for r in results {
        let c = if r.ciou.is_nan() { f64::NEG_INFINITY } else { r.ciou };
        worst.entry(r.image.as_str()).and_modify(|w| *w = w.min(c)).or_insert(c);
    }
    worst.into_values().collect()
}

/// IIoU@t: the fraction of images all of whose sources have cIoU ≥ t.
pub fn iiou(results: &[SourceResult], threshold: f64) -> f64 {
    let worst = worst_per_image(results);
    worst.iter().filter(|&&w| w >= threshold).count() as f64 / worst.len() as f64
}

/// IAUC: the area under IIoU over thresholds 0, 0.05, …, 1 (trapezoid rule, as cIoU's AUC).
pub fn iauc(results: &[SourceResult]) -> f64 {
    trapezoid_auc(|t| iiou(results, t))
}

/// The thresholds 0.05·i, i = 0..20, of the success curves.
fn thresholds() -> impl Iterator<Item = f64> {
    (0..21).map(|i| 0.05 * i as f64)
}

/// `sklearn.metrics.auc` of `curve` sampled at [`thresholds`]: numpy's trapezoid terms,
/// summed as numpy sums them.
fn trapezoid_auc(curve: impl Fn(f64) -> f64) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = thresholds().map(|t| (t, curve(t))).unzip();
    let terms: Vec<f64> = (0..20).map(|i| (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0).collect();
    pairwise_sum(&terms)
}

/// The image a pair belongs to, from the pair's name, by the SSL-align test script's rule:
/// the name's last `/` component without its last `_` field. IS3 names each (image,
/// source) pair `<image>_<source>` (`accordion_baby_10467_accordion` is image
/// `accordion_baby_10467`), VPO `<coco image>_<instance>`; AVSBench's S4 and MS3 pairs
/// (`<category>/<id>/<id>_<k>`, `<id>/<id>.mp4_<k>`) group the five frames of a video. A
/// component without `_` gives the empty name, as the script's `'_'.join(...[:-1])` does.
pub fn image_of_pair(name: &str) -> &str {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.rsplit_once('_').map_or("", |(image, _)| image)
}

/// One pair's cIoU and adaptive cIoU as the SSL-align test script computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScores {
    pub ciou: f64,
    pub adaptive_ciou: f64,
}

/// Scores a 224×224 map against its source's ground truth: the map min-max normalised in
/// float32; the prediction is every pixel strictly above the median
/// (`np.sort(p)[int(n·0.5)]`), and for the adaptive cIoU every pixel strictly above
/// `np.sort(p)[n − B]`, B = the ground truth's non-zero pixels (n/2 when it has none).
/// Both thresholds are strict, as in the script: with ties, and for the adaptive one
/// always, the prediction holds fewer pixels than the rank suggests (at most B − 1).
pub fn score_pair(map: &[f32], gt: &GtMap) -> PairScores {
    let p = predictions(map, gt.values.iter().filter(|&&g| g != 0.0).count());
    PairScores { ciou: ciou(&p.median, gt), adaptive_ciou: ciou(&p.adaptive, gt) }
}

/// A map as the script predicts from it: min-max normalised, the pixels strictly above
/// its median, and those strictly above the value at rank n − B (B = `target_pixels`, n/2
/// when 0).
pub struct Predictions {
    pub normalized: Vec<f32>,
    pub median: Vec<bool>,
    pub adaptive: Vec<bool>,
}

pub fn predictions(map: &[f32], target_pixels: usize) -> Predictions {
    let normalized = min_max_normalize(map);
    let mut sorted = normalized.clone();
    sort_f32(&mut sorted);
    let n = sorted.len();
    let above = |threshold: f32| -> Vec<bool> { normalized.iter().map(|&p| p > threshold).collect() };
    let budget = if target_pixels == 0 { n / 2 } else { target_pixels.min(n) };
    let (median, adaptive) = (above(sorted[n / 2]), above(sorted[n - budget]));
    Predictions { normalized, median, adaptive }
}

/// A pair's mask metrics (AVSBench's, see [`crate::segmentation`]): the IoU of the median
/// and of the adaptive prediction (B = the mask's pixels) with the mask, and the
/// F-measure curve of the normalised map (`None` for an empty mask).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskScores {
    pub iou: f64,
    pub adaptive_iou: f64,
    pub f_curve: Option<Vec<f64>>,
}

pub fn score_mask(map: &[f32], mask: &[bool], levels: &[f32]) -> MaskScores {
    let p = predictions(map, mask.iter().filter(|&&m| m).count());
    MaskScores {
        iou: mask_iou(&p.median, mask),
        adaptive_iou: mask_iou(&p.adaptive, mask),
        f_curve: f_measure_curve(&p.normalized, mask, levels),
    }
}

/// A scored pair and the image it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    pub name: String,
    pub image: String,
    pub scores: PairScores,
    /// With a segmentation mask.
    pub mask: Option<MaskScores>,
}

/// The multi-source metrics of the SSL-align paper, each from the plain and the adaptive
/// cIoU: the fraction of pairs with cIoU ≥ 0.5 and its AUC, and the interactive ones
/// over images (IIoU@0.5, IAUC). Fractions in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InteractiveMetrics {
    pub pairs: usize,
    pub images: usize,
    pub ciou50: f64,
    pub auc: f64,
    pub iiou50: f64,
    pub iauc: f64,
    pub adaptive_ciou50: f64,
    pub adaptive_auc: f64,
    pub adaptive_iiou50: f64,
    pub adaptive_iauc: f64,
    /// Over the pairs, when every pair has a mask: mean IoU of the median and the
    /// adaptive prediction, AVSBench's F-score.
    pub segmentation: Option<[f64; 3]>,
}

impl InteractiveMetrics {
    pub fn of(pairs: &[ScoredPair]) -> InteractiveMetrics {
        let sources = |adaptive: bool| -> Vec<SourceResult> {
            pairs
                .iter()
                .map(|p| SourceResult {
                    image: p.image.clone(),
                    ciou: if adaptive { p.scores.adaptive_ciou } else { p.scores.ciou },
                })
                .collect()
        };
        let (plain, adaptive) = (sources(false), sources(true));
        let at_least = |r: &[SourceResult], t: f64| r.iter().filter(|s| s.ciou >= t).count() as f64 / r.len() as f64;
        InteractiveMetrics {
            pairs: pairs.len(),
            images: pairs.iter().map(|p| p.image.as_str()).collect::<std::collections::BTreeSet<_>>().len(),
            ciou50: at_least(&plain, 0.5),
            auc: trapezoid_auc(|t| at_least(&plain, t)),
            iiou50: iiou(&plain, 0.5),
            iauc: iauc(&plain),
            adaptive_ciou50: at_least(&adaptive, 0.5),
            adaptive_auc: trapezoid_auc(|t| at_least(&adaptive, t)),
            adaptive_iiou50: iiou(&adaptive, 0.5),
            adaptive_iauc: iauc(&adaptive),
            segmentation: segmentation(pairs),
        }
    }

    /// The metrics under the names `metrics.json` uses.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "pairs": self.pairs,
            "images": self.images,
            "cIoU@50": self.ciou50,
            "AUC": self.auc,
            "IIoU@50": self.iiou50,
            "IAUC": self.iauc,
            "adaptive_cIoU@50": self.adaptive_ciou50,
            "adaptive_AUC": self.adaptive_auc,
            "adaptive_IIoU@50": self.adaptive_iiou50,
            "adaptive_IAUC": self.adaptive_iauc,
        });
        if let Some([miou, adaptive_miou, f]) = self.segmentation {
            out["mIoU"] = miou.into();
            out["adaptive_mIoU"] = adaptive_miou.into();
            out["F-score"] = f.into();
        }
        out
    }
}

fn segmentation(pairs: &[ScoredPair]) -> Option<[f64; 3]> {
    let masks: Vec<&MaskScores> = pairs.iter().map(|p| p.mask.as_ref()).collect::<Option<_>>()?;
    let mean = |f: &dyn Fn(&MaskScores) -> f64| masks.iter().map(|m| f(m)).sum::<f64>() / masks.len() as f64;
    let curves: Vec<Vec<f64>> = masks.iter().filter_map(|m| m.f_curve.clone()).collect();
    Some([mean(&|m| m.iou), mean(&|m| m.adaptive_iou), f_score(&curves)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(image: &str, ciou: f64) -> SourceResult {
        SourceResult { image: image.into(), ciou }
    }

    use crate::gt::{BoxFormat, MAP_SIZE, PixelBox};

    fn gt(b: [i64; 4]) -> GtMap {
        GtMap::from_boxes(&[PixelBox { xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] }], BoxFormat::Vggss)
    }

    /// 1 inside the box, `outside` elsewhere.
    fn box_map(b: [usize; 4], outside: f32) -> Vec<f32> {
        (0..MAP_SIZE * MAP_SIZE)
            .map(|i| {
                let (y, x) = (i / MAP_SIZE, i % MAP_SIZE);
                if (b[1]..b[3]).contains(&y) && (b[0]..b[2]).contains(&x) { 1.0 } else { outside }
            })
            .collect()
    }

    #[test]
    fn thresholds_are_strict_as_in_the_script() {
        // A map that is exactly the box: the median is the background level, so the
        // prediction is the box (cIoU 1); the adaptive threshold is the box's own level
        // and nothing lies strictly above it (cIoU 0).
        let s = score_pair(&box_map([10, 20, 60, 70], 0.0), &gt([10, 20, 60, 70]));
        assert_eq!(s, PairScores { ciou: 1.0, adaptive_ciou: 0.0 });
        // Distinct values rising row by row: the top B − 1 pixels are the last rows.
        let ramp: Vec<f32> = (0..MAP_SIZE * MAP_SIZE).map(|i| i as f32).collect();
        let s = score_pair(&ramp, &gt([0, 200, 224, 224]));
        let b = 24.0 * 224.0;
        assert!((s.adaptive_ciou - (b - 1.0) / b).abs() < 1e-15, "{s:?}");
        // Median: 25088 − 1 pixels above it, 5376 of them inside the box.
        let predicted = (MAP_SIZE * MAP_SIZE / 2 - 1) as f64;
        assert!((s.ciou - b / (b + predicted - b)).abs() < 1e-15, "{s:?}");
        // No ground truth: the adaptive budget is half the map.
        let s = score_pair(&ramp, &GtMap::empty());
        assert_eq!((s.ciou, s.adaptive_ciou), (0.0, 0.0));
    }

    #[test]
    fn pairs_group_by_image_and_the_metrics_follow() {
        assert_eq!(image_of_pair("accordion_baby_10467_accordion"), "accordion_baby_10467");
        assert_eq!(image_of_pair("plain"), "");
        assert_eq!(image_of_pair("helicopter/0d9u2CymIxc/0d9u2CymIxc_1"), "0d9u2CymIxc");
        assert_eq!(image_of_pair("rq5RDUm2Hnk_1/rq5RDUm2Hnk_1.mp4_3"), "rq5RDUm2Hnk_1.mp4");
        let pair = |name: &str, ciou: f64, adaptive_ciou: f64| ScoredPair {
            mask: None,
            name: name.into(),
            image: image_of_pair(name).into(),
            scores: PairScores { ciou, adaptive_ciou },
        };
        // Image a: both sources found; b: the violin found, the dog not (the map showed the
        // violin for the dog's sound too).
        let pairs =
            [pair("a_1_x", 0.9, 0.8), pair("a_1_y", 0.6, 0.3), pair("b_2_violin", 0.7, 0.7), pair("b_2_dog", 0.1, 0.6)];
        let m = InteractiveMetrics::of(&pairs);
        assert_eq!((m.pairs, m.images), (4, 2));
        assert_eq!(m.ciou50, 0.75);
        assert_eq!(m.iiou50, 0.5);
        assert_eq!(m.adaptive_ciou50, 0.75);
        assert_eq!(m.adaptive_iiou50, 0.5);
        // IAUC by hand: image a passes t ≤ 0.6, b passes t ≤ 0.1.
        let by_hand = trapezoid_auc(|t| (f64::from(u8::from(0.6 >= t)) + f64::from(u8::from(0.1 >= t))) / 2.0);
        assert!((m.iauc - by_hand).abs() < 1e-15);
        assert!(m.iauc < m.auc, "interactivity is the harder measure");
    }

    #[test]
    fn an_image_counts_only_if_every_source_is_found() {
        // Image a: both sources localised; b: one right, one wrong; c: one source, right.
        let results = [r("a", 0.8), r("a", 0.6), r("b", 0.9), r("b", 0.1), r("c", 0.7)];
        assert_eq!(iiou(&results, 0.5), 2.0 / 3.0);
        assert_eq!(iiou(&results, 0.05), 1.0);
        assert_eq!(iiou(&[r("x", f64::NAN), r("x", 0.9)], 0.0), 0.0);
        // Every image perfect: IAUC = 1; every image at cIoU 0: only the t = 0 point counts.
        assert!((iauc(&[r("a", 1.0), r("b", 1.0)]) - 1.0).abs() < 1e-12);
        assert!((iauc(&[r("a", 0.0)]) - 0.025).abs() < 1e-12);
    }
}
