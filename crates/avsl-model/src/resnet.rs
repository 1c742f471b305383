//! torchvision's ResNet-18 trunk (conv1 … layer4, no pooling or classifier) in eval mode:
//! BatchNorm uses its running statistics, folded into the convolution's weights and a bias
//! (one pass over the activations instead of three; rounding differs from PyTorch's
//! separate BatchNorm by a few float32 ulps). It runs on the CPU kernels of `host_conv`
//! whatever the device of its input (the result goes back to that device); the
//! `trainable` module runs the same network with burn's operations on any device.

use burn::tensor::{Device, Tensor, TensorData};

use crate::host_conv::{Activation, HostConv, max_pool_3x3_s2};
use crate::weights::{ModelError, Weights};

const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by eval-mode BatchNorm, as one convolution with bias.
struct ConvBn(HostConv);

impl ConvBn {
    fn load(
        w: &mut Weights,
        conv: &str,
        bn: &str,
        [out_c, in_c, k]: [usize; 3],
        stride: usize,
    ) -> Result<ConvBn, ModelError> {
        let mut weight = w.take_values(&format!("{conv}.weight"), &[out_c, in_c, k, k])?;
        let gamma = w.take_values(&format!("{bn}.weight"), &[out_c])?;
        let beta = w.take_values(&format!("{bn}.bias"), &[out_c])?;
        let mean = w.take_values(&format!("{bn}.running_mean"), &[out_c])?;
        let var = w.take_values(&format!("{bn}.running_var"), &[out_c])?;
        let mut bias = vec![0.0f32; out_c];
        for o in 0..out_c {
            let scale = gamma[o] as f64 / (var[o] as f64 + BN_EPS).sqrt();
            bias[o] = (beta[o] as f64 - mean[o] as f64 * scale) as f32;
            weight[o * in_c * k * k..(o + 1) * in_c * k * k].iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
        }
        Ok(ConvBn(HostConv::new(weight, bias, [out_c, in_c, k], stride, k / 2)))
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

/// The ResNet-18 trunk; `in_channels` is 3 for images, 1 for spectrograms.
pub struct ResNet18 {
    stem: ConvBn,
    blocks: Vec<BasicBlock>,
}

/// Channel width of the last stage.
pub const FEATURES: usize = 512;

impl ResNet18 {
    /// Takes `{prefix}.conv1.weight`, `{prefix}.bn1.*`, `{prefix}.layer{1-4}.{0,1}.…`
    /// (torchvision's own files have no prefix: pass `""`).
    pub fn load(w: &mut Weights, prefix: &str, in_channels: usize) -> Result<ResNet18, ModelError> {
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
        let stem = ConvBn::load(w, &format!("{prefix}conv1"), &format!("{prefix}bn1"), [64, in_channels, 7], 2)?;
        let mut blocks = Vec::with_capacity(8);
        let mut in_c = 64;
        for (layer, out_c) in [64usize, 128, 256, 512].into_iter().enumerate() {
            for b in 0..2 {
                let p = format!("{prefix}layer{}.{b}", layer + 1);
                let stride = if b == 0 && layer > 0 { 2 } else { 1 };
                let block_in = if b == 0 { in_c } else { out_c };
                let (c1, n1, c2, n2) =
                    (format!("{p}.conv1"), format!("{p}.bn1"), format!("{p}.conv2"), format!("{p}.bn2"));
                let conv1 = ConvBn::load(w, &c1, &n1, [out_c, block_in, 3], stride)?;
                let conv2 = ConvBn::load(w, &c2, &n2, [out_c, out_c, 3], 1)?;
                let downsample = if b == 0 && (stride != 1 || block_in != out_c) {
                    let (c, n) = (format!("{p}.downsample.0"), format!("{p}.downsample.1"));
                    Some(ConvBn::load(w, &c, &n, [out_c, block_in, 1], stride)?)
                } else {
                    None
                };
                blocks.push(BasicBlock { conv1, conv2, downsample });
            }
            in_c = out_c;
        }
        Ok(ResNet18 { stem, blocks })
    }

    /// `[B, C, H, W]` → layer4 features `[B, 512, H/32, W/32]`, on the input's device.
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
