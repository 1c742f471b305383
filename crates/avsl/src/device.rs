//! `--device`: which burn backend runs the model.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// `cpu` (or `flex`): burn's pure-Rust CPU backend; `cuda` or `cuda:N` (builds with the
/// `cuda` feature): the N-th CUDA GPU.
pub fn parse_device(name: &str) -> Result<Device> {
    if name == "cpu" || name == "flex" {
        return Ok(Device::flex());
    }
    let Some(index) = name.strip_prefix("cuda").map(|rest| rest.strip_prefix(':').unwrap_or(rest)) else {
        bail!("--device {name}: expected cpu, cuda or cuda:N");
    };
    let index: usize = if index.is_empty() {
        0
    } else {
        index.parse().map_err(|_| anyhow::anyhow!("--device {name}: the GPU index must be a number (cuda:0)"))?
    };
    cuda_device(name, index)
}

/// The GPU, after one tiny operation on it: burn reports a missing driver or GPU by a
/// panic in its device thread at first use, which becomes an error naming the device here.
#[cfg(feature = "cuda")]
fn cuda_device(name: &str, index: usize) -> Result<Device> {
    let device = Device::cuda(index);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let usable = std::panic::catch_unwind(|| burn::tensor::Tensor::<1>::zeros([1], &device).into_data()).is_ok();
    std::panic::set_hook(hook);
    if !usable {
        bail!(
            "--device {name}: no usable CUDA GPU {index} (the NVIDIA driver's libcuda could not be loaded, \
             or there is no such GPU)"
        );
    }
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(name: &str, _index: usize) -> Result<Device> {
    bail!("--device {name}: this build of avsl has no CUDA backend; build it with `--features cuda` (see README)")
}

/// `--device` of `avsl train`: one device, or several separated by commas for
/// data-parallel training (`cuda:0,cuda:1`; `cpu,cpu` runs two replicas on the CPU).
pub fn parse_devices(names: &str) -> Result<Vec<Device>> {
    names.split(',').map(|name| parse_device(name.trim())).collect()
}

/// Every core unless `--threads` says otherwise.
pub fn thread_count(arg: Option<usize>) -> usize {
    arg.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `--threads` for a command that runs the model: the count, with rayon's global pool (on
/// which the model's kernels run) sized to it when it was given.
pub fn model_threads(arg: Option<usize>) -> usize {
    let threads = thread_count(arg);
    if arg.is_some() {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().ok();
    }
    threads
}
