//! Replays the saved fuzz inputs of the checkpoint target (`fuzz/corpus/checkpoint/`, and
//! crash inputs in `fuzz/regressions/checkpoint/`) through the fuzzing entry point.

use std::path::Path;

#[test]
fn checkpoint_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let scratch = tempfile::tempdir().unwrap();
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("checkpoint")) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            avsl_model::checkpoint::exercise(&std::fs::read(&path).unwrap(), &scratch.path().join("input"));
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs for the checkpoint fuzz target");
}

#[test]
fn safetensors_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let scratch = tempfile::tempdir().unwrap();
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("safetensors")) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            avsl_model::checkpoint::exercise_safetensors(&std::fs::read(&path).unwrap(), &scratch.path().join("input"));
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs for the safetensors fuzz target");
}
