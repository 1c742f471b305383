//! torchvision's ResNet-18 trunk (conv1 … layer4, no pooling or classifier) in eval mode:
//! BatchNorm uses its running statistics, folded into the convolution's weights and a bias
//! (one pass over the activations instead of three; rounding differs from PyTorch's
//! separate BatchNorm by a few float32 ulps).

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::host_conv::{Activation, HostConv, max_pool_3x3_s2};
use crate::weights::{ModelError, Weights};

const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by eval-mode BatchNorm, as one convolution with bias:
/// on the CPU our own kernel, elsewhere burn's.
struct ConvBn {
    host: HostConv,
    device_weights: Option<(Tensor<4>, Tensor<1>)>,
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
        on_host: bool,
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
        let device_weights = (!on_host).then(|| {
            (
                Tensor::from_data(TensorData::new(weight.clone(), [out_c, in_c, k, k]), device),
                Tensor::from_data(TensorData::new(bias.clone(), [out_c]), device),
            )
        });
        let host = HostConv::new(weight, bias, [out_c, in_c, k], stride, k / 2);
        Ok(ConvBn { host, device_weights, stride, padding: k / 2 })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (weight, bias) = self.device_weights.as_ref().expect("device weights off the host path");
        let options = ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1);
        conv2d(x, weight.clone(), Some(bias.clone()), options)
    }
}

/// torchvision's BasicBlock.
struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    fn forward_host(&self, x: &Activation) -> Activation {
        let identity = self.downsample.as_ref().map(|d| d.host.forward(x, None, false));
        let y = self.conv1.host.forward(x, None, true);
        self.conv2.host.forward(&y, Some(identity.as_ref().unwrap_or(x)), true)
    }

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
    device: Device,
    on_host: bool,
}

/// Channel width of the last stage.
pub const FEATURES: usize = 512;

impl ResNet18 {
    /// Takes `{prefix}.conv1.weight`, `{prefix}.bn1.*`, `{prefix}.layer{1-4}.{0,1}.…`
    /// (torchvision's own files have no prefix: pass `""`).
    pub fn load(w: &mut Weights, prefix: &str, in_channels: usize, device: &Device) -> Result<ResNet18, ModelError> {
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}.") };
        // burn's pure-Rust CPU device runs our convolution kernels instead of its own.
        let on_host = *device == Device::flex();
        let stem = ConvBn::load(
            w,
            &format!("{prefix}conv1"),
            &format!("{prefix}bn1"),
            [64, in_channels, 7],
            2,
            device,
            on_host,
        )?;
        let mut blocks = Vec::with_capacity(8);
        let mut in_c = 64;
        for (layer, out_c) in [64usize, 128, 256, 512].into_iter().enumerate() {
            for b in 0..2 {
                let p = format!("{prefix}layer{}.{b}", layer + 1);
                let stride = if b == 0 && layer > 0 { 2 } else { 1 };
                let block_in = if b == 0 { in_c } else { out_c };
                let (c1, n1, c2, n2) =
                    (format!("{p}.conv1"), format!("{p}.bn1"), format!("{p}.conv2"), format!("{p}.bn2"));
                let conv1 = ConvBn::load(w, &c1, &n1, [out_c, block_in, 3], stride, device, on_host)?;
                let conv2 = ConvBn::load(w, &c2, &n2, [out_c, out_c, 3], 1, device, on_host)?;
                let downsample = if b == 0 && (stride != 1 || block_in != out_c) {
                    let (c, n) = (format!("{p}.downsample.0"), format!("{p}.downsample.1"));
                    Some(ConvBn::load(w, &c, &n, [out_c, block_in, 1], stride, device, on_host)?)
                } else {
                    None
                };
                blocks.push(BasicBlock { conv1, conv2, downsample });
            }
            in_c = out_c;
        }
        Ok(ResNet18 { stem, blocks, device: device.clone(), on_host })
    }

    /// `[B, C, H, W]` → layer4 features `[B, 512, H/32, W/32]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.on_host {
            let [n, c, h, w] = x.dims();
            let data = x.into_data().try_to_vec::<f32>().expect("float32 input");
            let y = self.forward_host(Activation { n, c, h, w, data });
            return Tensor::from_data(TensorData::new(y.data, [y.n, y.c, y.h, y.w]), &self.device);
        }
        let x = relu(self.stem.forward(x));
        let mut x = max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]));
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }

    fn forward_host(&self, x: Activation) -> Activation {
        let mut x = max_pool_3x3_s2(&self.stem.host.forward(&x, None, true));
        for block in &self.blocks {
            x = block.forward_host(&x);
        }
        x
    }
}
