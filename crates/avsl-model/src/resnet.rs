//! torchvision's ResNet-18 trunk (conv1 … layer4, no pooling or classifier) in eval mode:
//! BatchNorm uses its running statistics, folded into the convolution's weights and a bias
//! (one pass over the activations instead of three; rounding differs from PyTorch's
//! separate BatchNorm by a few float32 ulps). It runs on the CPU kernels of `host_conv`
//! whatever the device of its input (the result goes back to that device); the
//! `trainable` module runs the same network with burn's operations on any device.

use burn::tensor::{Device, Tensor, TensorData};

use crate::arch::{ConvBnSpec, TrunkSpec};
use crate::host_conv::{Activation, HostConv, max_pool_3x3_s2};
use crate::weights::{ModelError, Weights};

const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by eval-mode BatchNorm, as one convolution with bias.
struct ConvBn(HostConv);

impl ConvBn {
    fn load(w: &mut Weights, spec: &ConvBnSpec) -> Result<ConvBn, ModelError> {
        let [out_c, in_c, k, _] = spec.weight_shape();
        let mut weight = w.take_values(&format!("{}.weight", spec.conv), &spec.weight_shape())?;
        let mut bn = |leaf: &str| w.take_values(&format!("{}.{leaf}", spec.bn), &[out_c]);
        let (gamma, beta, mean, var) = (bn("weight")?, bn("bias")?, bn("running_mean")?, bn("running_var")?);
        let mut bias = vec![0.0f32; out_c];
        for o in 0..out_c {
            let scale = gamma[o] as f64 / (var[o] as f64 + BN_EPS).sqrt();
            bias[o] = (beta[o] as f64 - mean[o] as f64 * scale) as f32;
            weight[o * in_c * k * k..(o + 1) * in_c * k * k].iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
        }
        Ok(ConvBn(HostConv::new(weight, bias, [out_c, in_c, k], spec.stride, spec.padding())))
    }
}

/// torchvision's BasicBlock.
struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    fn forward(&self, x: &Activation) -> Activation {
        let identity = self.downsample.as_ref().map(|d| d.0.forward(x, None, false));
        let y = self.conv1.0.forward(x, None, true);
        self.conv2.0.forward(&y, Some(identity.as_ref().unwrap_or(x)), true)
    }
}

/// A ResNet-18 trunk (any base width); 3 input channels for images, 1 for spectrograms.
pub struct ResNet18 {
    stem: ConvBn,
    blocks: Vec<BasicBlock>,
}

impl ResNet18 {
    /// Takes the tensors `spec` names out of `w`.
    pub fn load(w: &mut Weights, spec: &TrunkSpec) -> Result<ResNet18, ModelError> {
        let stem = ConvBn::load(w, &spec.stem)?;
        let blocks = spec
            .blocks
            .iter()
            .map(|b| {
                Ok(BasicBlock {
                    conv1: ConvBn::load(w, &b.conv1)?,
                    conv2: ConvBn::load(w, &b.conv2)?,
                    downsample: b.downsample.as_ref().map(|d| ConvBn::load(w, d)).transpose()?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(ResNet18 { stem, blocks })
    }

    /// `[B, C, H, W]` → layer4 features `[B, 8·width, H/32, W/32]`, on the input's device.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let device: Device = x.device();
        let data = x.into_data().try_to_vec::<f32>().expect("float32 input");
        let mut y = max_pool_3x3_s2(&self.stem.0.forward(&Activation { n, c, h, w, data }, None, true));
        for block in &self.blocks {
            y = block.forward(&y);
        }
        Tensor::from_data(TensorData::new(y.data, [y.n, y.c, y.h, y.w]), &device)
    }
}
