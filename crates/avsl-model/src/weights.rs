//! Named parameter tensors, taken by the modules that need them, with errors that say
//! which name is missing or has the wrong shape.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("missing parameter {0}")]
    Missing(String),
    #[error("parameter {name} has shape {found:?}, expected {expected:?}")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("unexpected parameters: {}", .0.join(", "))]
    Unexpected(Vec<String>),
}

/// A float32 tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Parameters by name (`imgnet.layer1.0.conv1.weight`, …).
#[derive(Debug, Default)]
pub struct Weights {
    tensors: BTreeMap<String, NamedTensor>,
}

impl Weights {
    pub fn insert(&mut self, name: impl Into<String>, tensor: NamedTensor) {
        self.tensors.insert(name.into(), tensor);
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Drops a tensor the model does not use (e.g. a classifier head).
    pub fn remove(&mut self, name: &str) -> Option<NamedTensor> {
        self.tensors.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut NamedTensor> {
        self.tensors.get_mut(name)
    }

    /// Names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Tensors in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &NamedTensor)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A copy of every tensor (large: used for checkpoints, not per step).
    pub fn deep_copy(&self) -> Weights {
        Weights { tensors: self.tensors.clone() }
    }

    /// Tensors in name order, moved out.
    pub fn into_tensors(self) -> impl Iterator<Item = (String, NamedTensor)> {
        self.tensors.into_iter()
    }

    /// Keeps only the tensors whose name satisfies `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.tensors.retain(|k, _| keep(k));
    }

    /// Removes the tensor `name`, checking its shape, as a burn tensor on `device`.
    pub fn take<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>, ModelError> {
        let values = self.take_values(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Removes the tensor `name`, checking its shape, as row-major values.
    pub fn take_values(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let t = self.tensors.remove(name).ok_or_else(|| ModelError::Missing(name.to_string()))?;
        if t.shape != shape {
            return Err(ModelError::Shape { name: name.to_string(), found: t.shape, expected: shape.to_vec() });
        }
        Ok(t.values)
    }

    /// Fails if any tensor was not taken (a checkpoint of another architecture).
    pub fn finish(self) -> Result<(), ModelError> {
        if self.tensors.is_empty() { Ok(()) } else { Err(ModelError::Unexpected(self.tensors.into_keys().collect())) }
    }
}

/// A float32 tensor's values on the host, row-major.
pub fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("float32 tensor")
}
