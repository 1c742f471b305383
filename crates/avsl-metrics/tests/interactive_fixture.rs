//! The per-pair scoring against tools/make_interactive_fixtures.py (numpy, and PyTorch's
//! bilinear upsampling): every pair's cIoU and adaptive cIoU, and the summary; IS3 pairs,
//! and pairs named as AVSBench and VPO name them, with empty boxes.

use avsl_metrics::interactive::{InteractiveMetrics, ScoredPair, image_of_pair, score_pair};
use avsl_metrics::{BoxFormat, GtMap, PixelBox};

fn check(fixture: &str) {
    let path = format!("{}/../../tests/fixtures/metrics/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats =
        |v: &serde_json::Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let names: Vec<&str> = f["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    let mut pairs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let map: Vec<f32> = floats(&f["maps"][i]).into_iter().map(|v| v as f32).collect();
        let b: Vec<i64> = floats(&f["boxes"][i]).into_iter().map(|v| v as i64).collect();
        let gt = GtMap::from_boxes(&[PixelBox { xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] }], BoxFormat::Vggss);
        let grid = avsl_metrics::upsample::bilinear(&map, 7, 7, 224, 224, true);
        let scores = score_pair(&grid, &gt);
        assert_eq!(scores.ciou, f["ciou"][i].as_f64().unwrap(), "cIoU of {name}");
        assert_eq!(scores.adaptive_ciou, f["adaptive_ciou"][i].as_f64().unwrap(), "adaptive cIoU of {name}");
        pairs.push(ScoredPair { name: name.to_string(), image: image_of_pair(name).to_string(), scores, mask: None });
    }
    let ours = InteractiveMetrics::of(&pairs).to_json();
    for (key, expected) in f["metrics"].as_object().unwrap() {
        let (a, b) = (ours[key].as_f64().unwrap(), expected.as_f64().unwrap());
        assert!((a - b).abs() < 1e-12, "{fixture} {key}: {a} vs {b}");
    }
    assert_eq!(ours["images"], f["images"], "{fixture}: images by the script's grouping");
}

#[test]
fn is3_scoring_matches_the_reference() {
    check("is3.json");
}

#[test]
fn avsbench_and_vpo_names_and_empty_boxes_match_the_reference() {
    check("source_sets.json");
}
