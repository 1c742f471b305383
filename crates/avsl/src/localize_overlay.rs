//! How a localisation is drawn over its frame.

use avsl_eval::localizer::{Localizer, Located, in_frame};

use crate::overlay::OverlayLayer;

/// The overlay layer of one localisation for frames of this size.
pub fn overlay_layer(localizer: &Localizer, l: &Located, width: usize, height: usize) -> OverlayLayer {
    let (peak, _) = in_frame(l, width, height);
    // Each map is shown over its own range (min–max), as the field's figures do: the colour
    // says where, the label says whether.
    let (lo, hi) = l.map.iter().filter(|v| v.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    OverlayLayer::new(width, height, &l.map, (lo, hi), &l.peak_region, peak, &localizer.label(l))
}
