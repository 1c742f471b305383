#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let scratch = SCRATCH.get_or_init(|| std::env::temp_dir().join(format!("avsl-fuzz-{}.st", std::process::id())));
    avsl_model::checkpoint::exercise_safetensors(data, scratch);
});
