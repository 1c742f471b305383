//! torchvision's ResNet-18 trunk (conv1 … layer4, no pooling or classifier) in eval mode:
//! BatchNorm uses its running statistics, folded into the convolution's weights and a bias
//! (one pass over the activations instead of three; rounding differs from PyTorch's
//! separate BatchNorm by a few float32 ulps). With [`Kernels::Host`] it runs on the CPU
//! kernels of `avsl_kernels::conv` whatever the device of its input (the result goes back to that
//! device); with [`Kernels::Device`] as burn operations on its input's device (a GPU).

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::arch::{ConvBnSpec, TrunkSpec};
use crate::kernels::Kernels;
use crate::weights::{ModelError, Weights};
use avsl_kernels::Activation;
use avsl_kernels::conv::{HostConv, max_pool_3x3_s2};

const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by eval-mode BatchNorm, as one convolution with bias.
enum ConvBn {
    Host(HostConv),
    Device(Box<DeviceConv>),
}

/// A folded convolution's tensors on the device.
struct DeviceConv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

impl ConvBn {
    fn load(w: &mut Weights, spec: &ConvBnSpec, kernels: Kernels, device: &Device) -> Result<ConvBn, ModelError> {
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
        Ok(match kernels {
            Kernels::Host => ConvBn::Host(HostConv::new(weight, bias, [out_c, in_c, k], spec.stride, spec.padding())),
            Kernels::Device => ConvBn::Device(Box::new(DeviceConv {
                weight: Tensor::from_data(TensorData::new(weight, [out_c, in_c, k, k]), device),
                bias: Tensor::from_data(TensorData::new(bias, [out_c]), device),
                options: ConvOptions::new([spec.stride; 2], [spec.padding(); 2], [1, 1], 1),
            })),
        })
    }

    fn host(&self) -> &HostConv {
        match self {
            ConvBn::Host(conv) => conv,
            ConvBn::Device(_) => unreachable!("a trunk's convolutions all run on one kind of kernel"),
        }
    }

    /// The convolution, plus `residual`, then ReLU when `activate`, on the device.
    fn forward_device(&self, x: Tensor<4>, residual: Option<Tensor<4>>, activate: bool) -> Tensor<4> {
        let ConvBn::Device(conv) = self else { unreachable!("a trunk's convolutions all run on one kind of kernel") };
        let y = conv2d(x, conv.weight.clone(), Some(conv.bias.clone()), conv.options.clone());
        let y = match residual {
            Some(r) => y.add(r),
            None => y,
        };
        if activate { relu(y) } else { y }
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
        let identity = self.downsample.as_ref().map(|d| d.host().forward(x, None, false));
        let y = self.conv1.host().forward(x, None, true);
        self.conv2.host().forward(&y, Some(identity.as_ref().unwrap_or(x)), true)
    }

    fn forward_device(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.forward_device(x.clone(), None, false),
            None => x.clone(),
        };
        let y = self.conv1.forward_device(x, None, true);
        self.conv2.forward_device(y, Some(identity), true)
    }
}

/// A ResNet-18 trunk (any base width); 3 input channels for images, 1 for spectrograms.
pub struct ResNet18 {
    stem: ConvBn,
    max_pool: bool,
    blocks: Vec<BasicBlock>,
    kernels: Kernels,
}

impl ResNet18 {
    /// Takes the tensors `spec` names out of `w`, for `kernels`; device kernels keep
    /// their weights on `device`.
    pub fn load(w: &mut Weights, spec: &TrunkSpec, kernels: Kernels, device: &Device) -> Result<ResNet18, ModelError> {
        let load = |w: &mut Weights, spec: &ConvBnSpec| ConvBn::load(w, spec, kernels, device);
        let stem = load(w, &spec.stem)?;
        let blocks = spec
            .blocks
            .iter()
            .map(|b| {
                Ok(BasicBlock {
                    conv1: load(w, &b.conv1)?,
                    conv2: load(w, &b.conv2)?,
                    downsample: b.downsample.as_ref().map(|d| load(w, d)).transpose()?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(ResNet18 { stem, max_pool: spec.max_pool, blocks, kernels })
    }

    /// `[B, C, H, W]` → layer4 features `[B, 8·width, H/32, W/32]`, on the input's device.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.kernels == Kernels::Device {
            let stem = self.stem.forward_device(x, None, true);
            let pool = MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]);
            let pooled = if self.max_pool { max_pool2d(stem, pool) } else { stem };
            return self.blocks.iter().fold(pooled, |y, block| block.forward_device(y));
        }
        let [n, c, h, w] = x.dims();
        let device: Device = x.device();
        let data = x.into_data().try_to_vec::<f32>().expect("float32 input");
        let stem = self.stem.host().forward(&Activation { n, c, h, w, data }, None, true);
        let mut y = if self.max_pool { max_pool_3x3_s2(&stem) } else { stem };
        for block in &self.blocks {
            y = block.forward(&y);
        }
        Tensor::from_data(TensorData::new(y.data, [y.n, y.c, y.h, y.w]), &device)
    }
}
