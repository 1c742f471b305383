#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avsl_data::exercise::source_lists(data));
