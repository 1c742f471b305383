//! Heatmap overlays at a frame's own resolution: the 224×224 map blended over the frame,
//! the predicted region outlined, the peak marked, a label on a white plate. Built once
//! per map as a layer, so a video applies it to every frame of its step cheaply.

use avsl_data::image_io::RgbImage;
use plotters::prelude::*;

use crate::colormap::viridis;
use crate::plots::register_font;

/// The model's grid side.
const GRID: usize = 224;
/// Largest opacity of the heatmap (at the top of the display range).
const MAX_OPACITY: f32 = 0.6;
const OUTLINE: [u8; 3] = [255, 255, 255];
const PEAK: [u8; 3] = [230, 20, 20];

/// What to draw over frames of one size.
pub struct OverlayLayer {
    width: usize,
    height: usize,
    /// RGB per pixel.
    colour: Vec<u8>,
    /// Opacity per pixel, 0–255.
    weight: Vec<u8>,
}

/// `map` (224×224, row-major) sampled bilinearly at the centre of original pixel (x, y).
fn sample(map: &[f32], x: usize, y: usize, sx: f32, sy: f32) -> f32 {
    let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (GRID - 1) as f32);
    let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (GRID - 1) as f32);
    let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(GRID - 1), (y0 + 1).min(GRID - 1));
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let at = |xx: usize, yy: usize| map[yy * GRID + xx];
    let top = at(x0, y0) * (1.0 - ax) + at(x1, y0) * ax;
    let bottom = at(x0, y1) * (1.0 - ax) + at(x1, y1) * ax;
    top * (1.0 - ay) + bottom * ay
}

impl OverlayLayer {
    /// The layer for a `width`×`height` frame: `map` shown on the display range
    /// `[lo, hi]` (below `lo` transparent), the boundary of `region` (224×224) outlined,
    /// a cross at `peak` (original pixels) and `label` in the top-left corner.
    pub fn new(
        width: usize,
        height: usize,
        map: &[f32],
        (lo, hi): (f32, f32),
        region: &[bool],
        peak: (usize, usize),
        label: &str,
    ) -> OverlayLayer {
        let (sx, sy) = (GRID as f32 / width as f32, GRID as f32 / height as f32);
        let mut colour = vec![0u8; width * height * 3];
        let mut weight = vec![0u8; width * height];
        let span = if hi > lo { hi - lo } else { 1.0 };
        let cell = |x: usize, y: usize| {
            let gx = ((x * GRID) / width).min(GRID - 1);
            let gy = ((y * GRID) / height).min(GRID - 1);
            region[gy * GRID + gx]
        };
        for y in 0..height {
            for x in 0..width {
                let i = y * width + x;
                let t = ((sample(map, x, y, sx, sy) - lo) / span).clamp(0.0, 1.0);
                let t = if t.is_nan() { 0.0 } else { t };
                colour[i * 3..i * 3 + 3].copy_from_slice(&viridis(t));
                weight[i] = (255.0 * MAX_OPACITY * t).round() as u8;
                // Outline: inside the region, with a pixel outside within 2 pixels.
                if cell(x, y) {
                    let outside = |dx: isize, dy: isize| {
                        let (xx, yy) = (x as isize + dx, y as isize + dy);
                        xx < 0
                            || yy < 0
                            || xx >= width as isize
                            || yy >= height as isize
                            || !cell(xx as usize, yy as usize)
                    };
                    if [(-2, 0), (2, 0), (0, -2), (0, 2), (-1, 0), (1, 0), (0, -1), (0, 1)]
                        .iter()
                        .any(|&(dx, dy)| outside(dx, dy))
                    {
                        colour[i * 3..i * 3 + 3].copy_from_slice(&OUTLINE);
                        weight[i] = 255;
                    }
                }
            }
        }
        let mut layer = OverlayLayer { width, height, colour, weight };
        layer.cross(peak);
        layer.label(label);
        layer
    }

    fn paint(&mut self, x: isize, y: isize, rgb: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = y as usize * self.width + x as usize;
            self.colour[i * 3..i * 3 + 3].copy_from_slice(&rgb);
            self.weight[i] = 255;
        }
    }

    fn cross(&mut self, (px, py): (usize, usize)) {
        let arm = (self.width.min(self.height) / 40).max(4) as isize;
        for d in -arm..=arm {
            for t in -1..=1 {
                self.paint(px as isize + d, py as isize + t, PEAK);
                self.paint(px as isize + t, py as isize + d, PEAK);
            }
        }
    }

    /// The label on an opaque white plate, top-left.
    fn label(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let size = (self.height / 24).clamp(12, 28) as u32;
        let Ok(plate) = text_plate(text, size) else { return };
        for y in 0..plate.height.min(self.height) {
            for x in 0..plate.width.min(self.width) {
                let s = (y * plate.width + x) * 3;
                let rgb = [plate.data[s], plate.data[s + 1], plate.data[s + 2]];
                self.paint(x as isize, y as isize, rgb);
            }
        }
    }

    /// The frame with the layer blended in.
    pub fn apply(&self, frame: &RgbImage) -> RgbImage {
        debug_assert_eq!((frame.width, frame.height), (self.width, self.height));
        let mut out = frame.clone();
        for ((px, c), &w) in out.data.chunks_exact_mut(3).zip(self.colour.chunks_exact(3)).zip(&self.weight) {
            if w == 0 {
                continue;
            }
            let w = w as u32;
            for k in 0..3 {
                px[k] = ((px[k] as u32 * (255 - w) + c[k] as u32 * w + 127) / 255) as u8;
            }
        }
        out
    }
}

/// `text` in black on a white plate sized to it.
fn text_plate(text: &str, size: u32) -> Result<RgbImage, String> {
    register_font();
    let style = ("sans-serif", size).into_font().color(&BLACK);
    // Measure on a scratch canvas, then draw on one of the right size.
    let mut scratch = vec![255u8; 3 * 8 * 8];
    let (w, h) = BitMapBackend::with_buffer(&mut scratch, (8, 8))
        .into_drawing_area()
        .estimate_text_size(text, &style)
        .map_err(|e| e.to_string())?;
    let (w, h) = (w + 12, h + 8);
    let mut plate = RgbImage { width: w as usize, height: h as usize, data: vec![255; (w * h * 3) as usize] };
    draw_texts(&mut plate, &[(text.to_string(), 6, 4)], size)?;
    Ok(plate)
}

/// Draws each `(text, x, y)` in black on a light plate, in place.
pub fn draw_texts(canvas: &mut RgbImage, texts: &[(String, usize, usize)], size: u32) -> Result<(), String> {
    register_font();
    let dims = (canvas.width as u32, canvas.height as u32);
    let root = BitMapBackend::with_buffer(&mut canvas.data, dims).into_drawing_area();
    for (text, x, y) in texts {
        let style = ("sans-serif", size).into_font().color(&BLACK);
        let (w, h) = root.estimate_text_size(text, &style).map_err(|e| e.to_string())?;
        // A white plate under the text keeps it readable on any heatmap.
        let (x, y) = (*x as i32, *y as i32);
        root.draw(&Rectangle::new([(x - 3, y - 2), (x + w as i32 + 3, y + h as i32 + 2)], WHITE.mix(0.8).filled()))
            .map_err(|e| e.to_string())?;
        root.draw_text(text, &style, (x, y)).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_blends_only_where_the_map_is_high_and_outlines_the_region() {
        // Left half of the grid high, right half low; region = left half.
        let map: Vec<f32> = (0..GRID * GRID).map(|i| if i % GRID < GRID / 2 { 1.0 } else { 0.0 }).collect();
        let region: Vec<bool> = map.iter().map(|&v| v > 0.5).collect();
        let layer = OverlayLayer::new(100, 50, &map, (0.0, 1.0), &region, (10, 25), "");
        let frame = RgbImage { width: 100, height: 50, data: vec![100; 100 * 50 * 3] };
        let out = layer.apply(&frame);
        let px = |x: usize, y: usize| &out.data[(y * 100 + x) * 3..(y * 100 + x) * 3 + 3];
        assert_eq!(px(90, 25), [100, 100, 100], "low map: the frame unchanged");
        assert_ne!(px(30, 10), [100, 100, 100], "high map: blended");
        assert_eq!(px(49, 10), OUTLINE, "the region's right edge is outlined");
        assert_eq!(px(10, 25), PEAK);
    }
}
