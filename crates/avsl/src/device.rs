//! `--threads`: how many threads decode and run the model; `--device`'s help.

/// `--device` of the commands that run a model (train and bench add their own cases).
pub const DEVICE_HELP: &str = "Where the model runs: `cpu`; `wgpu`, `wgpu:N` (N-th discrete GPU) or `wgpu:cpu` (a \
software Vulkan adapter) through Vulkan, Metal or DX12; `cuda[:N]` in a build with the `cuda` feature (docs/gpu.md)";

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
