//! Initial weights (docs/method.md §2): the image trunk from a user-supplied torchvision ImageNet
//! ResNet-18 (or torchvision's own random initialisation when there is none), the audio
//! trunk and the heads as the authors initialise them, momentum copies equal to the
//! online weights. Seeded, so a run is reproducible.

use avsl_model::arch::{ALIGN_HEADS, TrunkSpec, resnet18_shapes};
use avsl_model::{Architecture, ModelConfig, NamedTensor, Weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn tensor(shape: &[usize], mut value: impl FnMut() -> f64) -> NamedTensor {
    let n = shape.iter().product();
    NamedTensor { shape: shape.to_vec(), values: (0..n).map(|_| value() as f32).collect() }
}

/// How the BatchNorm scales of a trunk start: torchvision's 1, or the authors' N(1, 0.02)
/// for the audio trunk.
#[derive(Clone, Copy)]
enum BnScale {
    One,
    Normal,
}

/// A ResNet-18 trunk with Kaiming-normal (fan_out, ReLU) convolutions.
fn trunk(w: &mut Weights, rng: &mut ChaCha8Rng, spec: &TrunkSpec, scale: BnScale) {
    for (name, shape) in spec.shapes() {
        let leaf = name.rsplit('.').next().unwrap_or("");
        let t = match (leaf, shape.len()) {
            ("weight", 4) => {
                let std = (2.0 / (shape[0] * shape[2] * shape[3]) as f64).sqrt();
                tensor(&shape, || std * normal(rng))
            }
            ("weight", _) => match scale {
                BnScale::One => tensor(&shape, || 1.0),
                BnScale::Normal => tensor(&shape, || 1.0 + 0.02 * normal(rng)),
            },
            ("running_var", _) => tensor(&shape, || 1.0),
            _ => tensor(&shape, || 0.0),
        };
        w.insert(name, t);
    }
}

/// PyTorch's default bias: uniform in ±1/√fan_in.
fn default_bias(rng: &mut ChaCha8Rng, n: usize, fan_in: usize) -> NamedTensor {
    let bound = 1.0 / (fan_in as f64).sqrt();
    tensor(&[n], || rng.random_range(-bound..bound))
}

/// Every tensor of `config`'s architecture. `imagenet`: torchvision's ResNet-18 state
/// dict (its `fc.*` is ignored); without it the image trunk starts random.
pub fn initial_weights(config: &ModelConfig, imagenet: Option<&Weights>, seed: u64) -> Weights {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = Weights::default();
    match imagenet {
        Some(src) => {
            for (name, _) in resnet18_shapes("", 3) {
                if let Some(t) = src.get(&name) {
                    w.insert(format!("imgnet.{name}"), t.clone());
                }
            }
        }
        None => trunk(&mut w, &mut rng, &config.trunk("imgnet.", 3), BnScale::One),
    }
    trunk(&mut w, &mut rng, &config.trunk("audnet.", 1), BnScale::Normal);
    let (d, f) = (config.dim, config.features());
    for head in config.architecture.heads() {
        let std = (2.0 / d as f64).sqrt();
        w.insert(format!("img_proj{head}.weight"), tensor(&[d, f, 1, 1], || std * normal(&mut rng)));
        w.insert(format!("img_proj{head}.bias"), default_bias(&mut rng, d, f));
        // Truncated normal, std 0.01, cut at ±2 (PyTorch's absolute bounds: never reached).
        w.insert(format!("aud_proj{head}.weight"), tensor(&[d, f], || (0.01 * normal(&mut rng)).clamp(-2.0, 2.0)));
        w.insert(format!("aud_proj{head}.bias"), default_bias(&mut rng, d, f));
    }
    if config.architecture == Architecture::SslAlign {
        // PyTorch's nn.Linear default (the paper does not say how its heads start):
        // weight and bias uniform in ±1/√fan_in.
        for head in ALIGN_HEADS {
            for (layer, out) in [("0", f), ("2", d)] {
                let bound = 1.0 / (f as f64).sqrt();
                w.insert(format!("{head}.{layer}.weight"), tensor(&[out, f], || rng.random_range(-bound..bound)));
                w.insert(format!("{head}.{layer}.bias"), default_bias(&mut rng, out, f));
            }
        }
    }
    if config.architecture.encoder_sets().len() > 1 {
        let online: Vec<(String, NamedTensor)> = w.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        for (name, t) in online {
            w.insert(format!("momentum_{name}"), t);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use avsl_model::Architecture;
    use avsl_model::arch::compare;

    #[test]
    fn complete_reproducible_and_scaled_as_the_authors() {
        let config = ModelConfig::published(Architecture::Slavc);
        let w = initial_weights(&config, None, 7);
        assert!(compare(&w, &config.expected_shapes()).is_empty());
        assert_eq!(w.get("img_proj1.weight"), initial_weights(&config, None, 7).get("img_proj1.weight"));
        assert_eq!(w.get("momentum_audnet.conv1.weight"), w.get("audnet.conv1.weight"));
        let conv = &w.get("audnet.layer1.0.conv1.weight").unwrap().values;
        let std = (conv.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / conv.len() as f64).sqrt();
        let expected = (2.0f64 / (64.0 * 9.0)).sqrt();
        assert!((std / expected - 1.0).abs() < 0.02, "Kaiming fan_out std {std} vs {expected}");
        let lin = &w.get("aud_proj2.weight").unwrap().values;
        let std = (lin.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / lin.len() as f64).sqrt();
        assert!((std - 0.01).abs() < 0.0005, "{std}");
        let ez = ModelConfig { dim: 64, width: 16, ..ModelConfig::published(Architecture::Ezvsl) };
        assert!(compare(&initial_weights(&ez, None, 1), &ez.expected_shapes()).is_empty());
        let align = ModelConfig { dim: 64, width: 16, ..ModelConfig::published(Architecture::SslAlign) };
        let w = initial_weights(&align, None, 1);
        assert!(compare(&w, &align.expected_shapes()).is_empty());
        // nn.Linear's default: uniform in ±1/√128 for the 128 trunk features.
        let head = &w.get("aud_align.2.weight").unwrap().values;
        let bound = head.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(bound <= 1.0 / 128f32.sqrt() && bound > 0.95 / 128f32.sqrt(), "{bound}");
    }
}
