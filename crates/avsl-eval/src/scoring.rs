//! How a model's maps become predictions: the authors' protocol of each architecture and
//! the options that override it (docs/method.md §5, §7 items 16–19).

use avsl_metrics::scoring::{Protocol, ScoringConfig};
use avsl_metrics::{MapKind, Prediction};
use avsl_model::Architecture;

/// The authors' test protocol of an architecture. SSL-align's maps are cosines of
/// post-ReLU (non-negative) features, so SLAVC's absolute threshold (cosine ≥ 0) would
/// select every pixel; its authors score it with min-max maps and the median threshold,
/// EZ-VSL's protocol.
pub fn protocol_of(architecture: Architecture) -> Protocol {
    match architecture {
        Architecture::Slavc => Protocol::Slavc,
        Architecture::Ezvsl | Architecture::SslAlign => Protocol::Ezvsl,
    }
}

/// The scoring options of `eval`, `eval-maps` and the demo; unset ones take the
/// protocol's defaults.
#[derive(Debug, Clone, Default)]
pub struct ScoringOptions {
    /// The protocol (default: the model's own).
    pub protocol: Option<Protocol>,
    /// Weight of the audio-visual score in the av_obj blend.
    pub alpha: Option<f64>,
    pub tau: f64,
    /// Keep the top half of each min-max normalised map.
    pub relative_prediction: bool,
    /// Keep pixels whose score is at least this value.
    pub pred_thr: Option<f64>,
}

impl ScoringOptions {
    /// The scoring configuration; `own` is the protocol of the model that made the maps.
    pub fn config(&self, map_kind: MapKind, own: Protocol) -> ScoringConfig {
        let protocol = self.protocol.unwrap_or(own);
        let prediction = match (self.relative_prediction, self.pred_thr) {
            (true, _) => Prediction::Relative { size: 0.5 },
            (false, Some(t)) => Prediction::Fixed { threshold: t },
            (false, None) => protocol.default_prediction(),
        };
        let alpha = self.alpha.unwrap_or(protocol.default_alpha());
        ScoringConfig { alpha, tau: self.tau, map_kind, prediction, protocol }
    }
}

/// One line saying how maps were turned into predictions.
pub fn describe(c: &ScoringConfig) -> String {
    let rule = match c.prediction {
        Prediction::Relative { .. } => "top half of each min-max normalised map".to_string(),
        Prediction::Fixed { threshold } => format!("score ≥ {threshold}"),
    };
    let protocol = match c.protocol {
        Protocol::Slavc => "SLAVC",
        Protocol::Ezvsl => "EZ-VSL",
    };
    format!("{protocol} protocol, prediction: {rule}, alpha {}, tau {}", c.alpha, c.tau)
}
