//! Invariants of the metrics, on random inputs (proptest).

use avsl_metrics::evaluate::{Subset, SubsetMetrics, ap_exact, evaluate, precision_recall, reported_subsets};
use avsl_metrics::score::{PIXELS, binary_prediction, ciou};
use avsl_metrics::{BoxFormat, GtMap, PixelBox, Prediction, SampleResult};
use proptest::prelude::*;

fn sample() -> impl Strategy<Value = SampleResult> {
    (0usize..4, 0.0f64..50_176.0, prop_oneof![Just(f64::NAN), 0.0f64..=1.0], 0.0f32..1.0).prop_map(
        |(bb, area, ciou, conf)| SampleResult {
            name: "s".into(),
            video: "v".into(),
            audio: "a".into(),
            bb,
            area: if bb > 0 { area.floor() } else { 0.0 },
            ciou,
            conf,
            adaptive_ciou: ciou,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn precision_and_recall_stay_in_unit_interval(rows in prop::collection::vec(sample(), 1..300), thr in -0.5f32..1.5) {
        let refs: Vec<&SampleResult> = rows.iter().collect();
        for iou in [0.5, 0.75] {
            let (p, r) = precision_recall(&refs, thr, iou);
            prop_assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&r));
        }
    }

    #[test]
    fn row_order_changes_no_metric(rows in prop::collection::vec(sample(), 1..300), seed in 0u64..1000) {
        let mut shuffled = rows.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = ((seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 1442695040888963407)) >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let a = evaluate(&rows, &reported_subsets());
        let b = evaluate(&shuffled, &reported_subsets());
        prop_assert_eq!(a.len(), b.len());
        for ((sa, ma), (sb, mb)) in a.iter().zip(&b) {
            prop_assert_eq!(sa, sb);
            prop_assert_eq!(format!("{ma:?}"), format!("{mb:?}"));
        }
    }

    #[test]
    fn perfect_ranking_has_exact_ap_one(n_pos in 1usize..100, n_neg in 0usize..100) {
        // Every positive localised and more confident than every negative.
        let mut rows = Vec::new();
        for i in 0..n_pos {
            rows.push(SampleResult { name: format!("p{i}"), video: String::new(), audio: String::new(), bb: 1, area: 2000.0, ciou: 0.9, conf: 0.6 + 0.3 * i as f32 / n_pos as f32, adaptive_ciou: 0.9 });
        }
        for i in 0..n_neg {
            rows.push(SampleResult { name: format!("n{i}"), video: String::new(), audio: String::new(), bb: 0, area: 0.0, ciou: 0.0, conf: 0.5 * i as f32 / (n_neg.max(1)) as f32, adaptive_ciou: f64::NAN });
        }
        let refs: Vec<&SampleResult> = rows.iter().collect();
        prop_assert_eq!(ap_exact(&refs, 0.5), 1.0);
        let m = SubsetMetrics::compute(&refs);
        prop_assert_eq!(m.loc_acc[0], 1.0);
        prop_assert_eq!(m.max_f1_exact[0], 1.0);
    }

    #[test]
    fn a_map_equal_to_its_box_gives_ciou_one(x0 in 0i64..200, y0 in 0i64..200, w in 1i64..224, h in 1i64..224) {
        let b = PixelBox { xmin: x0, ymin: y0, xmax: (x0 + w).min(224), ymax: (y0 + h).min(224) };
        let gt = GtMap::from_boxes(&[b], BoxFormat::Vggss);
        let scores: Vec<f32> = gt.values.iter().map(|&g| g as f32).collect();
        prop_assert_eq!(ciou(&binary_prediction(&scores, Prediction::Fixed { threshold: 0.5 }), &gt), 1.0);
        prop_assert_eq!(scores.len(), PIXELS);
    }
}

#[test]
fn empty_subsets_are_omitted() {
    let rows = vec![SampleResult {
        name: "n".into(),
        video: "v".into(),
        audio: "a".into(),
        bb: 0,
        area: 0.0,
        ciou: f64::NAN,
        conf: 0.3,
        adaptive_ciou: f64::NAN,
    }];
    let m = evaluate(&rows, &reported_subsets());
    assert_eq!(m.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![Subset::All]);
}
