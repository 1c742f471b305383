//! Replays the saved fuzz inputs of the training-configuration target
//! (`fuzz/corpus/train_config/`, crash inputs in `fuzz/regressions/train_config/`).

use std::path::Path;

#[test]
fn train_config_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("train_config")) else { continue };
        for entry in entries {
            avsl_train::config::exercise(&std::fs::read(entry.unwrap().path()).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "no saved inputs for the train_config fuzz target");
}
