//! SLAVC's forward pass against PyTorch + torchvision (`tools/make_model_fixtures.py`):
//! the same network, the same formula-generated weights and inputs, the same outputs.

use std::path::{Path, PathBuf};

use avsl_data::npy::read_npy_f32;
use avsl_model::ogl::ObjectSaliency;
use avsl_model::{NamedTensor, Slavc, Weights};
use burn::tensor::{Device, Tensor, TensorData};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model")
}

/// `make_model_fixtures.py::formula_values`, element for element.
fn formula_values(index: u64, name: &str, shape: &[usize]) -> Vec<f32> {
    const M32: u64 = (1 << 32) - 1;
    let leaf = name.rsplit('.').next().unwrap_or("");
    let n: usize = shape.iter().product();
    let fan_in: usize = shape.iter().skip(1).product();
    (0..n as u64)
        .map(|k| {
            let mut h = (k + index * 1_000_003).wrapping_mul(2_654_435_761) & M32;
            h ^= h >> 15;
            h = (h * 2_246_822_519) & M32;
            h ^= h >> 13;
            let u = (h >> 8) as f64 / (1u64 << 24) as f64;
            let v = match leaf {
                "running_var" => 0.5 + u,
                "weight" if shape.len() == 1 => (u - 0.5) * 0.2 + 1.0,
                "running_mean" | "bias" => (u - 0.5) * 0.2,
                _ => (u - 0.5) * (2.0 * (3.0 / fan_in as f64).sqrt()),
            };
            v as f32
        })
        .collect()
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
    let mut weights = Weights::default();
    for t in meta["tensors"].as_array().unwrap() {
        let index = t[0].as_u64().unwrap();
        let name = t[1].as_str().unwrap();
        let shape: Vec<usize> = t[2].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        weights.insert(name, NamedTensor { values: formula_values(index, name, &shape), shape });
    }
    weights
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
    let image = input(9001, "input.image", [2, 3, 224, 224], &device);
    let (shape, expected) = read_npy_f32(&fixtures().join("object_maps.npy")).unwrap();
    assert_eq!(shape, vec![2, 7, 7]);
    assert_close("object maps", ogl.maps(image).into_data().try_to_vec::<f32>().unwrap(), &expected, 1e-5);
}

#[test]
fn slavc_forward_matches_pytorch() {
    let meta = meta("slavc_tensors.json");
    let mut weights = formula_weights(&meta);
    let device = Device::flex();
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let model = Slavc::load(&mut weights, "", dim, meta["tau"].as_f64().unwrap(), &device).unwrap();
    weights.finish().unwrap();

    let image = input(9001, "input.image", [2, 3, 224, 224], &device);
    let audio = input(9002, "input.audio", [2, 1, 257, 200], &device);

    let features = model.image_trunk(image.clone()).narrow(1, 0, 8);
    let (_, expected) = read_npy_f32(&fixtures().join("image_features.npy")).unwrap();
    assert_close("image layer4 (8 channels)", features.into_data().try_to_vec::<f32>().unwrap(), &expected, 1e-4);

    let (_, expected) = read_npy_f32(&fixtures().join("audio_features.npy")).unwrap();
    assert_close(
        "audio pooled features",
        model.audio_trunk(audio.clone()).into_data().try_to_vec::<f32>().unwrap(),
        &expected,
        1e-4,
    );

    let (shape, expected) = read_npy_f32(&fixtures().join("maps.npy")).unwrap();
    assert_eq!(shape, vec![2, 7, 7]);
    assert_close("maps S", model.maps(image, audio).into_data().try_to_vec::<f32>().unwrap(), &expected, 1e-4);
}

#[test]
fn a_wrong_shape_or_missing_tensor_is_named() {
    let device = Device::flex();
    let mut w = Weights::default();
    w.insert("imgnet.conv1.weight", NamedTensor { shape: vec![64, 1, 7, 7], values: vec![0.0; 64 * 49] });
    let e = Slavc::load(&mut w, "", 8, 0.03, &device).err().unwrap().to_string();
    assert!(e.contains("imgnet.conv1.weight") && e.contains("[64, 1, 7, 7]") && e.contains("[64, 3, 7, 7]"), "{e}");
    let e = Slavc::load(&mut Weights::default(), "momentum_", 8, 0.03, &device).err().unwrap().to_string();
    assert_eq!(e, "missing parameter momentum_imgnet.conv1.weight");
}
