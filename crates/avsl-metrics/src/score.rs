//! One sample's scoring in the authors' protocol (docs/method.md §5, §7 items 16–21): maps to
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

/// The thresholding rule of the binary prediction (docs/method.md §7 item 19).
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

/// EZ-VSL's `normalize_img`: (x − min)/(max − min) in float32, unchanged when max = min.
pub fn min_max_normalize(map: &[f32]) -> Vec<f32> {
    let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi - lo == 0.0 { map.to_vec() } else { map.iter().map(|&x| (x - lo) / (hi - lo)).collect() }
}

/// `scores_av · α + scores_obj · (1 − α)` in float32 (α and 1 − α rounded from float64).
pub fn blend(av: &[f32], obj: &[f32], alpha: f64) -> Vec<f32> {
    let (a, b) = (alpha as f32, (1.0 - alpha) as f32);
    av.iter().zip(obj).map(|(&x, &y)| x * a + y * b).collect()
}

/// A score map with its values in ascending order (computed once per map: confidence,
/// the relative threshold and the adaptive budget all read ranks of the same sort).
pub struct RankedScores<'a> {
    pub scores: &'a [f32],
    pub sorted: Vec<f32>,
}

impl<'a> RankedScores<'a> {
    pub fn new(scores: &'a [f32]) -> RankedScores<'a> {
        let mut sorted = scores.to_vec();
        sort_f32(&mut sorted);
        RankedScores { scores, sorted }
    }

    /// Mean of the largest ⌊n/4⌋ scores: `np.sort(s)[-n//4:].mean()` (float32, pairwise
    /// over the ascending top quarter).
    pub fn confidence(&self) -> f32 {
        let top = &self.sorted[self.sorted.len() - self.sorted.len() / 4..];
        // float32 sum; the division by the count is correctly rounded either way.
        (pairwise_sum(top) as f64 / top.len() as f64) as f32
    }

    /// The binary prediction map.
    pub fn binary_prediction(&self, rule: Prediction) -> Vec<bool> {
        match rule {
            Prediction::Fixed { threshold } => {
                let t = threshold as f32;
                self.scores.iter().map(|&s| s >= t).collect()
            }
            Prediction::Relative { size } => {
                // pred = (s − min)/(max − min) is monotone in s, so `np.sort(pred)[k]` is
                // the transform of the k-th smallest score.
                let (lo, hi) = (self.sorted[0], self.sorted[self.sorted.len() - 1]);
                let norm = |s: f32| if hi - lo != 0.0 { (s - lo) / (hi - lo) } else { s };
                let thr = norm(self.sorted[((self.sorted.len() as f64) * size) as usize]);
                self.scores.iter().map(|&s| norm(s) >= thr).collect()
            }
        }
    }

    /// Adaptive cIoU ("Aligning Sight and Sound"): the prediction is the B highest-scoring
    /// pixels, B = the ground-truth area (rounded half up for Flickr's half-integer
    /// areas); among equal scores the first pixels win. NaN when the map is empty.
    pub fn adaptive_ciou(&self, gt: &GtMap, area: f64) -> f64 {
        let n = self.scores.len();
        let budget = ((area + 0.5).floor() as usize).min(n);
        if budget == 0 {
            return f64::NAN;
        }
        let cut = self.sorted[n - budget];
        let mut ties = budget - self.sorted[n - budget..].iter().filter(|&&v| v > cut).count();
        let pred: Vec<bool> = self
            .scores
            .iter()
            .map(|&s| {
                if s > cut {
                    true
                } else if s == cut && ties > 0 {
                    ties -= 1;
                    true
                } else {
                    false
                }
            })
            .collect();
        ciou(&pred, gt)
    }
}

/// Mean of the largest ⌊n/4⌋ scores (see [`RankedScores::confidence`]).
pub fn confidence(scores: &[f32]) -> f32 {
    RankedScores::new(scores).confidence()
}

/// The binary prediction map (see [`RankedScores::binary_prediction`]).
pub fn binary_prediction(scores: &[f32], rule: Prediction) -> Vec<bool> {
    RankedScores::new(scores).binary_prediction(rule)
}

/// Adaptive cIoU of a score map (see [`RankedScores::adaptive_ciou`]).
pub fn adaptive_ciou(scores: &[f32], gt: &GtMap) -> f64 {
    RankedScores::new(scores).adaptive_ciou(gt, gt.area())
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

/// Scores one sample from its 224×224 score map: (cIoU, confidence, adaptive cIoU).
/// `area` is the ground truth's Σg.
pub fn score_sample(scores: &[f32], gt: &GtMap, area: f64, rule: Prediction) -> (f64, f32, f64) {
    let ranked = RankedScores::new(scores);
    let pred = ranked.binary_prediction(rule);
    (ciou(&pred, gt), ranked.confidence(), ranked.adaptive_ciou(gt, area))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gt::{BoxFormat, PixelBox};

    /// The definition, directly: order pixels by score (ties by index), keep the top B.
    fn adaptive_by_full_order(scores: &[f32], gt: &GtMap) -> f64 {
        let budget = ((gt.area() + 0.5).floor() as usize).min(scores.len());
        if budget == 0 {
            return f64::NAN;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut pred = vec![false; scores.len()];
        for &i in &order[..budget] {
            pred[i] = true;
        }
        ciou(&pred, gt)
    }

    #[test]
    fn adaptive_ciou_matches_its_definition_with_ties() {
        for seed in 0..20u32 {
            // Coarsely quantised scores: many ties at the cut.
            let scores: Vec<f32> =
                (0..PIXELS as u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 7) as f32).collect();
            let b = PixelBox { xmin: seed as i64, ymin: 3, xmax: 100 + seed as i64, ymax: 150 };
            for format in [BoxFormat::Vggss, BoxFormat::Flickr] {
                let gt = GtMap::from_boxes(&[b, PixelBox { xmin: 50, ymin: 50, xmax: 200, ymax: 90 }], format);
                assert_eq!(adaptive_ciou(&scores, &gt).to_bits(), adaptive_by_full_order(&scores, &gt).to_bits());
            }
        }
    }

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
