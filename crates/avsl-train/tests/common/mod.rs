//! Comparisons with the PyTorch fixtures' summaries, shared by the fixture tests.
#![allow(dead_code)]

use serde_json::Value;

/// Compares our values with a fixture summary (first values, sum, sum of |x|): values
/// within `atol + rtol·max|x|`, sums within max(rtol, 1e-4) of the sum of |x| plus `atol`.
pub fn assert_summary(label: &str, ours: &[f32], expected: &Value, rtol: f64, atol: f64) {
    assert_summary_with_sums(label, ours, expected, rtol, atol, atol);
}

/// As [`assert_summary`], with the sums' absolute tolerance `sum_atol` of its own.
pub fn assert_summary_with_sums(label: &str, ours: &[f32], expected: &Value, rtol: f64, atol: f64, sum_atol: f64) {
    let head: Vec<f64> = expected["head"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let scale = head.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = head.iter().zip(ours).map(|(e, &o)| (e - o as f64).abs()).fold(0.0f64, f64::max);
    println!("{label}: max |ours - torch| = {worst:e} (scale {scale:e})");
    assert!(worst <= atol + rtol * scale, "{label}: {worst} > {atol} + {rtol}·{scale}");
    let abs_sum = expected["abs_sum"].as_f64().unwrap();
    let sum: f64 = ours.iter().map(|&v| v as f64).sum();
    let ours_abs: f64 = ours.iter().map(|&v| (v as f64).abs()).sum();
    let sum_tol = rtol.max(1e-4) * abs_sum + sum_atol;
    assert!((sum - expected["sum"].as_f64().unwrap()).abs() <= sum_tol, "{label}: sum {sum}");
    assert!((ours_abs - abs_sum).abs() <= sum_tol, "{label}: sum of |x| {ours_abs} vs {abs_sum}");
}
