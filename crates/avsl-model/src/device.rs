//! Device names as the command line and the tests spell them: which burn backend runs the
//! model.

use burn::tensor::Device;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("--device {0}: expected cpu, cuda or cuda:N")]
    Unknown(String),
    #[error("--device {0}: the GPU index must be a number (cuda:0)")]
    Index(String),
    #[error(
        "--device {name}: no usable CUDA GPU {index} (the NVIDIA driver's libcuda could not be loaded, or there \
         is no such GPU)"
    )]
    Unusable { name: String, index: usize },
    #[error("--device {0}: this build of avsl has no CUDA backend; build it with `--features cuda` (docs/gpu.md)")]
    NoCuda(String),
}

/// `cpu` (or `flex`): burn's pure-Rust CPU backend; `cuda` or `cuda:N` (builds with the
/// `cuda` feature): the N-th CUDA GPU.
pub fn parse_device(name: &str) -> Result<Device, DeviceError> {
    if name == "cpu" || name == "flex" {
        return Ok(Device::flex());
    }
    let Some(index) = name.strip_prefix("cuda").map(|rest| rest.strip_prefix(':').unwrap_or(rest)) else {
        return Err(DeviceError::Unknown(name.to_string()));
    };
    let index: usize =
        if index.is_empty() { 0 } else { index.parse().map_err(|_| DeviceError::Index(name.to_string()))? };
    cuda_device(name, index)
}

/// One device, or several separated by commas for data-parallel training (`cuda:0,cuda:1`;
/// `cpu,cpu` runs two replicas on the CPU).
pub fn parse_devices(names: &str) -> Result<Vec<Device>, DeviceError> {
    names.split(',').map(|name| parse_device(name.trim())).collect()
}

/// The GPU, after one tiny operation on it: burn reports a missing driver or GPU by a
/// panic in its device thread at first use, which becomes an error naming the device here.
#[cfg(feature = "cuda")]
fn cuda_device(name: &str, index: usize) -> Result<Device, DeviceError> {
    let device = Device::cuda(index);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let usable = std::panic::catch_unwind(|| burn::tensor::Tensor::<1>::zeros([1], &device).into_data()).is_ok();
    std::panic::set_hook(hook);
    if !usable {
        return Err(DeviceError::Unusable { name: name.to_string(), index });
    }
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(name: &str, _index: usize) -> Result<Device, DeviceError> {
    Err(DeviceError::NoCuda(name.to_string()))
}

/// Where a fixture test of `kernels` runs: host kernels on burn's CPU backend; device
/// kernels there too, or on the device the `AVSL_TEST_DEVICE` variable names (`cuda:N` in
/// a build with the `cuda` feature; `tools/gpu_check.sh` runs the fixture tests so).
pub fn test_device(kernels: crate::kernels::Kernels) -> Device {
    let requested = std::env::var("AVSL_TEST_DEVICE").unwrap_or_default();
    if kernels == crate::kernels::Kernels::Host || requested.is_empty() {
        return Device::flex();
    }
    parse_device(&requested).unwrap_or_else(|e| panic!("AVSL_TEST_DEVICE: {e}"))
}
