//! Replays every saved fuzz input (`fuzz/corpus/<target>/`, and the crash inputs kept in
//! `fuzz/regressions/<target>/`) through the same entry points the fuzz targets use, so
//! `cargo test` guards against regressions without running a fuzzer.

use std::path::Path;

use avsl_data::exercise;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            run(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs for fuzz target {target}");
}

#[test]
fn wav_inputs() {
    replay("wav", exercise::wav);
}

#[test]
fn image_inputs() {
    replay("image", exercise::image);
}

#[test]
fn flickr_xml_inputs() {
    replay("flickr_xml", exercise::flickr_xml);
}

#[test]
fn vggss_json_inputs() {
    replay("vggss_json", exercise::vggss_json);
}

#[test]
fn csv_list_inputs() {
    replay("csv_lists", exercise::csv_lists);
}

#[test]
fn npy_inputs() {
    replay("npy", exercise::npy);
}

#[test]
fn source_list_inputs() {
    replay("source_lists", exercise::source_lists);
}
