//! A model in training (METHOD §2–4): parameters and BatchNorm running statistics on the
//! host under the authors' names. One step runs the trunks on the CPU kernels of
//! `trunk_train` (forward with a tape, backward by hand) and the small rest — visual
//! dropout, projection heads, normalisation, the loss — as burn tensors on an autodiff
//! device, whose gradients with respect to the trunks' features start the trunks'
//! backward pass.

use std::collections::BTreeMap;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use burn::tensor::activation::relu;

use crate::arch::{ALIGN_HEADS, Architecture, EncoderSet, ModelConfig};
use crate::encoders::l2_normalize;
use crate::host_conv::Activation;
use crate::loss::{AlignViews, ezvsl_loss, semi_supervised_loss, slavc_loss, ssl_align_loss};
use crate::trunk_train::{TrunkTape, trunk_backward, trunk_forward};
use crate::weights::{NamedTensor, Weights};

/// Everything a model holds: parameters (online and, for SLAVC, momentum copies) and
/// BatchNorm running statistics.
pub struct TrainState {
    pub config: ModelConfig,
    pub params: Weights,
    pub buffers: Weights,
    /// Where the heads and the loss run (an autodiff device).
    pub device: Device,
    /// SSL-align: include the alignment term s_A of eq. 5 (off: an ablation in which the
    /// projections are neither used nor trained).
    pub alignment_loss: bool,
}

fn is_buffer(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

/// One training batch: normalised images `[B, 3, H, W]` and spectrograms `[B, 1, F, T]`.
/// For SSL-align, the three views of B samples one after the other (`[3B, …]`: the
/// samples, their augmentations, their neighbours).
pub struct Batch {
    pub images: Activation,
    pub spectrograms: Activation,
}

/// Dropout masks of a step's image features (entries 0 or 1/(1 − p), shape
/// `[B, 8·width, H/32, W/32]`); `None` for no dropout.
#[derive(Default)]
pub struct Masks {
    pub online: Option<Tensor<4>>,
    pub target: Option<Tensor<4>>,
}

/// Ground-truth maps for the supervised samples of a batch (supplement eq. 9), on the
/// grid of the image features: `maps` is `[B, h, w]` row-major, values in [0, 1];
/// `supervised[b]` says whether sample b has one.
pub struct Supervision {
    pub maps: Vec<f32>,
    pub supervised: Vec<bool>,
}

/// One step's loss: the total, and the semi-supervised term when there was one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLoss {
    pub total: f64,
    pub semi: Option<f64>,
}

/// Features of one trunk as a leaf of the autodiff graph, with the tape that continues
/// its gradient into the trunk.
struct Leaf {
    tensor: Tensor<4>,
    tape: TrunkTape,
}

impl TrainState {
    /// Copies checkpoint tensors. Every name of the architecture must be present (verify
    /// the checkpoint first).
    pub fn new(weights: &Weights, config: ModelConfig, device: &Device) -> TrainState {
        let mut params = Weights::default();
        let mut buffers = Weights::default();
        for (name, _) in config.expected_shapes() {
            let t = weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}")).clone();
            if is_buffer(&name) { buffers.insert(name, t) } else { params.insert(name, t) }
        }
        TrainState { config, params, buffers, device: device.clone(), alignment_loss: true }
    }

    /// Names of the parameters the optimiser updates (the online ones).
    pub fn trainable(&self) -> Vec<String> {
        self.params.names().filter(|n| !n.starts_with("momentum_")).map(str::to_string).collect()
    }

    /// Every tensor under the authors' names.
    pub fn to_weights(&self) -> Weights {
        let mut w = Weights::default();
        for (name, t) in self.params.iter().chain(self.buffers.iter()) {
            w.insert(name, t.clone());
        }
        w
    }

    /// θ_m ← m·θ_m + (1 − m)·θ for every momentum parameter, in one pass: `m_image` for
    /// the image trunk and heads, `m_audio` for the audio ones. BatchNorm running
    /// statistics are not averaged (the momentum encoders keep their own).
    pub fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        let names: Vec<String> =
            self.params.names().filter(|n| n.starts_with("momentum_")).map(str::to_string).collect();
        for name in names {
            let m = if name.starts_with("momentum_img") { m_image } else { m_audio } as f32;
            // Out of the map while it is updated, so the online twin can be read in place.
            let mut target = self.params.remove(&name).expect("momentum parameter");
            let online = &self.params.get(&name["momentum_".len()..]).expect("online twin").values;
            for (t, &o) in target.values.iter_mut().zip(online) {
                *t = *t * m + o * (1.0 - m);
            }
            self.params.insert(name, target);
        }
    }

    /// Names (without the set's prefix) of the heads' parameters: the map heads, or
    /// SSL-align's alignment projections.
    fn head_names(&self) -> Vec<String> {
        let leaves = ["weight", "bias"];
        if self.config.architecture == Architecture::SslAlign {
            return ALIGN_HEADS
                .iter()
                .flat_map(|h| ["0", "2"].into_iter().flat_map(move |layer| leaves.map(|l| format!("{h}.{layer}.{l}"))))
                .collect();
        }
        self.config
            .architecture
            .heads()
            .iter()
            .flat_map(|head| {
                ["img_proj", "aud_proj"].into_iter().flat_map(move |part| leaves.map(|l| format!("{part}{head}.{l}")))
            })
            .collect()
    }

    /// The projection heads' parameters of `set` as flat tensors for this step; the
    /// online ones are leaves that collect gradients.
    fn heads(&self, set: EncoderSet) -> Heads {
        let p = set.prefix();
        let mut tensors = BTreeMap::new();
        for name in self.head_names() {
            let t = self.params.get(&format!("{p}{name}")).unwrap_or_else(|| panic!("no tensor {p}{name}"));
            let n = t.values.len();
            let tensor = Tensor::<1>::from_data(TensorData::new(t.values.clone(), [n]), &self.device);
            let tensor = if set == EncoderSet::Online { tensor.require_grad() } else { tensor };
            tensors.insert(name, tensor);
        }
        Heads { tensors }
    }

    fn to_tensor(&self, x: Activation) -> Tensor<4> {
        Tensor::from_data(TensorData::new(x.data, [x.n, x.c, x.h, x.w]), &self.device)
    }

    /// The trunk `{set}{imgnet|audnet}` on `x`: online trunks keep a tape and give a leaf
    /// that tracks gradients; momentum trunks give plain features.
    fn trunk(&mut self, set: EncoderSet, net: &str, x: Activation) -> (Tensor<4>, Option<Leaf>) {
        let prefix = format!("{}{net}.", set.prefix());
        let spec = self.config.trunk(&prefix, x.c);
        let online = set == EncoderSet::Online;
        let (features, tape) = trunk_forward(&spec, &self.params, &mut self.buffers, x, online);
        let tensor = self.to_tensor(features);
        match tape {
            Some(tape) => {
                let leaf = tensor.require_grad();
                (leaf.clone(), Some(Leaf { tensor: leaf, tape }))
            }
            None => (tensor, None),
        }
    }

    /// Normalised image embeddings of every head from trunk features (dropout first).
    fn image_heads(&self, heads: &Heads, features: Tensor<4>, dropout: Option<Tensor<4>>) -> Vec<Tensor<4>> {
        let features = match dropout {
            Some(mask) => features.mul(mask),
            None => features,
        };
        let [_, c, _, _] = features.dims();
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        self.config
            .architecture
            .heads()
            .iter()
            .map(|head| {
                let bias = heads.get(&format!("img_proj{head}.bias"));
                let [d] = bias.dims();
                let weight = heads.get(&format!("img_proj{head}.weight")).reshape([d, c, 1, 1]);
                l2_normalize(conv2d(features.clone(), weight, Some(bias), options.clone()), 1)
            })
            .collect()
    }

    /// Normalised audio embeddings of every head (global max pooling of the features).
    fn audio_heads(&self, heads: &Heads, features: Tensor<4>) -> Vec<Tensor<2>> {
        let f = features.max_dim(3).max_dim(2);
        let [b, c, _, _] = f.dims();
        let pooled = f.reshape([b, c]);
        self.config
            .architecture
            .heads()
            .iter()
            .map(|h| {
                let bias = heads.get(&format!("aud_proj{h}.bias"));
                let [d] = bias.dims();
                let w = heads.get(&format!("aud_proj{h}.weight")).reshape([d, c]);
                l2_normalize(pooled.clone().matmul(w.transpose()).add(bias.reshape([1, d])), 1)
            })
            .collect()
    }

    /// One step's loss and the gradient of every online parameter, in the authors' order
    /// (METHOD §3): online features, then (SLAVC) the momentum update with factors
    /// `momentum` = (image, audio), target features, the loss (plus eq. 9's term for the
    /// supervised samples). BatchNorm running statistics of every trunk that ran are
    /// updated.
    pub fn loss_and_gradients(
        &mut self,
        batch: Batch,
        masks: Masks,
        momentum: (f64, f64),
        supervision: Option<&Supervision>,
    ) -> (StepLoss, Weights) {
        if self.config.architecture == Architecture::SslAlign {
            return self.align_loss_and_gradients(batch);
        }
        let tau = self.config.tau;
        // SLAVC's momentum encoders see the same batch after the online ones.
        let target_inputs = (self.config.architecture == Architecture::Slavc)
            .then(|| (batch.images.clone(), batch.spectrograms.clone()));
        let (fv, leaf_v) = self.trunk(EncoderSet::Online, "imgnet", batch.images);
        let (fa, leaf_a) = self.trunk(EncoderSet::Online, "audnet", batch.spectrograms);
        let heads = self.heads(EncoderSet::Online);
        let v = self.image_heads(&heads, fv, masks.online);
        let a = self.audio_heads(&heads, fa);
        let loss = match target_inputs {
            Some((images, spectrograms)) => {
                self.momentum_update(momentum.0, momentum.1);
                let (fvt, _) = self.trunk(EncoderSet::Momentum, "imgnet", images);
                let (fat, _) = self.trunk(EncoderSet::Momentum, "audnet", spectrograms);
                let target_heads = self.heads(EncoderSet::Momentum);
                let vt = self.image_heads(&target_heads, fvt, masks.target);
                let at = self.audio_heads(&target_heads, fat);
                slavc_loss([&v[0], &v[1]], [&a[0], &a[1]], [&vt[0], &vt[1]], [&at[0], &at[1]], tau)
            }
            None => ezvsl_loss(&v[0], &a[0], tau),
        };
        let semi = supervision.and_then(|s| semi_supervised_loss(&v, &a, &s.maps, &s.supervised));
        let semi_value = semi.as_ref().map(|t| host(t.clone())[0] as f64);
        let loss = match semi {
            Some(semi) => loss.add(semi),
            None => loss,
        };
        let value = StepLoss { total: host(loss.clone())[0] as f64, semi: semi_value };
        (value, self.gradients(loss, &heads, [leaf_v, leaf_a].into_iter().flatten()))
    }

    /// SSL-align's step (eq. 5): both trunks run once on the three views of the batch
    /// (so BatchNorm's statistics are over all 3B samples), the views are split apart
    /// and paired in the 9 ways of the loss.
    fn align_loss_and_gradients(&mut self, batch: Batch) -> (StepLoss, Weights) {
        let views = 3;
        assert_eq!(batch.images.n % views, 0, "SSL-align batches hold three views");
        let b = batch.images.n / views;
        let (fv, leaf_v) = self.trunk(EncoderSet::Online, "imgnet", batch.images);
        let (fa, leaf_a) = self.trunk(EncoderSet::Online, "audnet", batch.spectrograms);
        let [n, c, _, _] = fa.dims();
        let audio = fa.max_dim(3).max_dim(2).reshape([n, c]);
        let (heads, image_proj, audio_proj) = if self.alignment_loss {
            let heads = self.heads(EncoderSet::Online);
            let image_pooled = fv.clone().mean_dim(3).mean_dim(2).reshape([n, c]);
            let (image_proj, audio_proj) =
                (mlp(&heads, "img_align", image_pooled), mlp(&heads, "aud_align", audio.clone()));
            (heads, image_proj, audio_proj)
        } else {
            // Not read by the loss: the projections stay as initialised.
            (Heads { tensors: BTreeMap::new() }, audio.clone(), audio.clone())
        };
        let view = |k: usize| k * b..(k + 1) * b;
        let images: Vec<Tensor<4>> = (0..views).map(|k| fv.clone().slice(view(k))).collect();
        let audios: Vec<Tensor<2>> = (0..views).map(|k| audio.clone().slice(view(k))).collect();
        let pv: Vec<Tensor<2>> = (0..views).map(|k| image_proj.clone().slice(view(k))).collect();
        let pa: Vec<Tensor<2>> = (0..views).map(|k| audio_proj.clone().slice(view(k))).collect();
        let align = AlignViews {
            images: [&images[0], &images[1], &images[2]],
            audios: [&audios[0], &audios[1], &audios[2]],
            image_proj: [&pv[0], &pv[1], &pv[2]],
            audio_proj: [&pa[0], &pa[1], &pa[2]],
        };
        let loss = ssl_align_loss(&align, self.config.tau, self.alignment_loss);
        let value = StepLoss { total: host(loss.clone())[0] as f64, semi: None };
        (value, self.gradients(loss, &heads, [leaf_v, leaf_a].into_iter().flatten()))
    }

    /// The gradient of every head parameter and, through the trunks' tapes, of every
    /// trunk parameter.
    fn gradients(&self, loss: Tensor<1>, heads: &Heads, leaves: impl Iterator<Item = Leaf>) -> Weights {
        let graph = loss.backward();
        let mut grads = Weights::default();
        for (name, tensor) in &heads.tensors {
            let g = tensor.grad(&graph).expect("the loss depends on every head");
            let shape = self.params.get(name).expect("head parameter").shape.clone();
            grads.insert(name.clone(), NamedTensor { shape, values: host(g) });
        }
        for leaf in leaves {
            let d = leaf.tensor.grad(&graph).expect("the loss depends on every trunk");
            let [n, c, h, w] = d.dims();
            trunk_backward(leaf.tape, &self.params, Activation { n, c, h, w, data: host(d) }, &mut grads);
        }
        grads
    }
}

/// SSL-align's projection `name` (Linear → ReLU → Linear) on `[N, C]`.
fn mlp(heads: &Heads, name: &str, x: Tensor<2>) -> Tensor<2> {
    let linear = |x: Tensor<2>, layer: &str| {
        let bias = heads.get(&format!("{name}.{layer}.bias"));
        let [out] = bias.dims();
        let [_, inputs] = x.dims();
        let weight = heads.get(&format!("{name}.{layer}.weight")).reshape([out, inputs]);
        x.matmul(weight.transpose()).add(bias.reshape([1, out]))
    };
    linear(relu(linear(x, "0")), "2")
}

/// The projection heads' parameters of one encoder set for one step, by name without
/// the set's prefix (`img_proj1.weight`, …).
struct Heads {
    tensors: BTreeMap<String, Tensor<1>>,
}

impl Heads {
    fn get(&self, name: &str) -> Tensor<1> {
        self.tensors.get(name).unwrap_or_else(|| panic!("no head tensor {name}")).clone()
    }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("float32 tensor")
}
