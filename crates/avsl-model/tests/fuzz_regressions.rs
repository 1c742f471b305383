//! Replays the saved fuzz inputs of the checkpoint targets (`fuzz/corpus/<target>/`, and
//! crash inputs in `fuzz/regressions/<target>/`) through the fuzzing entry points.

use std::path::Path;

/// Every saved input of `target` through `exercise`; there must be some.
fn replay(target: &str, exercise: fn(&[u8], &Path)) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let scratch = tempfile::tempdir().unwrap();
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            exercise(&std::fs::read(&path).unwrap(), &scratch.path().join("input"));
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs for the {target} fuzz target");
}

#[test]
fn checkpoint_inputs() {
    replay("checkpoint", avsl_model::checkpoint::exercise);
}

#[test]
fn safetensors_inputs() {
    replay("safetensors", avsl_model::checkpoint::exercise_safetensors);
}
