//! Ground-truth boxes and maps on the 224×224 evaluation grid (docs/method.md §1, §7 item 20).

/// Side of the square evaluation grid every map and box lives on.
pub const MAP_SIZE: usize = 224;

/// How a dataset's boxes become a ground-truth map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BoxFormat {
    /// VGG-SS: one annotation, union of boxes (binary map).
    Vggss,
    /// Flickr-SoundNet: several annotators, boxes summed, halved and clipped at 1.
    Flickr,
}

/// A box in integer pixels of the 224 grid, `[xmin, ymin, xmax, ymax]`, end-exclusive.
///
/// Values are kept exactly as the reference computes them, including values outside
/// `0..=224` and degenerate boxes; the map builder applies numpy's slice rules to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PixelBox {
    pub xmin: i64,
    pub ymin: i64,
    pub xmax: i64,
    pub ymax: i64,
}

impl PixelBox {
    /// VGG-SS: normalised `[xmin, ymin, xmax, ymax]` → `(clip(b, 0, 1) · 224).astype(int)`.
    pub fn from_normalized(b: [f64; 4]) -> PixelBox {
        let px = |v: f64| (v.clamp(0.0, 1.0) * MAP_SIZE as f64).trunc() as i64;
        PixelBox { xmin: px(b[0]), ymin: px(b[1]), xmax: px(b[2]), ymax: px(b[3]) }
    }

    /// Flickr-SoundNet: integer coordinates on a 256 scale → `int(224 · v / 256)`
    /// (float division, truncation toward zero).
    pub fn from_flickr_256(b: [i64; 4]) -> PixelBox {
        let px = |v: i64| ((MAP_SIZE as f64 * v as f64) / 256.0).trunc() as i64;
        PixelBox { xmin: px(b[0]), ymin: px(b[1]), xmax: px(b[2]), ymax: px(b[3]) }
    }

    /// The half-open pixel ranges `gt[ymin:ymax, xmin:xmax]` selects in numpy.
    fn numpy_ranges(&self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        (numpy_slice(self.ymin, self.ymax, MAP_SIZE), numpy_slice(self.xmin, self.xmax, MAP_SIZE))
    }
}

/// numpy's `a[start:stop]` on an axis of length `len`: negative indices count from the end,
/// everything is clamped to the axis, and an inverted range is empty.
fn numpy_slice(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
    let len_i = len as i64;
    let resolve = |i: i64| {
        let i = if i < 0 { i + len_i } else { i };
        i.clamp(0, len_i) as usize
    };
    let (a, b) = (resolve(start), resolve(stop));
    if b > a { a..b } else { a..a }
}

/// A 224×224 ground-truth map, row-major, values in {0, 0.5, 1}.
#[derive(Debug, Clone, PartialEq)]
pub struct GtMap {
    pub values: Vec<f64>,
}

impl GtMap {
    /// The all-zero map of a non-sounding (negative) sample.
    pub fn empty() -> GtMap {
        GtMap { values: vec![0.0; MAP_SIZE * MAP_SIZE] }
    }

    /// Builds the map exactly as the reference: every box adds 1 on its pixels; VGG-SS keeps
    /// the union, Flickr halves the annotator sum and clips at 1.
    pub fn from_boxes(boxes: &[PixelBox], format: BoxFormat) -> GtMap {
        let mut values = vec![0.0f64; MAP_SIZE * MAP_SIZE];
        for b in boxes {
            let (rows, cols) = b.numpy_ranges();
            for y in rows {
                for v in &mut values[y * MAP_SIZE + cols.start..y * MAP_SIZE + cols.end] {
                    *v += 1.0;
                }
            }
        }
        for v in &mut values {
            *v = match format {
                BoxFormat::Vggss => {
                    if *v > 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                }
                BoxFormat::Flickr => (*v / 2.0).min(1.0),
            };
        }
        GtMap { values }
    }

    /// Σ g: the ground-truth area in pixels (half-integers for Flickr consensus maps).
    pub fn area(&self) -> f64 {
        self.values.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vggss_box_truncates_after_clipping() {
        let b = PixelBox::from_normalized([0.403125, -0.2, 0.6, 1.7]);
        // 0.403125·224 = 90.3, 0.6·224 = 134.39999…, clipped values give 0 and 224.
        assert_eq!(b, PixelBox { xmin: 90, ymin: 0, xmax: 134, ymax: 224 });
    }

    #[test]
    fn flickr_box_uses_256_scale() {
        let b = PixelBox::from_flickr_256([10, 255, 256, -3]);
        assert_eq!(b, PixelBox { xmin: 8, ymin: 223, xmax: 224, ymax: -2 });
    }

    #[test]
    fn union_and_consensus() {
        let a = PixelBox { xmin: 0, ymin: 0, xmax: 10, ymax: 10 };
        let b = PixelBox { xmin: 5, ymin: 5, xmax: 15, ymax: 15 };
        assert_eq!(GtMap::from_boxes(&[a, b], BoxFormat::Vggss).area(), 175.0);
        // Flickr: the overlap (25 px) counts 1, the rest (150 px) 0.5.
        assert_eq!(GtMap::from_boxes(&[a, b], BoxFormat::Flickr).area(), 25.0 + 75.0);
    }

    #[test]
    fn numpy_slice_rules() {
        assert_eq!(numpy_slice(-2, 224, 224), 222..224);
        assert_eq!(numpy_slice(10, 5, 224), 10..10);
        assert_eq!(numpy_slice(200, 500, 224), 200..224);
        assert_eq!(numpy_slice(-500, 3, 224), 0..3);
        // A negative end inverts to 222 here: `a[5:-2]`.
        assert_eq!(numpy_slice(5, -2, 224), 5..222);
    }
}
