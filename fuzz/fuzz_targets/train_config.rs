#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avsl_train::config::exercise(data));
