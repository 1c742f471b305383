//! SLAVC, EZ-VSL and the object network against PyTorch + torchvision
//! (`tools/make_model_fixtures.py`): the same networks, the same formula-generated weights
//! and inputs, the same maps; and checkpoints in both formats. (The losses on these
//! embeddings are checked in avsl-train's `loss_fixture.rs`.)

use std::path::{Path, PathBuf};

use avsl_data::npy::read_npy_f32;
use avsl_model::checkpoint::{Checkpoint, pth_bytes, read_checkpoint, safetensors_bytes};
use avsl_model::formula::formula_values;
use avsl_model::kernels::Kernels;
use avsl_model::ogl::ObjectSaliency;
use avsl_model::{Architecture, EncoderSet, Encoders, ModelConfig, NamedTensor, Weights};
use burn::tensor::{Device, Tensor, TensorData};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model")
}

fn input(index: u64, name: &str, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let values: Vec<f32> = formula_values(index, name, &shape).into_iter().map(|v| v * 8.0).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn assert_close(name: &str, ours: Vec<f32>, expected: &[f32], atol: f32) {
    assert_eq!(ours.len(), expected.len(), "{name}: length");
    let worst = ours.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("{name}: max |ours - torch| = {worst:e}");
    assert!(worst <= atol, "{name}: max abs difference {worst} > {atol}");
}

/// The fixture's tensor list (`[index, name, shape]`) filled with the formula weights.
fn formula_weights(meta: &serde_json::Value) -> Weights {
    avsl_model::formula::formula_weights_for(&meta["tensors"])
}

fn meta(file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap()
}

#[test]
fn object_saliency_matches_pytorch() {
    let mut weights = formula_weights(&meta("ogl_tensors.json"));
    let device = Device::flex();
    let ogl = ObjectSaliency::load(&mut weights, &device).unwrap();
    weights.finish().unwrap();
    let (image, _) = inputs(&device);
    let (shape, expected) = read_npy_f32(&fixtures().join("object_maps.npy")).unwrap();
    assert_eq!(shape, vec![3, 7, 7]);
    assert_close("object maps", ogl.maps(image).into_data().try_to_vec::<f32>().unwrap(), &expected, 1e-5);
}

fn npy(name: &str) -> Vec<f32> {
    read_npy_f32(&fixtures().join(name)).unwrap().1
}

/// The fixture's SLAVC weights written as the authors' checkpoint (`module.` prefix and
/// BatchNorm counters, by our `.pth` writer), then read back through the normal path.
fn authors_checkpoint(dir: &Path) -> Checkpoint {
    let path = dir.join("slavc_authors_layout.pth");
    std::fs::write(&path, pth_bytes(&path, &formula_weights(&meta("slavc_tensors.json"))).unwrap()).unwrap();
    read_checkpoint(&path).unwrap()
}

fn inputs(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let b = meta("slavc_tensors.json")["batch"].as_u64().unwrap() as usize;
    (input(9001, "input.image", [b, 3, 224, 224], device), input(9002, "input.audio", [b, 1, 257, 200], device))
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn slavc_checkpoint_in_the_authors_layout_matches_pytorch_on_both_encoder_sets() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let checkpoint = authors_checkpoint(dir.path());
    let config = checkpoint.config(0.03, Some(Architecture::Slavc)).unwrap();
    assert_eq!(config, ModelConfig { dim: 64, ..ModelConfig::published(Architecture::Slavc) });
    let keys = meta("slavc_tensors.json")["checkpoint_keys"].as_array().unwrap().len();
    assert_eq!(keys, checkpoint.weights.len() + 4 * 20, "the authors' key list minus the BatchNorm counters");
    let (image, audio) = inputs(&device);
    for (set, fixture) in
        [(EncoderSet::Online, "slavc_maps_online.npy"), (EncoderSet::Momentum, "slavc_maps_momentum.npy")]
    {
        let encoders = authors_checkpoint(dir.path()).into_encoders(config, set, &device).unwrap();
        if set == EncoderSet::Online {
            let features = encoders.image_trunk(image.clone()).narrow(1, 0, 8);
            assert_close("image layer4 (8 channels)", to_vec(features), &npy("image_features.npy"), 1e-4);
            assert_close("audio pooled", to_vec(encoders.audio_trunk(audio.clone())), &npy("audio_features.npy"), 1e-4);
        }
        assert_close(fixture, to_vec(encoders.maps(image.clone(), audio.clone())), &npy(fixture), 1e-4);
    }
}

#[test]
fn batching_does_not_change_any_map() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let checkpoint = authors_checkpoint(dir.path());
    let config = checkpoint.config(0.03, None).unwrap();
    let encoders = checkpoint.into_encoders(config, EncoderSet::Online, &device).unwrap();
    let (image, audio) = inputs(&device);
    let together = to_vec(encoders.maps(image.clone(), audio.clone()));
    let alone: Vec<f32> = (0..3)
        .flat_map(|i| to_vec(encoders.maps(image.clone().narrow(0, i, 1), audio.clone().narrow(0, i, 1))))
        .collect();
    assert_eq!(together, alone);
}

#[test]
fn ezvsl_maps_match_pytorch() {
    ezvsl_maps_match_pytorch_on(Kernels::Host);
}

/// The GPU path's inference trunks (burn operations), run on the CPU backend.
#[test]
fn ezvsl_maps_on_device_kernels_match_pytorch() {
    ezvsl_maps_match_pytorch_on(Kernels::Device);
}

fn ezvsl_maps_match_pytorch_on(kernels: Kernels) {
    let meta = meta("ezvsl_tensors.json");
    let mut weights = formula_weights(&meta);
    let device = avsl_model::device::test_device(kernels);
    let config = ModelConfig::infer(&weights, 0.03).unwrap();
    assert_eq!(config.architecture, Architecture::Ezvsl);
    let encoders = Encoders::load_with_kernels(&mut weights, config, EncoderSet::Online, &device, kernels).unwrap();
    weights.finish().unwrap();
    let (image, audio) = inputs(&device);
    assert_close("EZ-VSL maps", to_vec(encoders.maps(image, audio)), &npy("ezvsl_maps.npy"), 1e-4);
}

#[test]
fn safetensors_round_trip_keeps_names_values_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let weights = formula_weights(&meta("slavc_tensors.json"));
    let config = ModelConfig { dim: 64, tau: 0.05, ..ModelConfig::published(Architecture::Slavc) };
    let path = dir.path().join("ours.safetensors");
    let extra = std::collections::BTreeMap::from([("epoch".to_string(), "3".to_string())]);
    std::fs::write(&path, safetensors_bytes(&path, &weights, &config, &extra).unwrap()).unwrap();
    let back = read_checkpoint(&path).unwrap();
    assert_eq!(back.config, Some(config));
    assert_eq!(back.metadata, extra);
    assert_eq!(back.weights.len(), weights.len());
    for (name, t) in weights.iter() {
        assert_eq!(back.weights.get(name), Some(t), "{name}");
    }
    // The stored configuration wins over the τ a command line passes.
    assert_eq!(back.config(0.03, None).unwrap().tau, 0.05);
}

#[test]
fn a_partial_or_wrong_checkpoint_lists_every_difference_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut weights = formula_weights(&meta("slavc_tensors.json"));
    weights.remove("momentum_aud_proj2.bias");
    weights.remove("imgnet.layer3.0.downsample.0.weight");
    let conv1 = weights.remove("audnet.conv1.weight").unwrap();
    weights.insert("audnet.conv1.weight", NamedTensor { shape: vec![64, 3, 7, 7], values: vec![0.0; 64 * 3 * 49] });
    weights.insert("fc.weight", conv1);
    let path = dir.path().join("partial.pth");
    std::fs::write(&path, pth_bytes(&path, &weights).unwrap()).unwrap();
    let checkpoint = read_checkpoint(&path).unwrap();
    let config = checkpoint.config(0.03, None).unwrap();
    let e = checkpoint.into_encoders(config, EncoderSet::Online, &Device::flex()).err().unwrap().to_string();
    for needle in [
        "partial.pth",
        "2 missing: imgnet.layer3.0.downsample.0.weight, momentum_aud_proj2.bias",
        "1 unexpected: fc.weight",
        "audnet.conv1.weight is [64, 3, 7, 7], expected [64, 1, 7, 7]",
    ] {
        assert!(e.contains(needle), "{needle:?} not in {e}");
    }
    let e = read_checkpoint(&path).unwrap().config(0.03, Some(Architecture::Ezvsl)).err().unwrap().to_string();
    assert!(e.contains("partial.pth") && e.contains("slavc checkpoint, not ezvsl"), "{e}");
    // Tensors of another model altogether.
    let mut other = Weights::default();
    other.insert("encoder.weight", NamedTensor { shape: vec![2], values: vec![1.0, 2.0] });
    let other_path = dir.path().join("other.safetensors");
    let ez = ModelConfig { dim: 2, ..ModelConfig::published(Architecture::Ezvsl) };
    std::fs::write(&other_path, safetensors_bytes(&other_path, &other, &ez, &Default::default()).unwrap()).unwrap();
    let e = read_checkpoint(&other_path).unwrap().into_encoders(ez, EncoderSet::Online, &Device::flex());
    let e = e.err().unwrap().to_string();
    assert!(e.contains("other.safetensors") && e.contains("204 missing") && e.contains("encoder.weight"), "{e}");
    // Truncated safetensors: named.
    let bytes = std::fs::read(&other_path).unwrap();
    std::fs::write(&other_path, &bytes[..bytes.len() - 3]).unwrap();
    let e = read_checkpoint(&other_path).err().unwrap().to_string();
    assert!(e.contains("other.safetensors") && e.contains("not a valid safetensors"), "{e}");
}

/// Leaves `target/avsl-written.pth` for `tools/make_model_fixtures.py --check-pth`.
#[test]
#[ignore]
fn writes_pth_for_torch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/avsl-written.pth");
    std::fs::write(&path, pth_bytes(&path, &formula_weights(&meta("slavc_tensors.json"))).unwrap()).unwrap();
}
