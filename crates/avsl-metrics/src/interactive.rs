//! Interactive (multi-source) localisation ("Aligning Sight and Sound", §4): an image
//! with several sound sources counts as localised only if every source is localised with
//! its own audio.

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
    let y: Vec<f64> = (0..21).map(|i| iiou(results, 0.05 * i as f64)).collect();
    (0..20).map(|i| 0.05 * (y[i] + y[i + 1]) / 2.0).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(image: &str, ciou: f64) -> SourceResult {
        SourceResult { image: image.into(), ciou }
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
