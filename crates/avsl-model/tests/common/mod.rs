//! Shared by the fixture tests (each test file uses a part of it).
#![allow(dead_code)]

use avsl_model::kernels::Kernels;
use burn::tensor::Device;
use serde_json::Value;

/// Where a test of `kernels` runs: host kernels on burn's CPU backend; device kernels
/// there too, or with `AVSL_TEST_DEVICE=cuda[:N]` in a build with the `cuda` feature on
/// that GPU (`tools/gpu_check.sh` runs the fixture tests so).
pub fn device_for(kernels: Kernels) -> Device {
    let requested = std::env::var("AVSL_TEST_DEVICE").unwrap_or_default();
    if kernels == Kernels::Host || requested.is_empty() || requested == "cpu" {
        return Device::flex();
    }
    cuda(&requested)
}

#[cfg(feature = "cuda")]
fn cuda(name: &str) -> Device {
    let index = name.strip_prefix("cuda").map(|r| r.trim_start_matches(':')).unwrap_or_default();
    Device::cuda(index.parse::<usize>().unwrap_or(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda(name: &str) -> Device {
    panic!("AVSL_TEST_DEVICE={name}: this build has no CUDA backend (build the tests with --features cuda)")
}

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
