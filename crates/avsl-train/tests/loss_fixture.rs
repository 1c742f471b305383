//! SLAVC's and EZ-VSL's losses against PyTorch (`tools/make_model_fixtures.py`) on the
//! embeddings of the same formula-generated weights and inputs that avsl-model's
//! `model_fixture.rs` checks the maps of.

use std::path::Path;

use avsl_model::formula::{formula_values, formula_weights_for};
use avsl_model::{EncoderSet, Encoders, ModelConfig};
use avsl_train::loss::{ezvsl_loss, slavc_loss};
use burn::tensor::{Device, Tensor, TensorData};

fn meta(file: &str) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model");
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

/// The fixture's image and audio batch (the formula inputs, ×8, as the script makes them;
/// one batch for every model, its size in the SLAVC file).
fn inputs(device: &Device) -> (Tensor<4>, Tensor<4>) {
    let batch = meta("slavc_tensors.json")["batch"].as_u64().unwrap() as usize;
    let input = |index: u64, name: &str, shape: [usize; 4]| {
        let values: Vec<f32> = formula_values(index, name, &shape).into_iter().map(|v| v * 8.0).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    };
    (input(9001, "input.image", [batch, 3, 224, 224]), input(9002, "input.audio", [batch, 1, 257, 200]))
}

fn encoders(meta: &serde_json::Value, set: EncoderSet, device: &Device) -> Encoders {
    let mut weights = formula_weights_for(&meta["tensors"]);
    let config = ModelConfig::infer(&weights, 0.03).unwrap();
    Encoders::load(&mut weights, config, set, device).unwrap()
}

fn assert_loss(name: &str, loss: Tensor<1>, expected: f64) {
    let ours = loss.into_data().try_to_vec::<f32>().unwrap()[0];
    let expected = expected as f32;
    let bound = 1e-4 * expected.abs().max(1.0);
    println!("{name}: ours {ours}, torch {expected}");
    assert!((ours - expected).abs() <= bound, "{name}: |{ours} - {expected}| > {bound}");
}

#[test]
fn slavc_loss_matches_pytorch() {
    let meta = meta("slavc_tensors.json");
    let device = Device::flex();
    let (image, audio) = inputs(&device);
    let online = encoders(&meta, EncoderSet::Online, &device);
    let target = encoders(&meta, EncoderSet::Momentum, &device);
    let (v, a) = (online.image_embeddings(image.clone()), online.audio_embeddings(audio.clone()));
    let (vt, at) = (target.image_embeddings(image), target.audio_embeddings(audio));
    let loss = slavc_loss([&v[0], &v[1]], [&a[0], &a[1]], [&vt[0], &vt[1]], [&at[0], &at[1]], 0.03);
    assert_loss("SLAVC loss", loss, meta["loss"].as_f64().unwrap());
}

#[test]
fn ezvsl_loss_matches_pytorch() {
    let meta = meta("ezvsl_tensors.json");
    let device = Device::flex();
    let (image, audio) = inputs(&device);
    let encoders = encoders(&meta, EncoderSet::Online, &device);
    let (v, a) = (encoders.image_embeddings(image), encoders.audio_embeddings(audio));
    assert_loss("EZ-VSL loss", ezvsl_loss(&v[0], &a[0], 0.03), meta["loss"].as_f64().unwrap());
}
