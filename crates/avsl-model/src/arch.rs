//! What a checkpoint of each architecture holds: every parameter name (the authors'
//! names, torchvision layout) with its shape. Checkpoints are checked against this list
//! as a whole, so a wrong file is reported with all of its differences at once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resnet::FEATURES;
use crate::weights::Weights;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Two projection heads per modality and momentum copies of everything (METHOD §3).
    Slavc,
    /// One projection head per modality, no momentum encoders (METHOD §4).
    Ezvsl,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Slavc => "slavc",
            Architecture::Ezvsl => "ezvsl",
        }
    }

    pub fn parse(name: &str) -> Option<Architecture> {
        match name {
            "slavc" => Some(Architecture::Slavc),
            "ezvsl" => Some(Architecture::Ezvsl),
            _ => None,
        }
    }

    /// The authors' test protocol of this architecture (METHOD §5).
    pub fn protocol(self) -> avsl_metrics::scoring::Protocol {
        match self {
            Architecture::Slavc => avsl_metrics::scoring::Protocol::Slavc,
            Architecture::Ezvsl => avsl_metrics::scoring::Protocol::Ezvsl,
        }
    }

    /// Suffixes of the projection heads: `img_proj1`, `img_proj2` or a single `img_proj`.
    pub fn heads(self) -> &'static [&'static str] {
        match self {
            Architecture::Slavc => &["1", "2"],
            Architecture::Ezvsl => &[""],
        }
    }

    /// Name prefixes of the encoder sets the checkpoint holds.
    pub fn encoder_sets(self) -> &'static [EncoderSet] {
        match self {
            Architecture::Slavc => &[EncoderSet::Online, EncoderSet::Momentum],
            Architecture::Ezvsl => &[EncoderSet::Online],
        }
    }
}

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
}

/// Every tensor of torchvision's ResNet-18 trunk (no classifier) under `prefix`.
pub fn resnet18_shapes(prefix: &str, in_channels: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::with_capacity(100);
    let mut conv_bn = |conv: String, bn: String, shape: [usize; 4]| {
        out.push((format!("{conv}.weight"), shape.to_vec()));
        for leaf in ["weight", "bias", "running_mean", "running_var"] {
            out.push((format!("{bn}.{leaf}"), vec![shape[0]]));
        }
    };
    conv_bn(format!("{prefix}conv1"), format!("{prefix}bn1"), [64, in_channels, 7, 7]);
    let mut in_c = 64;
    for (layer, out_c) in [64usize, 128, 256, 512].into_iter().enumerate() {
        for b in 0..2 {
            let p = format!("{prefix}layer{}.{b}", layer + 1);
            let block_in = if b == 0 { in_c } else { out_c };
            conv_bn(format!("{p}.conv1"), format!("{p}.bn1"), [out_c, block_in, 3, 3]);
            conv_bn(format!("{p}.conv2"), format!("{p}.bn2"), [out_c, out_c, 3, 3]);
            if b == 0 && layer > 0 {
                conv_bn(format!("{p}.downsample.0"), format!("{p}.downsample.1"), [out_c, block_in, 1, 1]);
            }
        }
        in_c = out_c;
    }
    out
}

impl ModelConfig {
    /// Every float tensor a checkpoint of this configuration holds, by name.
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let mut out = BTreeMap::new();
        for set in self.architecture.encoder_sets() {
            let p = set.prefix();
            out.extend(resnet18_shapes(&format!("{p}imgnet."), 3));
            out.extend(resnet18_shapes(&format!("{p}audnet."), 1));
            for head in self.architecture.heads() {
                out.insert(format!("{p}img_proj{head}.weight"), vec![self.dim, FEATURES, 1, 1]);
                out.insert(format!("{p}img_proj{head}.bias"), vec![self.dim]);
                out.insert(format!("{p}aud_proj{head}.weight"), vec![self.dim, FEATURES]);
                out.insert(format!("{p}aud_proj{head}.bias"), vec![self.dim]);
            }
        }
        out
    }

    /// The architecture and head width of a checkpoint, read from its head names and
    /// shapes (the authors' files carry no configuration).
    pub fn infer(weights: &Weights, tau: f64) -> Option<ModelConfig> {
        let (architecture, head) = if weights.get("img_proj1.weight").is_some() {
            (Architecture::Slavc, "img_proj1.weight")
        } else if weights.get("img_proj.weight").is_some() {
            (Architecture::Ezvsl, "img_proj.weight")
        } else {
            return None;
        };
        let dim = *weights.get(head)?.shape.first()?;
        Some(ModelConfig { architecture, dim, tau })
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
        let slavc = ModelConfig { architecture: Architecture::Slavc, dim: 512, tau: 0.03 };
        assert_eq!(slavc.expected_shapes().len() + 2 * 2 * 20, 496);
        let ezvsl = ModelConfig { architecture: Architecture::Ezvsl, dim: 512, tau: 0.03 };
        assert_eq!(ezvsl.expected_shapes().len(), 204);
    }
}
