//! One sample's scoring in the authors' protocol (METHOD.md §5, §7 items 16–21): maps to
//! scores, the blend, confidence, the binary prediction and cIoU. Float32 where the
//! reference computes in float32, float64 where it computes in float64.

use crate::gt::{GtMap, MAP_SIZE};
use crate::numeric::{pairwise_sum, sort_f32};
use crate::upsample;

pub const PIXELS: usize = MAP_SIZE * MAP_SIZE;

/// How a map's values are turned into scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapKind {
    /// Raw similarity logits S in [−1/τ, 1/τ] (SLAVC, EZ-VSL): `(S + 1/τ) / (2/τ)`.
    Logits,
    /// Already scores: used as they are.
    Scores,
}

/// The thresholding rule of the binary prediction (METHOD.md §7 item 19).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    /// Min–max normalise, then keep the top half: threshold `sort(pred)[⌊n·size⌋]`.
    Relative { size: f64 },
    /// Keep pixels whose score is ≥ the threshold.
    Fixed { threshold: f64 },
}

/// Upsamples any `[h, w]` map to 224×224 with PyTorch's bicubic (a 224×224 map is kept).
pub fn to_grid(map: &[f32], h: usize, w: usize, align_corners: bool) -> Vec<f32> {
    if (h, w) == (MAP_SIZE, MAP_SIZE) {
        map.to_vec()
    } else {
        upsample::bicubic(map, h, w, MAP_SIZE, MAP_SIZE, align_corners)
    }
}

/// `min_max_norm(x, −1/τ, 1/τ)` as numpy computes it: float32 array, Python-float bounds.
pub fn logits_to_scores(map: &[f32], tau: f64) -> Vec<f32> {
    let (lo, hi) = (-1.0 / tau, 1.0 / tau);
    let (lo32, span32) = (lo as f32, (hi - lo) as f32);
    map.iter().map(|&x| (x - lo32) / span32).collect()
}

/// The object-saliency map scored as `min_max_norm(x, 0, 2.5)`.
pub fn object_to_scores(map: &[f32]) -> Vec<f32> {
    map.iter().map(|&x| (x - 0.0) / 2.5f32).collect()
}

/// `scores_av · α + scores_obj · (1 − α)` in float32 (α and 1 − α rounded from float64).
pub fn blend(av: &[f32], obj: &[f32], alpha: f64) -> Vec<f32> {
    let (a, b) = (alpha as f32, (1.0 - alpha) as f32);
    av.iter().zip(obj).map(|(&x, &y)| x * a + y * b).collect()
}

/// Mean of the largest ⌊n/4⌋ scores: `np.sort(s)[-n//4:].mean()` (float32, pairwise).
pub fn confidence(scores: &[f32]) -> f32 {
    let mut sorted = scores.to_vec();
    sort_f32(&mut sorted);
    let top = &sorted[sorted.len() - sorted.len() / 4..];
    // float32 sum; the division by the count is correctly rounded either way.
    (pairwise_sum(top) as f64 / top.len() as f64) as f32
}

/// The binary prediction map.
pub fn binary_prediction(scores: &[f32], rule: Prediction) -> Vec<bool> {
    match rule {
        Prediction::Fixed { threshold } => {
            let t = threshold as f32;
            scores.iter().map(|&s| s >= t).collect()
        }
        Prediction::Relative { size } => {
            let (lo, hi) = scores.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            let pred: Vec<f32> =
                if hi - lo != 0.0 { scores.iter().map(|&s| (s - lo) / (hi - lo)).collect() } else { scores.to_vec() };
            let mut sorted = pred.clone();
            sort_f32(&mut sorted);
            let thr = sorted[((pred.len() as f64) * size) as usize];
            pred.iter().map(|&p| p >= thr).collect()
        }
    }
}

/// cIoU = Σ(b·g) / (Σg + Σ b·[g = 0]); NaN for 0/0 (an empty prediction on an empty map).
pub fn ciou(pred: &[bool], gt: &GtMap) -> f64 {
    let (mut inter, mut outside, mut area) = (0.0f64, 0.0f64, 0.0f64);
    for (&b, &g) in pred.iter().zip(&gt.values) {
        area += g;
        if b {
            if g == 0.0 {
                outside += 1.0;
            } else {
                inter += g;
            }
        }
    }
    inter / (area + outside)
}

/// Adaptive cIoU ("Aligning Sight and Sound"): the prediction is the B highest-scoring
/// pixels, B = the ground-truth area (rounded half up for Flickr's half-integer areas);
/// ties broken by pixel order. NaN when the map is empty.
pub fn adaptive_ciou(scores: &[f32], gt: &GtMap) -> f64 {
    let budget = (gt.area() + 0.5).floor() as usize;
    if budget == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut pred = vec![false; scores.len()];
    for &i in &order[..budget.min(scores.len())] {
        pred[i] = true;
    }
    ciou(&pred, gt)
}

/// Everything the evaluator keeps of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleResult {
    pub name: String,
    pub video: String,
    pub audio: String,
    /// Number of annotated boxes (0 for non-sounding samples).
    pub bb: usize,
    /// Ground-truth area Σg in pixels.
    pub area: f64,
    pub ciou: f64,
    pub conf: f32,
    pub adaptive_ciou: f64,
}

/// Scores one sample from its 224×224 score map.
pub fn score_sample(scores: &[f32], gt: &GtMap, rule: Prediction) -> (f64, f32, f64) {
    let pred = binary_prediction(scores, rule);
    (ciou(&pred, gt), confidence(scores), adaptive_ciou(scores, gt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gt::{BoxFormat, PixelBox};

    #[test]
    fn perfect_map_gives_ciou_one() {
        let gt = GtMap::from_boxes(&[PixelBox { xmin: 0, ymin: 0, xmax: 224, ymax: 112 }], BoxFormat::Vggss);
        let scores: Vec<f32> = (0..PIXELS).map(|i| if i < PIXELS / 2 { 0.9 } else { 0.1 }).collect();
        assert_eq!(ciou(&binary_prediction(&scores, Prediction::Relative { size: 0.5 }), &gt), 1.0);
        assert_eq!(adaptive_ciou(&scores, &gt), 1.0);
        assert_eq!(ciou(&binary_prediction(&scores, Prediction::Fixed { threshold: 0.5 }), &gt), 1.0);
    }

    #[test]
    fn constant_map_predicts_everything_and_negatives_give_nan_or_zero() {
        let scores = vec![0.3f32; PIXELS];
        let pred = binary_prediction(&scores, Prediction::Relative { size: 0.5 });
        assert!(pred.iter().all(|&b| b), "max == min: unchanged, every pixel ≥ the threshold");
        assert_eq!(ciou(&pred, &GtMap::empty()), 0.0);
        assert!(ciou(&vec![false; PIXELS], &GtMap::empty()).is_nan());
        assert!((confidence(&scores) - 0.3).abs() < 1e-7);
    }
}
