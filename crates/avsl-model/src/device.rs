//! Device names as the command line and the tests spell them: which burn backend runs the
//! model.

use burn::tensor::Device;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("--device {0}: expected cpu, cuda, cuda:N, wgpu, wgpu:N or wgpu:cpu")]
    Unknown(String),
    #[error("--device {0}: the GPU index must be a number (cuda:0, wgpu:0)")]
    Index(String),
    #[error("--device {name}: {runtime} could not start ({why})")]
    Unusable { name: String, runtime: &'static str, why: String },
    #[error(
        "--device {name}: this build of avsl has no {runtime} backend; build it with `--features {feature}` (docs/gpu.md)"
    )]
    NotBuilt { name: String, runtime: &'static str, feature: &'static str },
}

/// `cpu` (or `flex`): burn's pure-Rust CPU backend. Builds with the `cuda` feature:
/// `cuda` or `cuda:N`, the N-th CUDA GPU. Builds with the `wgpu` feature (Vulkan, Metal,
/// DX12 through wgpu): `wgpu`, the adapter wgpu prefers (a GPU if there is one, else a
/// software one such as Mesa's lavapipe); `wgpu:N`, the N-th discrete GPU; `wgpu:cpu`, the
/// software adapter.
pub fn parse_device(name: &str) -> Result<Device, DeviceError> {
    if name == "cpu" || name == "flex" {
        return Ok(Device::flex());
    }
    if let Some(rest) = runtime_suffix(name, "cuda") {
        let index = if rest.is_empty() { 0 } else { gpu_index(name, rest)? };
        return cuda_device(name, index);
    }
    if let Some(rest) = runtime_suffix(name, "wgpu") {
        let adapter = match rest {
            "" => WgpuAdapter::Preferred,
            "cpu" => WgpuAdapter::Software,
            index => WgpuAdapter::Discrete(gpu_index(name, index)?),
        };
        return wgpu_device(name, adapter);
    }
    Err(DeviceError::Unknown(name.to_string()))
}

/// What follows `runtime` in `runtime` or `runtime:X`; None for any other name.
fn runtime_suffix<'a>(name: &'a str, runtime: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(runtime)?;
    if rest.is_empty() { Some(rest) } else { rest.strip_prefix(':') }
}

fn gpu_index(name: &str, index: &str) -> Result<usize, DeviceError> {
    index.parse().map_err(|_| DeviceError::Index(name.to_string()))
}

/// One device, or several separated by commas for data-parallel training (`cuda:0,cuda:1`;
/// `cpu,cpu` runs two replicas on the CPU).
pub fn parse_devices(names: &str) -> Result<Vec<Device>, DeviceError> {
    names.split(',').map(|name| parse_device(name.trim())).collect()
}

/// What runs the model, for logs: the adapter's or GPU's own name on a GPU runtime
/// (`llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H100 PCIe`), `CPU` on burn's CPU backend.
pub fn describe(device: &Device) -> String {
    let device = device.clone().inner();
    if device == Device::flex() {
        return "CPU".to_string();
    }
    #[cfg(any(feature = "cuda", feature = "wgpu"))]
    if let Some(identity) = device.identity() {
        return identity.name;
    }
    format!("{device:?}")
}

#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
enum WgpuAdapter {
    Preferred,
    Discrete(usize),
    Software,
}

/// The device, after one tiny operation on it: burn reports a missing driver, GPU or
/// adapter by a panic at first use (often in its device thread, whose message the caller's
/// thread never sees), which becomes an error naming the device and the first panic's
/// message here.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn checked(name: &str, runtime: &'static str, device: Device) -> Result<Device, DeviceError> {
    use std::sync::{Arc, Mutex};
    let first_panic: Arc<Mutex<Option<String>>> = Arc::default();
    let hook = std::panic::take_hook();
    let record = Arc::clone(&first_panic);
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()));
        let mut first = record.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = message;
        }
    }));
    let first_use = std::panic::catch_unwind(|| burn::tensor::Tensor::<1>::zeros([1], &device).into_data());
    std::panic::set_hook(hook);
    if first_use.is_ok() {
        return Ok(device);
    }
    let why = first_panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    let why = why.map_or_else(|| "no driver or no such device".to_string(), |m| first_line(&m));
    Err(DeviceError::Unusable { name: name.to_string(), runtime, why })
}

#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

#[cfg(feature = "cuda")]
fn cuda_device(name: &str, index: usize) -> Result<Device, DeviceError> {
    checked(name, "CUDA", Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(name: &str, _index: usize) -> Result<Device, DeviceError> {
    Err(DeviceError::NotBuilt { name: name.to_string(), runtime: "CUDA", feature: "cuda" })
}

#[cfg(feature = "wgpu")]
fn wgpu_device(name: &str, adapter: WgpuAdapter) -> Result<Device, DeviceError> {
    use burn::tensor::DeviceKind;
    let kind = match adapter {
        WgpuAdapter::Preferred => DeviceKind::DefaultDevice,
        WgpuAdapter::Discrete(index) => DeviceKind::DiscreteGpu(index),
        WgpuAdapter::Software => DeviceKind::Cpu,
    };
    checked(name, "wgpu", Device::wgpu(kind))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(name: &str, _adapter: WgpuAdapter) -> Result<Device, DeviceError> {
    Err(DeviceError::NotBuilt { name: name.to_string(), runtime: "wgpu", feature: "wgpu" })
}

/// Where a fixture test of `kernels` runs: host kernels on burn's CPU backend; device
/// kernels there too, or on the device the `AVSL_TEST_DEVICE` variable names (`cuda:N` or
/// `wgpu` in a build with that feature; `.ci/run` runs the fixture tests on `wgpu` over
/// Mesa's software Vulkan, `tools/gpu_check.sh` on a GPU).
pub fn test_device(kernels: crate::kernels::Kernels) -> Device {
    let requested = std::env::var("AVSL_TEST_DEVICE").unwrap_or_default();
    if kernels == crate::kernels::Kernels::Host || requested.is_empty() {
        return Device::flex();
    }
    parse_device(&requested).unwrap_or_else(|e| panic!("AVSL_TEST_DEVICE: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(name: &str) -> String {
        parse_device(name).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn names_that_reach_no_runtime_are_refused_with_the_valid_ones() {
        assert_eq!(parse_device("cpu").unwrap(), Device::flex());
        for name in ["gpu", "wgpux", "cudaa", "vulkan", ""] {
            assert!(refusal(name).contains("expected cpu, cuda, cuda:N, wgpu, wgpu:N or wgpu:cpu"), "{name}");
        }
        for name in ["wgpu:x", "wgpu:-1", "cuda:first"] {
            assert!(refusal(name).contains("the GPU index must be a number"), "{name}");
        }
        assert!(parse_devices("cpu, cpu").is_ok_and(|d| d.len() == 2));
        let several = parse_devices("cpu,gpu").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(several.starts_with("--device gpu: expected"), "{several}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_in_a_build_without_it_says_how_to_get_it() {
        assert_eq!(
            refusal("cuda:1"),
            "--device cuda:1: this build of avsl has no CUDA backend; build it with `--features cuda` (docs/gpu.md)"
        );
    }
}
