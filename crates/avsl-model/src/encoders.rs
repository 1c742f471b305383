//! One encoder set in eval mode (docs/method.md §3–4, §7 items 12–14): the image and audio
//! ResNet-18 trunks and their L2-normalised projection heads: two per modality for SLAVC
//! (`img_proj1/2`, `aud_proj1/2`), one for EZ-VSL (`img_proj`, `aud_proj`). The map is the
//! mean over heads of ⟨v(p), a⟩/τ: S = ((v¹·a¹)/τ + (v²·a²)/τ)/2 for SLAVC, v·a/τ for EZ-VSL.
//! SSL-align has no map heads: its one "head" is the trunks' features themselves,
//! normalised, so its map is cos(v(p), a)/τ (docs/method.md §4b).

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use crate::arch::{ALIGN_HEADS, Architecture, EncoderSet, ModelConfig};
use crate::kernels::Kernels;
use crate::resnet::ResNet18;
use crate::weights::{ModelError, Weights};

/// `F.normalize(x, dim)`: x / max(‖x‖₂, 1e-12) along `dim` (kept for broadcasting).
pub fn l2_normalize<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
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

impl Linear {
    fn take(w: &mut Weights, name: &str, out: usize, inputs: usize, device: &Device) -> Result<Linear, ModelError> {
        Ok(Linear {
            weight: w.take(&format!("{name}.weight"), [out, inputs], device)?,
            bias: w.take::<1>(&format!("{name}.bias"), [out], device)?.reshape([1, out]),
        })
    }

    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.clone().transpose()).add(self.bias.clone())
    }
}

/// SSL-align's alignment projection p_v or p_a: Linear → ReLU → Linear (see
/// [`crate::arch::ALIGN_HEADS`]).
struct Projection {
    first: Linear,
    second: Linear,
}

impl Projection {
    fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        self.second.apply(burn::tensor::activation::relu(self.first.apply(x)))
    }
}

pub struct Encoders {
    imgnet: ResNet18,
    audnet: ResNet18,
    img_proj: Vec<Conv1x1>,
    aud_proj: Vec<Linear>,
    /// SSL-align's (p_v, p_a); `None` for the other architectures.
    align: Option<(Projection, Projection)>,
    pub config: ModelConfig,
    pub set: EncoderSet,
}

/// What one pass of the image (or audio) encoder gives: the normalised embedding of every
/// map head, and SSL-align's normalised alignment projection.
pub struct Outputs<T> {
    pub heads: Vec<T>,
    pub projected: Option<Tensor<2>>,
}

impl Encoders {
    /// Takes the tensors of one encoder set (`imgnet.*`, `audnet.*`, the heads; with
    /// `momentum_` in front for the momentum set) out of `w`.
    /// The trunks run on the kernels for `device` ([`Kernels::for_device`]).
    pub fn load(
        w: &mut Weights,
        config: ModelConfig,
        set: EncoderSet,
        device: &Device,
    ) -> Result<Encoders, ModelError> {
        Encoders::load_with_kernels(w, config, set, device, Kernels::for_device(device))
    }

    /// As [`Encoders::load`], with the trunks' kernels chosen by the caller.
    pub fn load_with_kernels(
        w: &mut Weights,
        config: ModelConfig,
        set: EncoderSet,
        device: &Device,
        kernels: Kernels,
    ) -> Result<Encoders, ModelError> {
        let p = set.prefix();
        let imgnet = ResNet18::load(w, &config.trunk(&format!("{p}imgnet."), 3), kernels, device)?;
        let audnet = ResNet18::load(w, &config.trunk(&format!("{p}audnet."), 1), kernels, device)?;
        let (dim, features) = (config.dim, config.features());
        let mut img_proj = Vec::new();
        let mut aud_proj = Vec::new();
        for head in config.architecture.heads() {
            img_proj.push(Conv1x1 {
                weight: w.take(&format!("{p}img_proj{head}.weight"), [dim, features, 1, 1], device)?,
                bias: w.take(&format!("{p}img_proj{head}.bias"), [dim], device)?,
            });
            aud_proj.push(Linear::take(w, &format!("{p}aud_proj{head}"), dim, features, device)?);
        }
        let align = match config.architecture {
            Architecture::SslAlign => {
                let mut projection = |name: &str| -> Result<Projection, ModelError> {
                    Ok(Projection {
                        first: Linear::take(w, &format!("{p}{name}.0"), features, features, device)?,
                        second: Linear::take(w, &format!("{p}{name}.2"), dim, features, device)?,
                    })
                };
                Some((projection(ALIGN_HEADS[0])?, projection(ALIGN_HEADS[1])?))
            }
            _ => None,
        };
        Ok(Encoders { imgnet, audnet, img_proj, aud_proj, align, config, set })
    }

    /// Image trunk: `[B, 3, 224, 224]` → `[B, 8·width, 7, 7]`.
    pub fn image_trunk(&self, image: Tensor<4>) -> Tensor<4> {
        self.imgnet.forward(image)
    }

    /// Audio trunk with global max pooling: `[B, 1, 257, T]` → `[B, 8·width]`.
    pub fn audio_trunk(&self, spectrogram: Tensor<4>) -> Tensor<2> {
        let f = self.audnet.forward(spectrogram).max_dim(3).max_dim(2);
        let [b, c, _, _] = f.dims();
        f.reshape([b, c])
    }

    /// The normalised image embedding of every head, `[B, d, 7, 7]` each.
    pub fn image_embeddings(&self, image: Tensor<4>) -> Vec<Tensor<4>> {
        self.image_outputs(image).heads
    }

    /// The image embeddings and (SSL-align) the projection p_v of the trunk's features
    /// averaged over positions, from one trunk pass.
    pub fn image_outputs(&self, image: Tensor<4>) -> Outputs<Tensor<4>> {
        let features = self.image_trunk(image);
        let projected = self.align.as_ref().map(|(p_v, _)| {
            let [b, c, _, _] = features.dims();
            l2_normalize(p_v.apply(features.clone().mean_dim(3).mean_dim(2).reshape([b, c])), 1)
        });
        let heads = if self.img_proj.is_empty() {
            vec![l2_normalize(features, 1)]
        } else {
            self.img_proj
                .iter()
                .map(|conv| {
                    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
                    l2_normalize(conv2d(features.clone(), conv.weight.clone(), Some(conv.bias.clone()), options), 1)
                })
                .collect()
        };
        Outputs { heads, projected }
    }

    /// The normalised audio embedding of every head, `[B, d]` each.
    pub fn audio_embeddings(&self, spectrogram: Tensor<4>) -> Vec<Tensor<2>> {
        self.audio_outputs(spectrogram).heads
    }

    /// The audio embeddings and (SSL-align) the projection p_a of the pooled features.
    pub fn audio_outputs(&self, spectrogram: Tensor<4>) -> Outputs<Tensor<2>> {
        let pooled = self.audio_trunk(spectrogram);
        let projected = self.align.as_ref().map(|(_, p_a)| l2_normalize(p_a.apply(pooled.clone()), 1));
        let heads = if self.aud_proj.is_empty() {
            vec![l2_normalize(pooled, 1)]
        } else {
            self.aud_proj.iter().map(|l| l2_normalize(l.apply(pooled.clone()), 1)).collect()
        };
        Outputs { heads, projected }
    }

    /// The localisation map S `[B, h, w]` of each image with its own audio.
    pub fn maps(&self, image: Tensor<4>, spectrogram: Tensor<4>) -> Tensor<3> {
        paired_maps(&self.image_embeddings(image), &self.audio_embeddings(spectrogram), self.config.tau)
    }
}

/// S[n] = mean over heads k of ⟨v_k[n](p), a_k[n]⟩/τ, `[B, h, w]`.
pub fn paired_maps(images: &[Tensor<4>], audios: &[Tensor<2>], tau: f64) -> Tensor<3> {
    let heads = images.len();
    let sum = images
        .iter()
        .zip(audios)
        .map(|(v, a)| {
            let [b, d] = a.dims();
            v.clone().mul(a.clone().reshape([b, d, 1, 1])).sum_dim(1).div_scalar(tau)
        })
        .reduce(|acc, s| acc.add(s))
        .expect("at least one head");
    let s = if heads > 1 { sum.div_scalar(heads as f64) } else { sum };
    let [b, _, h, w] = s.dims();
    s.reshape([b, h, w])
}
