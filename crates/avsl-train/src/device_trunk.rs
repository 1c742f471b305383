//! The ResNet-18 trunk in training mode as burn operations, so it runs (forward and
//! autodiff backward) on whatever device its tensors live on: BatchNorm with batch
//! statistics and PyTorch's running-statistics update. The CPU build trains with
//! `trunk_train`'s kernels instead; this path exists for GPUs (see `kernels`).

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::module::{batch_norm_train, conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};

use avsl_model::arch::{ConvBnSpec, TrunkSpec};

const BN_EPS: f64 = 1e-5;
/// PyTorch's BatchNorm momentum: running = 0.9 · running + 0.1 · batch statistic.
const BN_MOMENTUM: f64 = 0.1;

/// Flat tensors by the authors' names, all on one device.
pub type TensorMap = BTreeMap<String, Tensor<1>>;

pub fn tensor<'a>(map: &'a TensorMap, name: &str) -> &'a Tensor<1> {
    map.get(name).unwrap_or_else(|| panic!("no tensor {name} (the state is built from the architecture)"))
}

/// A convolution (no bias) then training-mode BatchNorm; the running statistics in
/// `buffers` (tensors without autodiff) move towards the batch's.
fn conv_bn(params: &TensorMap, buffers: &mut TensorMap, spec: &ConvBnSpec, x: Tensor<4>) -> Tensor<4> {
    let weight = tensor(params, &format!("{}.weight", spec.conv)).clone().reshape(spec.weight_shape());
    let options = ConvOptions::new([spec.stride; 2], [spec.padding(); 2], [1, 1], 1);
    let y = conv2d(x, weight, None, options);
    let [n, _, h, w] = y.dims();
    let gamma = tensor(params, &format!("{}.weight", spec.bn)).clone();
    let beta = tensor(params, &format!("{}.bias", spec.bn)).clone();
    let out = batch_norm_train(y, gamma, beta, BN_EPS);
    // The running variance takes the unbiased batch variance, as PyTorch's does.
    let count = (n * h * w) as f64;
    let unbiased = out.variance.inner().mul_scalar(count / (count - 1.0).max(1.0));
    for (leaf, stat) in [("running_mean", out.mean.inner()), ("running_var", unbiased)] {
        let name = format!("{}.{leaf}", spec.bn);
        let running = tensor(buffers, &name).clone();
        let updated = running.mul_scalar(1.0 - BN_MOMENTUM).add(stat.mul_scalar(BN_MOMENTUM));
        buffers.insert(name, updated);
    }
    out.output
}

/// The trunk's forward pass in training mode: `[B, C, H, W]` → layer4 features. With
/// autodiff leaves in `params` the result differentiates with respect to them.
pub fn trunk_forward(spec: &TrunkSpec, params: &TensorMap, buffers: &mut TensorMap, x: Tensor<4>) -> Tensor<4> {
    let stem = relu(conv_bn(params, buffers, &spec.stem, x));
    let mut x = if spec.max_pool {
        max_pool2d(stem, MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]))
    } else {
        stem
    };
    for block in &spec.blocks {
        let identity = match &block.downsample {
            Some(d) => conv_bn(params, buffers, d, x.clone()),
            None => x.clone(),
        };
        let hidden = relu(conv_bn(params, buffers, &block.conv1, x));
        x = relu(conv_bn(params, buffers, &block.conv2, hidden).add(identity));
    }
    x
}
