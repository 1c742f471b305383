//! A run saved after two steps and resumed continues exactly as the uninterrupted run:
//! the same losses and the same weights and optimiser state, bit for bit.

use std::path::Path;

use avsl_kernels::Activation;
use avsl_model::formula::{formula_values, formula_weights_for};
use avsl_model::kernels::Kernels;
use avsl_model::{Architecture, Weights};
use avsl_train::config::TrainConfig;
use avsl_train::state_file::{Progress, load_with_kernels, save};
use avsl_train::trainable::Batch;
use avsl_train::trainer::Trainer;
use burn::tensor::Device;

fn weights() -> Weights {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/train/slavc_step.json");
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    formula_weights_for(&f["tensors"])
}

fn batch(step: u64) -> Batch {
    let make = |index: u64, [n, c, h, w]: [usize; 4]| {
        let data: Vec<f32> = formula_values(index, "input", &[n, c, h, w]).into_iter().map(|v| v * 8.0).collect();
        Activation { n, c, h, w, data }
    };
    Batch { images: make(100 + 2 * step, [2, 3, 64, 64]), spectrograms: make(101 + 2 * step, [2, 1, 257, 40]) }
}

fn config(model: Architecture) -> TrainConfig {
    TrainConfig {
        model,
        dim: 16,
        lr: 1e-3,
        batch_size: 2,
        seed: 5,
        momentum_image: 0.99,
        ..TrainConfig::published(model)
    }
}

fn steps(trainer: &mut Trainer, range: std::ops::Range<u64>) -> Vec<f64> {
    range.map(|s| trainer.train_step(batch(s), None).total).collect()
}

#[test]
fn resumed_slavc_run_continues_the_same_trajectory() {
    resumed_run_continues_the_same_trajectory(Kernels::Host);
}

/// The GPU path (model, running statistics and Adam on the device), on the CPU backend or
/// the device `AVSL_TEST_DEVICE` names.
#[test]
fn resumed_slavc_run_on_device_kernels_continues_the_same_trajectory() {
    resumed_run_continues_the_same_trajectory(Kernels::Device);
}

fn resumed_run_continues_the_same_trajectory(kernels: Kernels) {
    let device = Device::autodiff(avsl_model::device::test_device(kernels));
    let new = || Trainer::with_kernels(&weights(), config(Architecture::Slavc), &device, kernels);
    let mut straight = new();
    let losses = steps(&mut straight, 0..4);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latest.safetensors");
    let mut first = new();
    let mut resumed_losses = steps(&mut first, 0..2);
    save(&file, &first, Progress { epoch: 0, batch: 2, best: Some(0.25) }, None).unwrap();
    drop(first);
    let (mut resumed, progress) = load_with_kernels(&file, &device, kernels).unwrap();
    assert_eq!(progress, Progress { epoch: 0, batch: 2, best: Some(0.25) });
    assert_eq!(resumed.step, 2);
    resumed_losses.extend(steps(&mut resumed, 2..4));
    assert_eq!(losses, resumed_losses);

    let (a, b) = (straight.weights(), resumed.weights());
    assert_eq!(a.len(), b.len());
    for (name, t) in a.iter() {
        assert_eq!(b.get(name), Some(t), "{name} differs after resuming");
    }
    // Training moved the weights, and the momentum encoders followed.
    let w0 = weights();
    for name in ["img_proj1.weight", "momentum_img_proj1.weight", "imgnet.bn1.running_mean"] {
        assert_ne!(w0.get(name), a.get(name), "{name} did not change");
    }
}

#[test]
fn a_training_checkpoint_is_an_evaluation_checkpoint() {
    let device = Device::autodiff(Device::flex());
    let mut trainer = Trainer::new(&weights(), config(Architecture::Slavc), &device);
    steps(&mut trainer, 0..1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("best.safetensors");
    save(&file, &trainer, Progress { epoch: 1, batch: 0, best: None }, None).unwrap();
    let checkpoint = avsl_model::checkpoint::read_checkpoint(&file).unwrap();
    let config = checkpoint.config(0.03, Some(Architecture::Slavc)).unwrap();
    assert_eq!(config.dim, 16);
    assert!(!checkpoint.training.is_empty(), "the optimiser state is kept apart");
    checkpoint.into_encoders(config, avsl_model::EncoderSet::Momentum, &Device::flex()).unwrap();
}
