//! Rendering float maps (spectrograms, heatmaps) as colour images.

use avsl_data::image_io::RgbImage;

/// Viridis, sampled at nine points and interpolated linearly (for display only).
const VIRIDIS: [[f32; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 44.0, 122.0],
    [59.0, 81.0, 139.0],
    [44.0, 113.0, 142.0],
    [33.0, 144.0, 141.0],
    [39.0, 173.0, 129.0],
    [92.0, 200.0, 99.0],
    [170.0, 220.0, 50.0],
    [253.0, 231.0, 37.0],
];

pub fn viridis(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * (VIRIDIS.len() - 1) as f32;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f32;
    let mut out = [0u8; 3];
    for c in 0..3 {
        out[c] = (VIRIDIS[i][c] * (1.0 - f) + VIRIDIS[i + 1][c] * f).round() as u8;
    }
    out
}

/// A `[rows, cols]` row-major map as an image, min–max scaled, each cell `scale`×`scale`
/// pixels; with `flip_rows` row 0 is drawn at the bottom (frequency axes).
pub fn render_map(values: &[f32], rows: usize, cols: usize, scale: usize, flip_rows: bool) -> RgbImage {
    let (lo, hi) =
        values.iter().filter(|v| v.is_finite()).fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut img = RgbImage::new(cols * scale, rows * scale);
    for r in 0..rows {
        let y0 = if flip_rows { rows - 1 - r } else { r } * scale;
        for c in 0..cols {
            let rgb = viridis((values[r * cols + c] - lo) / span);
            for dy in 0..scale {
                for dx in 0..scale {
                    let i = ((y0 + dy) * img.width + c * scale + dx) * 3;
                    img.data[i..i + 3].copy_from_slice(&rgb);
                }
            }
        }
    }
    img
}

/// Draws a rectangle outline `[x0, y0, x1, y1)` (pixels) in place.
pub fn draw_rect(img: &mut RgbImage, rect: [usize; 4], colour: [u8; 3], thickness: usize) {
    let [x0, y0, x1, y1] = rect;
    let (x1, y1) = (x1.min(img.width), y1.min(img.height));
    for y in y0..y1 {
        for x in x0..x1 {
            let edge = x < x0 + thickness || x + thickness >= x1 || y < y0 + thickness || y + thickness >= y1;
            if edge {
                let i = (y * img.width + x) * 3;
                img.data[i..i + 3].copy_from_slice(&colour);
            }
        }
    }
}
