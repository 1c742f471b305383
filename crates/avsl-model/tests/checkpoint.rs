//! Reading the authors' checkpoint format, against what torch.save wrote
//! (`tools/make_model_fixtures.py::save_small_checkpoint`).

use std::path::{Path, PathBuf};

use avsl_model::checkpoint::read_pth;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model").join(name)
}

#[test]
fn reads_the_authors_layout_by_name() {
    let weights = read_pth(&fixture("small_checkpoint.pth")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("small_checkpoint.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    assert_eq!(expected.len(), 4);
    for (name, t) in expected {
        // `module.` is gone, a transposed (strided) tensor is gathered in row-major order.
        let ours = weights.get(name).unwrap_or_else(|| panic!("{name} missing"));
        let shape: Vec<usize> = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(ours.shape, shape, "{name}");
        let values: Vec<f32> = t["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(ours.values, values, "{name}");
    }
    assert!(weights.get("imgnet.bn1.num_batches_tracked").is_none());
}

#[test]
fn broken_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("small_checkpoint.pth")).unwrap();
    for (name, content) in [
        ("truncated.pth", bytes[..bytes.len() / 2].to_vec()),
        ("text.pth", b"this is not a checkpoint".to_vec()),
        ("empty.pth", Vec::new()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = read_pth(&p).err().unwrap_or_else(|| panic!("{name} was accepted")).to_string();
        assert!(e.contains(name), "{e}");
    }
    let e = read_pth(&dir.path().join("absent.pth")).err().unwrap().to_string();
    assert!(e.contains("absent.pth") && e.contains("no such"), "{e}");
}

/// torch.save files (tools/make_model_fixtures.py::save_hostile_checkpoints): data that
/// the authors' checkpoints may carry besides tensors loads; a pickle that calls
/// os.system is refused by name, in the zip and in the legacy format.
#[test]
fn pickles_that_call_code_are_refused_and_plain_data_loads() {
    let weights = read_pth(&fixture("with_numpy_and_args.pth")).unwrap();
    assert_eq!(weights.get("img_proj1.bias").unwrap().values, vec![0.0, 1.0, 2.0, 3.0]);
    for file in ["calls_os_system.pth", "calls_os_system_legacy.pth"] {
        let e = read_pth(&fixture(file)).unwrap_err().to_string();
        assert!(e.contains(file) && e.contains("refused") && e.contains(".system"), "{e}");
    }
}
