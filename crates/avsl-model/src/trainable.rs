//! The networks in training mode (METHOD §2–4): parameters by the authors' names as
//! tensors on an autodiff device, BatchNorm with batch statistics and running statistics
//! updated as PyTorch does, visual dropout from masks the caller draws, SLAVC's momentum
//! encoders and their exponential moving average.

use std::collections::BTreeMap;

use burn::tensor::activation::relu;
use burn::tensor::module::{batch_norm, batch_norm_train, conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::arch::{EncoderSet, ModelConfig};
use crate::encoders::l2_normalize;
use crate::weights::{NamedTensor, Weights};

const BN_EPS: f64 = 1e-5;
/// PyTorch's BatchNorm momentum: running = 0.9 · running + 0.1 · batch statistic.
const BN_MOMENTUM: f64 = 0.1;

/// Tensors by name, kept flat with their shapes.
#[derive(Clone, Default)]
pub struct TensorMap {
    tensors: BTreeMap<String, (Tensor<1>, Vec<usize>)>,
}

impl TensorMap {
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<1>, shape: Vec<usize>) {
        self.tensors.insert(name.into(), (tensor, shape));
    }

    /// The tensor `name` in its own shape; panics on a name the architecture lacks (the
    /// map is built from the architecture's own list).
    pub fn get<const D: usize>(&self, name: &str) -> Tensor<D> {
        let (t, shape) = self.tensors.get(name).unwrap_or_else(|| panic!("no tensor {name}"));
        let dims: [usize; D] = shape.as_slice().try_into().unwrap_or_else(|_| panic!("{name} is {shape:?}"));
        t.clone().reshape(dims)
    }

    pub fn flat(&self, name: &str) -> Option<&Tensor<1>> {
        self.tensors.get(name).map(|(t, _)| t)
    }

    pub fn set_flat(&mut self, name: &str, tensor: Tensor<1>) {
        self.tensors.get_mut(name).unwrap_or_else(|| panic!("no tensor {name}")).0 = tensor;
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Host copies, for checkpoints.
    pub fn to_weights(&self, into: &mut Weights) {
        for (name, (t, shape)) in &self.tensors {
            let values = t.clone().into_data().try_to_vec::<f32>().expect("float32 tensors");
            into.insert(name.clone(), NamedTensor { shape: shape.clone(), values });
        }
    }
}

/// Everything a model holds: trainable parameters (online ones tracked for gradients,
/// momentum copies not) and BatchNorm running statistics.
pub struct TrainState {
    pub config: ModelConfig,
    pub params: TensorMap,
    pub buffers: TensorMap,
    pub device: Device,
}

fn is_buffer(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

impl TrainState {
    /// Moves checkpoint tensors onto `device` (an autodiff device for training). Every
    /// name of the architecture must be present (verify the checkpoint first).
    pub fn new(weights: &Weights, config: ModelConfig, device: &Device) -> TrainState {
        let mut params = TensorMap::default();
        let mut buffers = TensorMap::default();
        for (name, shape) in config.expected_shapes() {
            let t = weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}"));
            let n = t.values.len();
            let tensor = Tensor::<1>::from_data(TensorData::new(t.values.clone(), [n]), device);
            if is_buffer(&name) {
                buffers.insert(name, tensor, shape);
            } else if name.starts_with("momentum_") {
                params.insert(name, tensor, shape);
            } else {
                params.insert(name, tensor.require_grad(), shape);
            }
        }
        TrainState { config, params, buffers, device: device.clone() }
    }

    /// Names of the parameters the optimiser updates (the online ones).
    pub fn trainable(&self) -> Vec<String> {
        self.params.names().filter(|n| !n.starts_with("momentum_")).map(str::to_string).collect()
    }

    /// Every tensor on the host under the authors' names.
    pub fn to_weights(&self) -> Weights {
        let mut w = Weights::default();
        self.params.to_weights(&mut w);
        self.buffers.to_weights(&mut w);
        w
    }

    fn conv_bn(&mut self, x: Tensor<4>, conv: &str, bn: &str, stride: usize, train: bool) -> Tensor<4> {
        let weight: Tensor<4> = self.params.get(&format!("{conv}.weight"));
        let pad = weight.dims()[2] / 2;
        let y = conv2d(x, weight, None, ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1));
        let (gamma, beta) = (self.params.get(&format!("{bn}.weight")), self.params.get(&format!("{bn}.bias")));
        let (mean_name, var_name) = (format!("{bn}.running_mean"), format!("{bn}.running_var"));
        if !train {
            return batch_norm(y, gamma, beta, self.buffers.get(&mean_name), self.buffers.get(&var_name), BN_EPS);
        }
        let [n, _, h, w] = y.dims();
        let out = batch_norm_train(y, gamma, beta, BN_EPS);
        // Running variance uses the unbiased batch variance, as PyTorch does.
        let count = (n * h * w) as f64;
        let unbiased = out.variance.detach().mul_scalar(count / (count - 1.0).max(1.0));
        for (name, stat) in [(mean_name, out.mean.detach()), (var_name, unbiased)] {
            let running = self.buffers.flat(&name).expect("running statistics").clone();
            let updated = running.mul_scalar(1.0 - BN_MOMENTUM).add(stat.mul_scalar(BN_MOMENTUM));
            self.buffers.set_flat(&name, updated);
        }
        out.output
    }

    /// torchvision's ResNet-18 trunk `{prefix}` (`imgnet`, `momentum_audnet`, …): layer4
    /// features `[B, 512, H/32, W/32]`.
    pub fn trunk(&mut self, prefix: &str, x: Tensor<4>, train: bool) -> Tensor<4> {
        let x = relu(self.conv_bn(x, &format!("{prefix}.conv1"), &format!("{prefix}.bn1"), 2, train));
        let mut x = max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]));
        for layer in 1..=4 {
            for block in 0..2 {
                let p = format!("{prefix}.layer{layer}.{block}");
                let stride = if block == 0 && layer > 1 { 2 } else { 1 };
                let identity = if block == 0 && layer > 1 {
                    self.conv_bn(x.clone(), &format!("{p}.downsample.0"), &format!("{p}.downsample.1"), stride, train)
                } else {
                    x.clone()
                };
                let y = relu(self.conv_bn(x, &format!("{p}.conv1"), &format!("{p}.bn1"), stride, train));
                x = relu(self.conv_bn(y, &format!("{p}.conv2"), &format!("{p}.bn2"), 1, train).add(identity));
            }
        }
        x
    }

    /// The normalised image embeddings of every head; `dropout` multiplies the trunk
    /// features first (a mask already scaled by 1/(1 − p), or `None`).
    pub fn image_embeddings(
        &mut self,
        set: EncoderSet,
        images: Tensor<4>,
        dropout: Option<Tensor<4>>,
        train: bool,
    ) -> Vec<Tensor<4>> {
        let p = set.prefix();
        let mut features = self.trunk(&format!("{p}imgnet"), images, train);
        if let Some(mask) = dropout {
            features = features.mul(mask);
        }
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        self.config
            .architecture
            .heads()
            .iter()
            .map(|h| {
                let w = self.params.get(&format!("{p}img_proj{h}.weight"));
                let b = self.params.get(&format!("{p}img_proj{h}.bias"));
                l2_normalize(conv2d(features.clone(), w, Some(b), options.clone()), 1)
            })
            .collect()
    }

    /// The normalised audio embeddings of every head (global max pooling of the trunk).
    pub fn audio_embeddings(&mut self, set: EncoderSet, spectrograms: Tensor<4>, train: bool) -> Vec<Tensor<2>> {
        let p = set.prefix();
        let f = self.trunk(&format!("{p}audnet"), spectrograms, train).max_dim(3).max_dim(2);
        let [b, c, _, _] = f.dims();
        let pooled = f.reshape([b, c]);
        self.config
            .architecture
            .heads()
            .iter()
            .map(|h| {
                let w: Tensor<2> = self.params.get(&format!("{p}aud_proj{h}.weight"));
                let bias: Tensor<1> = self.params.get(&format!("{p}aud_proj{h}.bias"));
                let [d] = bias.dims();
                l2_normalize(pooled.clone().matmul(w.transpose()).add(bias.reshape([1, d])), 1)
            })
            .collect()
    }

    /// θ_m ← m·θ_m + (1 − m)·θ for every momentum parameter: `m_image` for the image trunk
    /// and heads, `m_audio` for the audio ones. BatchNorm running statistics are not
    /// averaged (the momentum encoders keep their own).
    pub fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        let names: Vec<String> =
            self.params.names().filter(|n| n.starts_with("momentum_")).map(str::to_string).collect();
        for name in names {
            let online = self.params.flat(&name["momentum_".len()..]).expect("online twin").clone().detach();
            let m = if name.starts_with("momentum_img") { m_image } else { m_audio };
            let current = self.params.flat(&name).expect("momentum parameter").clone();
            self.params.set_flat(&name, current.mul_scalar(m).add(online.mul_scalar(1.0 - m)).detach());
        }
    }
}
