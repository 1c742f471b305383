//! torchvision's ResNet-18 trunk (conv1 … layer4, no pooling or classifier) in eval mode:
//! BatchNorm uses its running statistics, folded into the convolution's weights and a bias
//! (one pass over the activations instead of three; rounding differs from PyTorch's
//! separate BatchNorm by a few float32 ulps).

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

use crate::weights::{ModelError, Weights};

const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by eval-mode BatchNorm, as one convolution with bias.
struct ConvBn {
    weight: Tensor<4>,
    bias: Tensor<1>,
    stride: usize,
    padding: usize,
}

impl ConvBn {
    fn load(
        w: &mut Weights,
        conv: &str,
        bn: &str,
        [out_c, in_c, k]: [usize; 3],
        stride: usize,
        device: &Device,
    ) -> Result<ConvBn, ModelError> {
        let weight = w.take(&format!("{conv}.weight"), [out_c, in_c, k, k], device)?;
        let gamma = w.take(&format!("{bn}.weight"), [out_c], device)?;
        let beta = w.take(&format!("{bn}.bias"), [out_c], device)?;
        let mean = w.take(&format!("{bn}.running_mean"), [out_c], device)?;
        let var = w.take(&format!("{bn}.running_var"), [out_c], device)?;
        let scale = gamma.div(var.add_scalar(BN_EPS).sqrt());
        let bias = beta.sub(mean.mul(scale.clone()));
        let weight = weight.mul(scale.reshape([out_c, 1, 1, 1]));
        Ok(ConvBn { weight, bias, stride, padding: k / 2 })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1);
        conv2d(x, self.weight.clone(), Some(self.bias.clone()), options)
    }
}

/// torchvision's BasicBlock.
struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let y = relu(self.conv1.forward(x));
        relu(self.conv2.forward(y).add(identity))
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
    pub fn load(w: &mut Weights, prefix: &str, in_channels: usize, device: &Device) -> Result<ResNet18, ModelError> {
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
        let stem =
            ConvBn::load(w, &format!("{prefix}conv1"), &format!("{prefix}bn1"), [64, in_channels, 7], 2, device)?;
        let mut blocks = Vec::with_capacity(8);
        let mut in_c = 64;
        for (layer, out_c) in [64usize, 128, 256, 512].into_iter().enumerate() {
            for b in 0..2 {
                let p = format!("{prefix}layer{}.{b}", layer + 1);
                let stride = if b == 0 && layer > 0 { 2 } else { 1 };
                let block_in = if b == 0 { in_c } else { out_c };
                let conv1 =
                    ConvBn::load(w, &format!("{p}.conv1"), &format!("{p}.bn1"), [out_c, block_in, 3], stride, device)?;
                let conv2 = ConvBn::load(w, &format!("{p}.conv2"), &format!("{p}.bn2"), [out_c, out_c, 3], 1, device)?;
                let downsample = if b == 0 && (stride != 1 || block_in != out_c) {
                    let (c, n) = (format!("{p}.downsample.0"), format!("{p}.downsample.1"));
                    Some(ConvBn::load(w, &c, &n, [out_c, block_in, 1], stride, device)?)
                } else {
                    None
                };
                blocks.push(BasicBlock { conv1, conv2, downsample });
            }
            in_c = out_c;
        }
        Ok(ResNet18 { stem, blocks })
    }

    /// `[B, C, H, W]` → layer4 features `[B, 512, H/32, W/32]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.stem.forward(x));
        let mut x = max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]));
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }
}
