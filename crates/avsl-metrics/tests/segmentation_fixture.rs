//! AVSBench's mask metrics against an independent PyTorch implementation
//! (`tools/make_segmentation_fixtures.py`): per-sample IoU, the F-measure levels, the mean
//! curve and its maximum.

use std::path::Path;

use avsl_metrics::segmentation::{f_levels, f_measure_curve, f_score, mask_iou};
use serde_json::Value;

#[test]
fn mask_metrics_match_the_pytorch_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/metrics/segmentation.json");
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats = |v: &Value| -> Vec<f32> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect() };
    let bools = |v: &Value| -> Vec<bool> { v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap() != 0).collect() };
    let rows = |key: &str| f[key].as_array().unwrap().clone();
    assert_eq!(f_levels(), floats(&f["levels"]), "torch.linspace(0, 1 - 1e-10, 255) in float32, bit for bit");
    let levels = f_levels();
    let mut curves = Vec::new();
    for (i, ((map, mask), pred)) in rows("maps").iter().zip(rows("masks")).zip(rows("preds")).enumerate() {
        let (map, mask, pred) = (floats(map), bools(&mask), bools(&pred));
        let iou = mask_iou(&pred, &mask);
        let expected = f["iou"][i].as_f64().unwrap();
        assert!((iou - expected).abs() < 1e-6, "sample {i}: IoU {iou} vs {expected}");
        curves.extend(f_measure_curve(&map, &mask, &levels));
    }
    assert_eq!(curves.len(), 6, "the sample with an empty mask is left out of the F-measure");
    let mean: Vec<f64> = (0..levels.len()).map(|l| curves.iter().map(|c| c[l]).sum::<f64>() / 6.0).collect();
    for (l, (ours, theirs)) in mean.iter().zip(floats(&f["f_curve"])).enumerate() {
        assert!((ours - theirs as f64).abs() < 1e-6, "level {l}: {ours} vs {theirs}");
    }
    let score = f_score(&curves);
    assert!((score - f["f_score"].as_f64().unwrap()).abs() < 1e-6, "F-score {score}");
}
