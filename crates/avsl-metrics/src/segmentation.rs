//! Mask metrics of audio-visual segmentation as AVSBench defines them (Zhou et al.,
//! ECCV 2022; their `utility.py`), which "Aligning Sight and Sound" (§4.8, Tables XIII and
//! XIV) applies to localisation maps on IS3: per-sample Jaccard index (mIoU) of a binary
//! prediction, and the F-measure (β² = 0.3) of a [0, 1] map thresholded at 255 levels,
//! averaged over samples per level, its maximum over levels.
//!
//! AVSBench's predictions are logits, so its code applies a sigmoid first (`> 0.5` for
//! mIoU, before the thresholds for F). A localisation map is no logit: the binary
//! predictions here are the multi-source script's (the min-max map above its median, or
//! its top B pixels), and the F-measure takes the min-max normalised map itself; a sigmoid
//! of [0, 1] values would squeeze the map into [0.5, 0.73] and leave half the levels empty.

/// Levels of the F-measure.
pub const F_LEVELS: usize = 255;
/// AVSBench's β² (precision weighted over recall).
pub const BETA2: f64 = 0.3;

/// AVSBench's `mask_iou` of one sample: |pred ∩ gt| / |pred ∪ gt|; a sample whose mask is
/// empty scores the true negatives over all pixels instead (1 for an empty prediction).
pub fn mask_iou(pred: &[bool], gt: &[bool]) -> f64 {
    assert_eq!(pred.len(), gt.len(), "prediction and mask must have the same pixels");
    let count = |f: &dyn Fn(bool, bool) -> bool| pred.iter().zip(gt).filter(|&(&p, &g)| f(p, g)).count() as f64;
    let (inter, union) = if gt.iter().any(|&g| g) {
        (count(&|p, g| p && g), count(&|p, g| p || g))
    } else {
        (count(&|p, g| !p && !g), pred.len() as f64)
    };
    inter / (union + 1e-7)
}

/// `torch.linspace(0, 1 - 1e-10, 255)` in float32: a float32 step, the first half filled
/// forward from the start and the second half backward from the end, each value rounded
/// once (torch's kernel fuses the multiply and add; float32 operations one by one differ
/// in the last bit at 20 of the 255 levels).
pub fn f_levels() -> Vec<f32> {
    let end = (1.0 - 1e-10) as f32;
    let step = (end / (F_LEVELS - 1) as f32) as f64;
    let half = F_LEVELS / 2;
    (0..F_LEVELS)
        .map(|i| if i < half { step * i as f64 } else { end as f64 - step * (F_LEVELS - i - 1) as f64 } as f32)
        .collect()
}

/// One sample's F-measure at every level: precision and recall of `map ≥ level` against
/// the mask (each with AVSBench's 1e-20 in the denominator), F = (1 + β²)·P·R/(β²·P + R),
/// 0 where that is 0/0. `None` for an empty mask (AVSBench leaves those samples out).
pub fn f_measure_curve(map: &[f32], gt: &[bool], levels: &[f32]) -> Option<Vec<f64>> {
    assert_eq!(map.len(), gt.len(), "map and mask must have the same pixels");
    let positives = gt.iter().filter(|&&g| g).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let curve = levels
        .iter()
        .map(|&level| {
            let (mut predicted, mut hits) = (0.0f64, 0.0f64);
            for (&v, &g) in map.iter().zip(gt) {
                if v >= level {
                    predicted += 1.0;
                    hits += g as u8 as f64;
                }
            }
            let (p, r) = (hits / (predicted + 1e-20), hits / (positives + 1e-20));
            let f = (1.0 + BETA2) * p * r / (BETA2 * p + r);
            if f.is_nan() { 0.0 } else { f }
        })
        .collect();
    Some(curve)
}

/// AVSBench's F-score of a test set: per level the mean of the samples' curves, then the
/// best level. NaN when no sample has a non-empty mask.
pub fn f_score(curves: &[Vec<f64>]) -> f64 {
    if curves.is_empty() {
        return f64::NAN;
    }
    (0..curves[0].len())
        .map(|l| curves.iter().map(|c| c[l]).sum::<f64>() / curves.len() as f64)
        .fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_hand_made_masks() {
        let gt = [true, true, false, false];
        assert!((mask_iou(&[true, false, true, false], &gt) - 1.0 / 3.0).abs() < 1e-6);
        assert!((mask_iou(&gt, &gt) - 1.0).abs() < 1e-6);
        // An empty mask: the pixels both leave out, over all pixels.
        assert!((mask_iou(&[true, false, false, false], &[false; 4]) - 0.75).abs() < 1e-6);
        assert!((mask_iou(&[false; 4], &[false; 4]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn f_measure_of_a_perfect_and_a_useless_map() {
        let levels = f_levels();
        assert_eq!((levels[0], levels.len()), (0.0, 255));
        assert!((levels[254] - 1.0).abs() < 1e-6 && (levels[127] - 0.5).abs() < 1e-6);
        let gt = [true, false, false, false];
        // The mask itself as a map: precision and recall 1 at every level above 0.
        let perfect = f_measure_curve(&[1.0, 0.0, 0.0, 0.0], &gt, &levels).unwrap();
        assert!((perfect[0] - 1.3 * 0.25 / (0.3 * 0.25 + 1.0)).abs() < 1e-12, "level 0 keeps every pixel");
        assert!(perfect[1..].iter().all(|&f| (f - 1.0).abs() < 1e-12));
        // A map bright where the mask is not: no hit at any level above 0, F = 0 there.
        let wrong = f_measure_curve(&[0.0, 1.0, 1.0, 1.0], &gt, &levels).unwrap();
        assert!(wrong[1..].iter().all(|&f| f == 0.0));
        assert!((f_score(&[perfect.clone(), wrong]) - 0.5).abs() < 1e-12);
        assert_eq!(f_measure_curve(&[1.0; 4], &[false; 4], &levels), None);
        assert!(f_score(&[]).is_nan());
    }
}
