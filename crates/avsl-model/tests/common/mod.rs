//! Shared by the fixture tests.

use avsl_model::kernels::Kernels;
use burn::tensor::Device;

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
