//! SimCLR's image augmentation (Chen et al. 2020, appendix A), the augmented view of
//! SSL-align ("Aligning Sight and Sound", §4: "we follow the augmentations used in
//! SimCLR"): random resized crop to 224 (scale 0.08–1, aspect 3/4–4/3, torchvision's
//! sampling with 10 tries and a centre-crop fallback), horizontal flip (p = 0.5), colour
//! jitter (p = 0.8; brightness, contrast, saturation 0.8, hue 0.2, in random order),
//! grayscale (p = 0.2) and Gaussian blur (p = 0.5, σ in [0.1, 2], kernel 10% of the side).
//! Not bit-compatible with torchvision (the crop is resized bilinearly without
//! antialiasing, pixels are computed in float32): only the distribution matters here.

use rand::Rng;

use crate::image_io::RgbImage;

/// An image as float32 RGB in [0, 1], row-major, channel-interleaved.
struct Pixels {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

/// One augmented `size`×`size` view of `img` (224 in the published recipe; `img` of any
/// size: the training pipeline passes the `Resize(246)` frame).
pub fn simclr_augment(img: &RgbImage, size: usize, rng: &mut impl Rng) -> RgbImage {
    let (left, top, w, h) = resized_crop_box(img.width, img.height, rng);
    let flip = rng.random_bool(0.5);
    let mut px = crop_resize(img, left, top, w, h, flip, size);
    if rng.random_bool(0.8) {
        color_jitter(&mut px, rng);
    }
    if rng.random_bool(0.2) {
        grayscale(&mut px);
    }
    if rng.random_bool(0.5) {
        let sigma = rng.random_range(0.1..2.0);
        gaussian_blur(&mut px, sigma);
    }
    RgbImage {
        width: px.width,
        height: px.height,
        data: px.data.iter().map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8).collect(),
    }
}

/// torchvision's `RandomResizedCrop.get_params`: (left, top, width, height).
fn resized_crop_box(width: usize, height: usize, rng: &mut impl Rng) -> (usize, usize, usize, usize) {
    let area = (width * height) as f64;
    let (log_lo, log_hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let target = area * rng.random_range(0.08..1.0);
        let ratio = rng.random_range(log_lo..log_hi).exp();
        let w = (target * ratio).sqrt().round() as usize;
        let h = (target / ratio).sqrt().round() as usize;
        if w > 0 && h > 0 && w <= width && h <= height {
            return (rng.random_range(0..=width - w), rng.random_range(0..=height - h), w, h);
        }
    }
    // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
    let ratio = width as f64 / height as f64;
    let (w, h) = if ratio < 3.0 / 4.0 {
        (width, ((width as f64) / (3.0 / 4.0)).round() as usize)
    } else if ratio > 4.0 / 3.0 {
        (((height as f64) * (4.0 / 3.0)).round() as usize, height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// The crop resized to `n`×`n` by bilinear interpolation (half-pixel centres), mirrored
/// when `flip`.
fn crop_resize(img: &RgbImage, left: usize, top: usize, w: usize, h: usize, flip: bool, n: usize) -> Pixels {
    let mut data = vec![0.0f32; n * n * 3];
    let sample = |x: usize, y: usize, c: usize| img.data[(y * img.width + x) * 3 + c] as f32 / 255.0;
    let axis = |out: usize, size: usize| {
        let s = ((out as f64 + 0.5) * size as f64 / n as f64 - 0.5).clamp(0.0, (size - 1) as f64);
        let lo = s.floor() as usize;
        (lo, (lo + 1).min(size - 1), (s - lo as f64) as f32)
    };
    for oy in 0..n {
        let (y0, y1, fy) = axis(oy, h);
        for ox in 0..n {
            let (x0, x1, fx) = axis(if flip { n - 1 - ox } else { ox }, w);
            for c in 0..3 {
                let top_row = sample(left + x0, top + y0, c) * (1.0 - fx) + sample(left + x1, top + y0, c) * fx;
                let bottom = sample(left + x0, top + y1, c) * (1.0 - fx) + sample(left + x1, top + y1, c) * fx;
                data[(oy * n + ox) * 3 + c] = top_row * (1.0 - fy) + bottom * fy;
            }
        }
    }
    Pixels { width: n, height: n, data }
}

/// ITU-R 601-2 luma, as PIL's `convert("L")`.
fn luma(p: &[f32]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// `x ← f·x + (1 − f)·other`, clipped to [0, 1] (torchvision's `_blend`).
fn blend(x: f32, other: f32, f: f32) -> f32 {
    (f * x + (1.0 - f) * other).clamp(0.0, 1.0)
}

/// torchvision's `ColorJitter(0.8, 0.8, 0.8, 0.2)`: each factor drawn, the four
/// adjustments applied in a random order.
fn color_jitter(px: &mut Pixels, rng: &mut impl Rng) {
    let brightness = rng.random_range(0.2..1.8f32);
    let contrast = rng.random_range(0.2..1.8f32);
    let saturation = rng.random_range(0.2..1.8f32);
    let hue = rng.random_range(-0.2..0.2f32);
    let mut order = [0, 1, 2, 3];
    for i in (1..4).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for op in order {
        match op {
            0 => px.data.iter_mut().for_each(|v| *v = blend(*v, 0.0, brightness)),
            1 => {
                let mean = px.data.chunks_exact(3).map(luma).sum::<f32>() / (px.width * px.height) as f32;
                px.data.iter_mut().for_each(|v| *v = blend(*v, mean, contrast));
            }
            2 => px.data.chunks_exact_mut(3).for_each(|p| {
                let gray = luma(p);
                p.iter_mut().for_each(|v| *v = blend(*v, gray, saturation));
            }),
            _ => px.data.chunks_exact_mut(3).for_each(|p| shift_hue(p, hue)),
        }
    }
}

/// Rotates a pixel's hue by `shift` turns (through HSV, as torchvision's `adjust_hue`).
fn shift_hue(p: &mut [f32], shift: f32) {
    let (r, g, b) = (p[0], p[1], p[2]);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if chroma <= 0.0 {
        return;
    }
    let h = if max == r {
        ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        (b - r) / chroma + 2.0
    } else {
        (r - g) / chroma + 4.0
    } / 6.0;
    let h = (h + shift).rem_euclid(1.0) * 6.0;
    let x = chroma * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r1, g1, b1) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    p.copy_from_slice(&[r1 + min, g1 + min, b1 + min]);
}

fn grayscale(px: &mut Pixels) {
    px.data.chunks_exact_mut(3).for_each(|p| {
        let gray = luma(p);
        p.fill(gray);
    });
}

/// Separable Gaussian blur with SimCLR's kernel of 10% of the side (odd), reflected edges.
fn gaussian_blur(px: &mut Pixels, sigma: f64) {
    let radius = (px.width / 10) / 2;
    let weights: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let d = i as f64 - radius as f64;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .map(|w| w as f32)
        .collect();
    let total: f32 = weights.iter().sum();
    let weights: Vec<f32> = weights.iter().map(|w| w / total).collect();
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * (n - 1) - i } else { i }).clamp(0, n - 1) as usize
    };
    let (w, h) = (px.width, px.height);
    let mut tmp = vec![0.0f32; px.data.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                tmp[(y * w + x) * 3 + c] = weights
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| {
                        wk * px.data[(y * w + reflect(x as isize + k as isize - radius as isize, w)) * 3 + c]
                    })
                    .sum();
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                px.data[(y * w + x) * 3 + c] = weights
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * tmp[(reflect(y as isize + k as isize - radius as isize, h) * w + x) * 3 + c])
                    .sum();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::transform::INPUT_SIZE;

    fn gradient(width: usize, height: usize) -> RgbImage {
        let mut img = RgbImage::new(width, height);
        for y in 0..height {
            for x in 0..width {
                let p = (y * width + x) * 3;
                img.data[p..p + 3].copy_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 90]);
            }
        }
        img
    }

    #[test]
    fn crops_stay_inside_and_keep_torchvisions_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..2000 {
            let (l, t, w, h) = resized_crop_box(437, 246, &mut rng);
            assert!(l + w <= 437 && t + h <= 246 && w > 0 && h > 0);
            let (area, ratio) = ((w * h) as f64 / (437.0 * 246.0), w as f64 / h as f64);
            // Rounding to whole pixels moves area and ratio a little past the sampled range.
            assert!((0.075..=1.0).contains(&area), "{area}");
            assert!((0.72..=1.39).contains(&ratio), "{ratio}");
        }
        // A frame too elongated for any try falls back to a centred 4:3 crop.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(resized_crop_box(4000, 10, &mut rng), (1993, 0, 13, 10));
    }

    #[test]
    fn the_identity_crop_reproduces_the_image_and_flip_mirrors_it() {
        let img = gradient(INPUT_SIZE, INPUT_SIZE);
        let same = crop_resize(&img, 0, 0, INPUT_SIZE, INPUT_SIZE, false, INPUT_SIZE);
        assert!(same.data.iter().zip(&img.data).all(|(&a, &b)| (a * 255.0 - b as f32).abs() < 1e-3));
        let mirrored = crop_resize(&img, 0, 0, INPUT_SIZE, INPUT_SIZE, true, INPUT_SIZE);
        let at = |p: &Pixels, x: usize, y: usize| p.data[(y * INPUT_SIZE + x) * 3];
        assert_eq!(at(&mirrored, 0, 5), at(&same, INPUT_SIZE - 1, 5));
    }

    #[test]
    fn colour_operations_do_what_they_say() {
        let mut p = [0.8f32, 0.4, 0.2];
        shift_hue(&mut p, 1.0);
        assert!(p.iter().zip([0.8, 0.4, 0.2]).all(|(a, b)| (a - b).abs() < 1e-6), "a full turn: {p:?}");
        // Red → green is a third of a turn; grey has no hue to turn.
        let mut red = [1.0f32, 0.0, 0.0];
        shift_hue(&mut red, 1.0 / 3.0);
        assert!((red[1] - 1.0).abs() < 1e-5 && red[0].abs() < 1e-5 && red[2].abs() < 1e-5, "{red:?}");
        let mut grey = [0.5f32; 3];
        shift_hue(&mut grey, 0.1);
        assert_eq!(grey, [0.5; 3]);
        let mut px = Pixels { width: 1, height: 1, data: vec![0.8, 0.4, 0.2] };
        grayscale(&mut px);
        assert!(px.data.iter().all(|&v| (v - (0.299 * 0.8 + 0.587 * 0.4 + 0.114 * 0.2)).abs() < 1e-6));
        // Blurring keeps a flat image flat and smooths a step.
        let mut flat = Pixels { width: 40, height: 40, data: vec![0.3; 40 * 40 * 3] };
        gaussian_blur(&mut flat, 1.5);
        assert!(flat.data.iter().all(|&v| (v - 0.3).abs() < 1e-5));
        let mut step = Pixels {
            width: 40,
            height: 40,
            data: (0..40 * 40 * 3).map(|i| if (i / 3) % 40 < 20 { 0.0 } else { 1.0 }).collect(),
        };
        gaussian_blur(&mut step, 1.5);
        let (left, right) = (step.data[19 * 3], step.data[20 * 3]);
        assert!(left > 0.1 && left < 0.5 && right > 0.5 && right < 0.9, "{left} {right}");
    }

    #[test]
    fn views_are_seeded_and_differ() {
        let img = gradient(437, 246);
        let view = |seed| simclr_augment(&img, INPUT_SIZE, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(view(5).data, view(5).data);
        assert_ne!(view(5).data, view(6).data);
        assert_eq!((view(5).width, view(5).height), (INPUT_SIZE, INPUT_SIZE));
    }
}
