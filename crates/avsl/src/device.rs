//! `--threads`: how many threads decode and run the model.

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
