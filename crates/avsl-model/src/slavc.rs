//! SLAVC in eval mode (METHOD.md §3, §7 items 12–14): two L2-normalised projections per
//! modality and the localisation map S = ((v¹·a¹) + (v²·a²)) / 2τ.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use crate::resnet::{FEATURES, ResNet18};
use crate::weights::{ModelError, Weights};

/// `F.normalize(x, dim)`: x / max(‖x‖₂, 1e-12) along `dim` (kept for broadcasting).
fn l2_normalize<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(dim).sqrt().clamp_min(1e-12);
    x.div(norm)
}

struct Conv1x1 {
    weight: Tensor<4>,
    bias: Tensor<1>,
}

struct Linear {
    weight: Tensor<2>,
    bias: Tensor<2>,
}

/// One encoder set: trunks and heads (the online one or the momentum copy).
pub struct Slavc {
    imgnet: ResNet18,
    audnet: ResNet18,
    img_proj: [Conv1x1; 2],
    aud_proj: [Linear; 2],
    pub tau: f64,
}

impl Slavc {
    /// Loads `{prefix}imgnet.*`, `{prefix}audnet.*`, `{prefix}img_proj{1,2}.*`,
    /// `{prefix}aud_proj{1,2}.*` (prefix `""` for the online encoders, `"momentum_"` for
    /// the momentum ones).
    pub fn load(w: &mut Weights, prefix: &str, dim: usize, tau: f64, device: &Device) -> Result<Slavc, ModelError> {
        let imgnet = ResNet18::load(w, &format!("{prefix}imgnet"), 3, device)?;
        let audnet = ResNet18::load(w, &format!("{prefix}audnet"), 1, device)?;
        let mut conv = |k: usize| -> Result<Conv1x1, ModelError> {
            Ok(Conv1x1 {
                weight: w.take(&format!("{prefix}img_proj{k}.weight"), [dim, FEATURES, 1, 1], device)?,
                bias: w.take(&format!("{prefix}img_proj{k}.bias"), [dim], device)?,
            })
        };
        let img_proj = [conv(1)?, conv(2)?];
        let mut linear = |k: usize| -> Result<Linear, ModelError> {
            Ok(Linear {
                weight: w.take(&format!("{prefix}aud_proj{k}.weight"), [dim, FEATURES], device)?,
                bias: w.take::<1>(&format!("{prefix}aud_proj{k}.bias"), [dim], device)?.reshape([1, dim]),
            })
        };
        let aud_proj = [linear(1)?, linear(2)?];
        Ok(Slavc { imgnet, audnet, img_proj, aud_proj, tau })
    }

    /// Image trunk: `[B, 3, 224, 224]` → `[B, 512, 7, 7]`.
    pub fn image_trunk(&self, image: Tensor<4>) -> Tensor<4> {
        self.imgnet.forward(image)
    }

    /// Audio trunk with global max pooling: `[B, 1, 257, T]` → `[B, 512]`.
    pub fn audio_trunk(&self, spectrogram: Tensor<4>) -> Tensor<2> {
        let f = self.audnet.forward(spectrogram).max_dim(3).max_dim(2);
        let [b, c, _, _] = f.dims();
        f.reshape([b, c])
    }

    /// The localisation map S `[B, h, w]` of each image with its own audio.
    pub fn maps(&self, image: Tensor<4>, spectrogram: Tensor<4>) -> Tensor<3> {
        let features = self.image_trunk(image);
        let audio = self.audio_trunk(spectrogram);
        let mut sum: Option<Tensor<4>> = None;
        for (conv, linear) in self.img_proj.iter().zip(&self.aud_proj) {
            let v = conv2d(
                features.clone(),
                conv.weight.clone(),
                Some(conv.bias.clone()),
                ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            );
            let v = l2_normalize(v, 1);
            let a = l2_normalize(audio.clone().matmul(linear.weight.clone().transpose()).add(linear.bias.clone()), 1);
            let [b, d] = a.dims();
            let s = v.mul(a.reshape([b, d, 1, 1])).sum_dim(1).div_scalar(self.tau);
            sum = Some(match sum {
                Some(acc) => acc.add(s),
                None => s,
            });
        }
        let s = sum.expect("two heads").div_scalar(2.0);
        let [b, _, h, w] = s.dims();
        s.reshape([b, h, w])
    }
}
