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

#[cfg(feature = "cuda")]
fn cuda_device(_name: &str, index: usize) -> Result<Device> {
    Ok(Device::cuda(index))
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
