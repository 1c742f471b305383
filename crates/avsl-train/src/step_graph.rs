//! The part of a training step that both engines share (docs/method.md §3–4, SSL-align eq. 5):
//! given trunk features, the projection heads, visual dropout, the momentum update's
//! place in the order of operations, and the loss. An engine supplies the trunks, the
//! heads' parameters and the momentum update: `trainable` on our CPU kernels,
//! `device_train` on burn operations.

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::loss::{AlignViews, ezvsl_loss, semi_supervised_loss, slavc_loss, ssl_align_loss};
use avsl_kernels::Activation;
use avsl_model::arch::{ALIGN_HEADS, Architecture, EncoderSet, ModelConfig};
use avsl_model::encoders::l2_normalize;
use avsl_model::weights::host_values;

use crate::TrainError;

/// One training batch: normalised images `[B, 3, H, W]` and spectrograms `[B, 1, F, T]`.
/// For SSL-align, the three views of B samples one after the other (`[3B, …]`: the
/// samples, their augmentations, their neighbours).
#[derive(Clone)]
pub struct Batch {
    pub images: Activation,
    pub spectrograms: Activation,
}

impl Batch {
    /// A loader batch as the model's inputs (`side`: the frames' side): every view of
    /// every sample (3·B for SSL-align).
    pub fn from_loader(batch: avsl_data::loader::Batch, side: usize) -> Result<Batch, TrainError> {
        let n = batch.views * batch.len();
        let width = batch.spectrograms[0].frames;
        if batch.spectrograms.iter().any(|s| s.frames != width) {
            return Err(TrainError::Options(
                "a batch mixes audio sample rates (spectrograms of different widths); resample the dataset".into(),
            ));
        }
        let images = Activation { n, c: 3, h: side, w: side, data: batch.images };
        let spec: Vec<f32> = batch.spectrograms.iter().flat_map(|s| s.values.iter().copied()).collect();
        let bins = spec.len() / (n * width);
        let spectrograms = Activation { n, c: 1, h: bins, w: width, data: spec };
        Ok(Batch { images, spectrograms })
    }
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

/// What a training engine provides to the shared step.
pub(crate) trait StepEngine {
    fn config(&self) -> &ModelConfig;
    /// SSL-align: whether eq. 5's alignment term s_A is part of the loss.
    fn alignment_loss(&self) -> bool;
    /// Features `[B, 8·width, h, w]` of trunk `{set}{net}` (`imgnet`/`audnet`) on `x`, on
    /// the engine's autodiff device; the online trunks' features track gradients back to
    /// their parameters. Running statistics are updated.
    fn trunk(&mut self, set: EncoderSet, net: &str, x: Activation) -> Tensor<4>;
    /// The heads' parameters of `set`; the online ones track gradients.
    fn heads(&self, set: EncoderSet) -> Heads;
    /// θ_m ← m·θ_m + (1 − m)·θ for every momentum parameter.
    fn momentum_update(&mut self, m_image: f64, m_audio: f64);
}

/// Names (without the set's prefix) of the heads' parameters: the map heads, or
/// SSL-align's alignment projections.
pub(crate) fn head_names(config: &ModelConfig) -> Vec<String> {
    let leaves = ["weight", "bias"];
    if config.architecture == Architecture::SslAlign {
        return ALIGN_HEADS
            .iter()
            .flat_map(|h| ["0", "2"].into_iter().flat_map(move |layer| leaves.map(|l| format!("{h}.{layer}.{l}"))))
            .collect();
    }
    config
        .architecture
        .heads()
        .iter()
        .flat_map(|head| {
            ["img_proj", "aud_proj"].into_iter().flat_map(move |part| leaves.map(|l| format!("{part}{head}.{l}")))
        })
        .collect()
}

/// The projection heads' parameters of one encoder set for one step, flat, by name
/// without the set's prefix (`img_proj1.weight`, …).
#[derive(Default)]
pub(crate) struct Heads {
    pub tensors: BTreeMap<String, Tensor<1>>,
}

impl Heads {
    fn get(&self, name: &str) -> Tensor<1> {
        self.tensors.get(name).unwrap_or_else(|| panic!("no head tensor {name}")).clone()
    }
}

/// Normalised image embeddings of every head from trunk features (dropout first).
fn image_heads(config: &ModelConfig, heads: &Heads, features: Tensor<4>, dropout: Option<Tensor<4>>) -> Vec<Tensor<4>> {
    let features = match dropout {
        Some(mask) => features.mul(mask),
        None => features,
    };
    let [_, c, _, _] = features.dims();
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    config
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
fn audio_heads(config: &ModelConfig, heads: &Heads, features: Tensor<4>) -> Vec<Tensor<2>> {
    let f = features.max_dim(3).max_dim(2);
    let [b, c, _, _] = f.dims();
    let pooled = f.reshape([b, c]);
    config
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

/// The normalised embeddings of one step (SLAVC and EZ-VSL): the online ones of every
/// head, and SLAVC's target (momentum) ones.
#[derive(Clone)]
pub struct Embeddings {
    pub images: Vec<Tensor<4>>,
    pub audios: Vec<Tensor<2>>,
    pub target: Option<(Vec<Tensor<4>>, Vec<Tensor<2>>)>,
}

impl Embeddings {
    /// Slot by slot (each head's online image tensor, …), one tensor from the same slot of
    /// every part: `image` combines `[B, d, h, w]` tensors, `audio` `[B, d]` ones.
    pub fn combine(
        parts: &[Embeddings],
        image: impl Fn(Vec<Tensor<4>>) -> Tensor<4>,
        audio: impl Fn(Vec<Tensor<2>>) -> Tensor<2>,
    ) -> Embeddings {
        let images = |pick: &dyn Fn(&Embeddings) -> &Vec<Tensor<4>>| -> Vec<Tensor<4>> {
            (0..pick(&parts[0]).len()).map(|i| image(parts.iter().map(|p| pick(p)[i].clone()).collect())).collect()
        };
        let audios = |pick: &dyn Fn(&Embeddings) -> &Vec<Tensor<2>>| -> Vec<Tensor<2>> {
            (0..pick(&parts[0]).len()).map(|i| audio(parts.iter().map(|p| pick(p)[i].clone()).collect())).collect()
        };
        let target = parts[0].target.as_ref().map(|_| {
            const ALL: &str = "every part has targets";
            (images(&|p| &p.target.as_ref().expect(ALL).0), audios(&|p| &p.target.as_ref().expect(ALL).1))
        });
        Embeddings { images: images(&|p| &p.images), audios: audios(&|p| &p.audios), target }
    }
}

/// One step's embeddings, in the authors' order (docs/method.md §3): online features, then
/// (SLAVC) the momentum update with factors `momentum` = (image, audio), target
/// features. Returns them with the online heads whose gradients the engine collects.
pub(crate) fn forward_embeddings(
    engine: &mut impl StepEngine,
    batch: Batch,
    masks: Masks,
    momentum: (f64, f64),
) -> (Embeddings, Heads) {
    let config = *engine.config();
    // SLAVC's momentum encoders see the same batch after the online ones.
    let target_inputs =
        (config.architecture == Architecture::Slavc).then(|| (batch.images.clone(), batch.spectrograms.clone()));
    let fv = engine.trunk(EncoderSet::Online, "imgnet", batch.images);
    let fa = engine.trunk(EncoderSet::Online, "audnet", batch.spectrograms);
    let heads = engine.heads(EncoderSet::Online);
    let images = image_heads(&config, &heads, fv, masks.online);
    let audios = audio_heads(&config, &heads, fa);
    let target = target_inputs.map(|(target_images, spectrograms)| {
        engine.momentum_update(momentum.0, momentum.1);
        let fvt = engine.trunk(EncoderSet::Momentum, "imgnet", target_images);
        let fat = engine.trunk(EncoderSet::Momentum, "audnet", spectrograms);
        let target_heads = engine.heads(EncoderSet::Momentum);
        (image_heads(&config, &target_heads, fvt, masks.target), audio_heads(&config, &target_heads, fat))
    });
    (Embeddings { images, audios, target }, heads)
}

/// The loss of a batch's embeddings: SLAVC's with targets, else EZ-VSL's, plus eq. 9's
/// term for the supervised samples.
pub(crate) fn embedding_loss(
    config: &ModelConfig,
    e: &Embeddings,
    supervision: Option<&Supervision>,
) -> (Tensor<1>, StepLoss) {
    let (v, a) = (&e.images, &e.audios);
    let loss = match &e.target {
        Some((vt, at)) => slavc_loss([&v[0], &v[1]], [&a[0], &a[1]], [&vt[0], &vt[1]], [&at[0], &at[1]], config.tau),
        None => ezvsl_loss(&v[0], &a[0], config.tau),
    };
    let semi = supervision.and_then(|s| semi_supervised_loss(v, a, &s.maps, &s.supervised));
    let semi_value = semi.as_ref().map(|t| scalar(t.clone()));
    let loss = match semi {
        Some(semi) => loss.add(semi),
        None => loss,
    };
    let value = StepLoss { total: scalar(loss.clone()), semi: semi_value };
    (loss, value)
}

/// One step's loss (see [`forward_embeddings`] and [`embedding_loss`]; SSL-align's
/// [`align_forward_loss`]). Returns the loss tensor, its value, and the online heads
/// whose gradients the engine collects.
pub(crate) fn forward_loss(
    engine: &mut impl StepEngine,
    batch: Batch,
    masks: Masks,
    momentum: (f64, f64),
    supervision: Option<&Supervision>,
) -> (Tensor<1>, StepLoss, Heads) {
    let config = *engine.config();
    if config.architecture == Architecture::SslAlign {
        return align_forward_loss(engine, batch);
    }
    let (embeddings, heads) = forward_embeddings(engine, batch, masks, momentum);
    let (loss, value) = embedding_loss(&config, &embeddings, supervision);
    (loss, value, heads)
}

/// SSL-align's step (eq. 5): see [`align_views`] and [`align_loss`].
fn align_forward_loss(engine: &mut impl StepEngine, batch: Batch) -> (Tensor<1>, StepLoss, Heads) {
    let (views, heads) = align_views(engine, batch);
    let (loss, value) = align_loss(engine.config(), &views);
    (loss, value, heads)
}

/// SSL-align's features: both trunks run once on the three views of the batch (so
/// BatchNorm's statistics are over all 3B samples), then the views are split apart.
/// Returns them with the online heads whose gradients the engine collects.
pub(crate) fn align_views(engine: &mut impl StepEngine, batch: Batch) -> (AlignViews, Heads) {
    let views = 3;
    assert_eq!(batch.images.n % views, 0, "SSL-align batches hold three views");
    let b = batch.images.n / views;
    let fv = engine.trunk(EncoderSet::Online, "imgnet", batch.images);
    let fa = engine.trunk(EncoderSet::Online, "audnet", batch.spectrograms);
    let [n, c, _, _] = fa.dims();
    let audio = fa.max_dim(3).max_dim(2).reshape([n, c]);
    let (heads, projections) = if engine.alignment_loss() {
        let heads = engine.heads(EncoderSet::Online);
        let image_pooled = fv.clone().mean_dim(3).mean_dim(2).reshape([n, c]);
        let projections = (mlp(&heads, "img_align", image_pooled), mlp(&heads, "aud_align", audio.clone()));
        (heads, Some(projections))
    } else {
        // The ablation: the projections are neither used nor trained.
        (Heads::default(), None)
    };
    let view = |k: usize| k * b..(k + 1) * b;
    let split2 = |t: &Tensor<2>| -> [Tensor<2>; 3] { std::array::from_fn(|k| t.clone().slice(view(k))) };
    let images: [Tensor<4>; 3] = std::array::from_fn(|k| fv.clone().slice(view(k)));
    let align = AlignViews {
        images,
        audios: split2(&audio),
        projections: projections.map(|(pv, pa)| (split2(&pv), split2(&pa))),
    };
    (align, heads)
}

/// SSL-align's loss of a batch's views, the views paired in the 9 ways of eq. 5.
pub(crate) fn align_loss(config: &ModelConfig, views: &AlignViews) -> (Tensor<1>, StepLoss) {
    let loss = ssl_align_loss(views, config.tau);
    let value = StepLoss { total: scalar(loss.clone()), semi: None };
    (loss, value)
}

fn scalar(t: Tensor<1>) -> f64 {
    host_values(t)[0] as f64
}
