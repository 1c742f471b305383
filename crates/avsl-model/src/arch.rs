//! What a checkpoint of each architecture holds: every parameter name (the authors'
//! names, torchvision layout) with its shape. Checkpoints are checked against this list
//! as a whole, so a wrong file is reported with all of its differences at once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::weights::Weights;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Two projection heads per modality and momentum copies of everything (docs/method.md §3).
    Slavc,
    /// One projection head per modality, no momentum encoders (docs/method.md §4).
    Ezvsl,
    /// "Aligning Sight and Sound" (docs/method.md §4b): maps from the trunks' own features, and an
    /// alignment projection (`img_align`, `aud_align`) per modality for s_A.
    #[serde(rename = "ssl-align")]
    SslAlign,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Slavc => "slavc",
            Architecture::Ezvsl => "ezvsl",
            Architecture::SslAlign => "ssl-align",
        }
    }

    pub fn parse(name: &str) -> Option<Architecture> {
        [Architecture::Slavc, Architecture::Ezvsl, Architecture::SslAlign].into_iter().find(|a| a.name() == name)
    }

    /// Suffixes of the projection heads that make the maps: `img_proj1`, `img_proj2` or a
    /// single `img_proj`; none for SSL-align, whose maps use the trunks' features.
    pub fn heads(self) -> &'static [&'static str] {
        match self {
            Architecture::Slavc => &["1", "2"],
            Architecture::Ezvsl => &[""],
            Architecture::SslAlign => &[],
        }
    }

    /// Name prefixes of the encoder sets the checkpoint holds.
    pub fn encoder_sets(self) -> &'static [EncoderSet] {
        match self {
            Architecture::Slavc => &[EncoderSet::Online, EncoderSet::Momentum],
            Architecture::Ezvsl | Architecture::SslAlign => &[EncoderSet::Online],
        }
    }

    /// τ of the published recipe.
    pub fn published_tau(self) -> f64 {
        match self {
            Architecture::Slavc | Architecture::Ezvsl => 0.03,
            Architecture::SslAlign => 0.07,
        }
    }

    /// The encoders the published configuration evaluates: SLAVC's momentum copies, the
    /// only set otherwise.
    pub fn evaluated_set(self) -> EncoderSet {
        match self {
            Architecture::Slavc => EncoderSet::Momentum,
            Architecture::Ezvsl | Architecture::SslAlign => EncoderSet::Online,
        }
    }
}

/// SSL-align's alignment projections p_v (on the average-pooled image features) and p_a
/// (on the max-pooled audio features): SimCLR's head, Linear(C, C) → ReLU → Linear(C, d),
/// named as a torch `nn.Sequential` (`img_align.0.weight`, `img_align.2.bias`, …). The
/// paper says only "a projection layer, inspired by SimCLR".
pub const ALIGN_HEADS: [&str; 2] = ["img_align", "aud_align"];

/// Which copy of the encoders computes the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderSet {
    /// The encoders trained by gradient descent (what the authors' test command scores).
    Online,
    /// SLAVC's exponential-moving-average copies (`momentum_*`, the published setting).
    Momentum,
}

impl EncoderSet {
    pub fn prefix(self) -> &'static str {
        match self {
            EncoderSet::Online => "",
            EncoderSet::Momentum => "momentum_",
        }
    }

    /// The name written in results and calibrations.
    pub fn name(self) -> &'static str {
        match self {
            EncoderSet::Online => "online",
            EncoderSet::Momentum => "momentum",
        }
    }

    pub fn parse(name: &str) -> Option<EncoderSet> {
        [EncoderSet::Online, EncoderSet::Momentum].into_iter().find(|s| s.name() == name)
    }

    pub fn describe(self) -> &'static str {
        match self {
            EncoderSet::Online => "online encoders",
            EncoderSet::Momentum => "momentum encoders",
        }
    }
}

/// The configuration that decides a model's shape and its maps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub architecture: Architecture,
    /// Width d of the projection heads (512 in the papers).
    pub dim: usize,
    /// Temperature τ of the similarities (0.03).
    pub tau: f64,
    /// Base channel width of both ResNet-18 trunks (64 is torchvision's; narrower trunks
    /// keep the layout with `width`, 2·, 4·, 8·`width` channels per stage).
    #[serde(default = "resnet18_width")]
    pub width: usize,
    /// Side of the square frame the model is fed (224 in the papers; the maps are scored
    /// at 224×224 whatever it is).
    #[serde(default = "published_image_size")]
    pub image_size: usize,
    /// Seconds of sound the model hears (the centred window; 3 in the papers).
    #[serde(default = "published_audio_seconds")]
    pub audio_seconds: f64,
    /// Whether the image trunk keeps ResNet-18's 3×3 stride-2 max-pool after its stem
    /// (true in the papers). Without it the image features are at 1/16 of the input, so
    /// 112×112 frames give the published 7×7 map (docs/synthetic.md).
    #[serde(default = "yes")]
    pub image_stem_pool: bool,
}

/// torchvision's ResNet-18 base width.
pub const RESNET18_WIDTH: usize = 64;
/// The papers' input: 224×224 frames, 3 s of sound.
pub const PUBLISHED_IMAGE_SIZE: usize = 224;
pub const PUBLISHED_AUDIO_SECONDS: f64 = 3.0;

fn resnet18_width() -> usize {
    RESNET18_WIDTH
}

fn published_image_size() -> usize {
    PUBLISHED_IMAGE_SIZE
}

fn published_audio_seconds() -> f64 {
    PUBLISHED_AUDIO_SECONDS
}

fn yes() -> bool {
    true
}

/// A bias-free convolution followed by BatchNorm, by tensor names.
#[derive(Debug, Clone)]
pub struct ConvBnSpec {
    pub conv: String,
    pub bn: String,
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub stride: usize,
}

impl ConvBnSpec {
    pub fn padding(&self) -> usize {
        self.kernel / 2
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels, self.kernel, self.kernel]
    }
}

/// torchvision's BasicBlock: two 3×3 convolutions and, where the shape changes, a 1×1
/// projection of the identity.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    pub conv1: ConvBnSpec,
    pub conv2: ConvBnSpec,
    pub downsample: Option<ConvBnSpec>,
}

/// The ResNet-18 trunk (conv1 … layer4, no classifier): the 7×7 stride-2 stem, a 3×3
/// stride-2 max-pool (unless `max_pool` is false), then eight blocks. Features are
/// `8 · width` channels at 1/32 of the input (1/16 without the pool).
#[derive(Debug, Clone)]
pub struct TrunkSpec {
    pub stem: ConvBnSpec,
    pub max_pool: bool,
    pub blocks: Vec<BlockSpec>,
}

impl TrunkSpec {
    /// `prefix` ends with a dot (`"imgnet."`) or is empty (torchvision's own files).
    pub fn resnet18(prefix: &str, in_channels: usize, width: usize) -> TrunkSpec {
        let spec = |name: &str, bn: &str, out_channels, in_channels, kernel, stride| ConvBnSpec {
            conv: format!("{prefix}{name}"),
            bn: format!("{prefix}{bn}"),
            out_channels,
            in_channels,
            kernel,
            stride,
        };
        let stem = spec("conv1", "bn1", width, in_channels, 7, 2);
        let mut blocks = Vec::with_capacity(8);
        let mut in_c = width;
        for layer in 0..4 {
            let out_c = width << layer;
            for b in 0..2 {
                let p = format!("layer{}.{b}", layer + 1);
                let stride = if b == 0 && layer > 0 { 2 } else { 1 };
                let block_in = if b == 0 { in_c } else { out_c };
                let conv1 = spec(&format!("{p}.conv1"), &format!("{p}.bn1"), out_c, block_in, 3, stride);
                let conv2 = spec(&format!("{p}.conv2"), &format!("{p}.bn2"), out_c, out_c, 3, 1);
                let downsample = (stride != 1 || block_in != out_c).then(|| {
                    spec(&format!("{p}.downsample.0"), &format!("{p}.downsample.1"), out_c, block_in, 1, stride)
                });
                blocks.push(BlockSpec { conv1, conv2, downsample });
            }
            in_c = out_c;
        }
        TrunkSpec { stem, max_pool: true, blocks }
    }

    /// The features' (rows, columns) for an `h`×`w` input: every strided layer's
    /// `(size + 2·pad − k)/stride + 1`, the 3×3 max-pool included (224 → 7).
    pub fn feature_grid(&self, h: usize, w: usize) -> (usize, usize) {
        let out = |size: usize, k: usize, stride: usize, pad: usize| (size + 2 * pad - k) / stride + 1;
        let conv = |size: usize, c: &ConvBnSpec| out(size, c.kernel, c.stride, c.padding());
        let through = |size: usize| {
            let stem = conv(size, &self.stem);
            let pooled = if self.max_pool { out(stem, 3, 2, 1) } else { stem };
            self.blocks.iter().fold(pooled, |s, b| conv(s, &b.conv1))
        };
        (through(h), through(w))
    }

    pub fn features(&self) -> usize {
        self.blocks.last().map_or(self.stem.out_channels, |b| b.conv2.out_channels)
    }

    /// Every convolution + BatchNorm, in forward order.
    pub fn conv_bns(&self) -> impl Iterator<Item = &ConvBnSpec> {
        std::iter::once(&self.stem)
            .chain(self.blocks.iter().flat_map(|b| [Some(&b.conv1), Some(&b.conv2), b.downsample.as_ref()]).flatten())
    }

    /// Every float tensor, by name with its shape.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::with_capacity(100);
        for c in self.conv_bns() {
            out.push((format!("{}.weight", c.conv), c.weight_shape().to_vec()));
            for leaf in ["weight", "bias", "running_mean", "running_var"] {
                out.push((format!("{}.{leaf}", c.bn), vec![c.out_channels]));
            }
        }
        out
    }
}

/// Every tensor of torchvision's ResNet-18 trunk (no classifier) under `prefix`.
pub fn resnet18_shapes(prefix: &str, in_channels: usize) -> Vec<(String, Vec<usize>)> {
    TrunkSpec::resnet18(prefix, in_channels, RESNET18_WIDTH).shapes()
}

impl ModelConfig {
    /// The published configuration of `architecture` (d = 512, ResNet-18; τ = 0.03, 0.07
    /// for SSL-align).
    pub fn published(architecture: Architecture) -> ModelConfig {
        ModelConfig {
            architecture,
            dim: 512,
            tau: architecture.published_tau(),
            width: RESNET18_WIDTH,
            image_size: PUBLISHED_IMAGE_SIZE,
            audio_seconds: PUBLISHED_AUDIO_SECONDS,
            image_stem_pool: true,
        }
    }

    /// One trunk of this model; `prefix` ends with a dot. The image trunk is the one with
    /// three input channels (the audio trunk has one).
    pub fn trunk(&self, prefix: &str, in_channels: usize) -> TrunkSpec {
        let max_pool = in_channels != 3 || self.image_stem_pool;
        TrunkSpec { max_pool, ..TrunkSpec::resnet18(prefix, in_channels, self.width) }
    }

    /// Channels of the trunks' features, the heads' input.
    pub fn features(&self) -> usize {
        8 * self.width
    }

    /// Every float tensor a checkpoint of this configuration holds, by name.
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let mut out = BTreeMap::new();
        for set in self.architecture.encoder_sets() {
            let p = set.prefix();
            out.extend(self.trunk(&format!("{p}imgnet."), 3).shapes());
            out.extend(self.trunk(&format!("{p}audnet."), 1).shapes());
            let features = self.features();
            if self.architecture == Architecture::SslAlign {
                for head in ALIGN_HEADS {
                    out.insert(format!("{p}{head}.0.weight"), vec![features, features]);
                    out.insert(format!("{p}{head}.0.bias"), vec![features]);
                    out.insert(format!("{p}{head}.2.weight"), vec![self.dim, features]);
                    out.insert(format!("{p}{head}.2.bias"), vec![self.dim]);
                }
            }
            for head in self.architecture.heads() {
                out.insert(format!("{p}img_proj{head}.weight"), vec![self.dim, features, 1, 1]);
                out.insert(format!("{p}img_proj{head}.bias"), vec![self.dim]);
                out.insert(format!("{p}aud_proj{head}.weight"), vec![self.dim, features]);
                out.insert(format!("{p}aud_proj{head}.bias"), vec![self.dim]);
            }
        }
        out
    }

    /// The architecture, head and trunk widths of a checkpoint, read from its head names
    /// and shapes (the authors' files carry no configuration).
    pub fn infer(weights: &Weights, tau: f64) -> Option<ModelConfig> {
        let (architecture, head) = if weights.get("img_proj1.weight").is_some() {
            (Architecture::Slavc, "img_proj1.weight")
        } else if weights.get("img_proj.weight").is_some() {
            (Architecture::Ezvsl, "img_proj.weight")
        } else if weights.get("img_align.2.weight").is_some() {
            (Architecture::SslAlign, "img_align.2.weight")
        } else {
            return None;
        };
        let dim = *weights.get(head)?.shape.first()?;
        let width = weights.get("imgnet.conv1.weight").and_then(|t| t.shape.first().copied()).unwrap_or(RESNET18_WIDTH);
        Some(ModelConfig { dim, tau, width, ..ModelConfig::published(architecture) })
    }
}

/// How a set of tensors differs from what an architecture expects.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mismatch {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// (name, found, expected)
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl Mismatch {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

/// Lists at most this many names per kind, then a count.
const LISTED: usize = 12;

fn list(f: &mut fmt::Formatter<'_>, what: &str, names: &[String]) -> fmt::Result {
    if names.is_empty() {
        return Ok(());
    }
    write!(f, "\n  {} {what}: {}", names.len(), names.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", "))?;
    if names.len() > LISTED { write!(f, ", … ({} more)", names.len() - LISTED) } else { Ok(()) }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the tensors do not match the architecture")?;
        list(f, "missing", &self.missing)?;
        list(f, "unexpected", &self.unexpected)?;
        let shapes: Vec<String> = self
            .wrong_shape
            .iter()
            .map(|(name, found, expected)| format!("{name} is {found:?}, expected {expected:?}"))
            .collect();
        list(f, "with a wrong shape", &shapes)
    }
}

/// Compares names and shapes (not values) of `weights` with `expected`.
pub fn compare(weights: &Weights, expected: &BTreeMap<String, Vec<usize>>) -> Mismatch {
    let mut m = Mismatch::default();
    for (name, shape) in expected {
        match weights.get(name) {
            None => m.missing.push(name.clone()),
            Some(t) if &t.shape != shape => m.wrong_shape.push((name.clone(), t.shape.clone(), shape.clone())),
            Some(_) => {}
        }
    }
    m.unexpected = weights.names().filter(|n| !expected.contains_key(*n)).map(str::to_string).collect();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authors_key_counts() {
        // 100 float tensors per ResNet-18 trunk (20 BatchNorms keep a 21st buffer,
        // num_batches_tracked, which checkpoints hold and we skip): 496 keys with them.
        assert_eq!(resnet18_shapes("", 3).len(), 100);
        let slavc = ModelConfig::published(Architecture::Slavc);
        assert_eq!(slavc.expected_shapes().len() + 2 * 2 * 20, 496);
        let ezvsl = ModelConfig::published(Architecture::Ezvsl);
        assert_eq!(ezvsl.expected_shapes().len(), 204);
        // Two trunks and two two-layer alignment heads.
        let align = ModelConfig::published(Architecture::SslAlign).expected_shapes();
        assert_eq!(align.len(), 200 + 8);
        assert_eq!(align["img_align.0.weight"], [512, 512]);
        assert_eq!(align["aud_align.2.bias"], [512]);
        assert_eq!(Architecture::parse("ssl-align"), Some(Architecture::SslAlign));
        assert_eq!(serde_json::to_string(&Architecture::SslAlign).unwrap(), "\"ssl-align\"");
    }

    #[test]
    fn narrow_trunks_keep_the_layout() {
        let narrow = ModelConfig { width: 16, dim: 32, ..ModelConfig::published(Architecture::Slavc) };
        let shapes = narrow.expected_shapes();
        assert_eq!(shapes.len(), ModelConfig::published(Architecture::Slavc).expected_shapes().len());
        assert_eq!(shapes["imgnet.conv1.weight"], [16, 3, 7, 7]);
        assert_eq!(shapes["audnet.layer4.0.downsample.0.weight"], [128, 64, 1, 1]);
        assert_eq!(shapes["momentum_img_proj2.weight"], [32, 128, 1, 1]);
        let trunk = narrow.trunk("imgnet.", 3);
        assert_eq!(trunk.feature_grid(224, 224), (7, 7));
        // The audio trunk on 3 s at 16 kHz (257 × 200) and the fixtures' 64 × 64 images.
        assert_eq!(narrow.trunk("audnet.", 1).feature_grid(257, 200), (9, 7));
        assert_eq!(trunk.feature_grid(64, 64), (2, 2));
    }
}
