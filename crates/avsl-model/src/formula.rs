//! Deterministic weights from an integer formula, for tests and benchmarks: every element
//! is a hash of its position, scaled like an initialisation of its kind of tensor. The
//! same formula in `tools/make_model_fixtures.py::formula_values` gives PyTorch the same
//! weights, so no checkpoint has to be stored to compare outputs.

use crate::weights::{NamedTensor, Weights};

/// The values of tensor number `index` (its position in the PyTorch state dict).
pub fn formula_values(index: u64, name: &str, shape: &[usize]) -> Vec<f32> {
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

/// Weights for a list of `(index, name, shape)`.
pub fn formula_weights<'a>(tensors: impl IntoIterator<Item = (u64, &'a str, Vec<usize>)>) -> Weights {
    let mut weights = Weights::default();
    for (index, name, shape) in tensors {
        weights.insert(name, NamedTensor { values: formula_values(index, name, &shape), shape });
    }
    weights
}

/// Weights for a fixture's tensor list, `[[index, name, shape], …]` as the Python scripts
/// write it.
pub fn formula_weights_for(list: &serde_json::Value) -> Weights {
    let entries = list.as_array().map(Vec::as_slice).unwrap_or_default();
    formula_weights(entries.iter().filter_map(|t| {
        let shape = t[2].as_array()?.iter().map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<_>>()?;
        Some((t[0].as_u64()?, t[1].as_str()?, shape))
    }))
}
