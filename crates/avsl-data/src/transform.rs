//! Image transforms of the reference pipelines (docs/method.md §1, §7 item 11): the test resize,
//! the training augmentation, and `ToTensor` + ImageNet `Normalize` in float32.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::audio::WINDOW_SECONDS;
use crate::image_io::RgbImage;
use crate::resize::resize_bicubic;

/// Side of the square network input of the published recipe, and the side at which maps
/// are scored (docs/method.md §7: maps are upsampled to 224×224 whatever the input).
pub const INPUT_SIZE: usize = 224;
/// Shorter side before the random crop: `int(224 · 1.1)`.
pub const TRAIN_RESIZE: usize = 246;

/// What the networks are fed: a square frame of `image_size` pixels and a window of
/// `audio_seconds` of sound. The published recipe is 224 and 3 s; smaller inputs train a
/// model on a small machine (the demo) with the same pipeline at another scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputShape {
    pub image_size: usize,
    pub audio_seconds: f64,
}

impl InputShape {
    pub const PUBLISHED: InputShape = InputShape { image_size: INPUT_SIZE, audio_seconds: WINDOW_SECONDS };
}

/// Shorter side before the random crop for inputs of side `size`: `int(size · 1.1)`, as
/// the authors compute it (246 for 224).
pub fn train_resize(size: usize) -> usize {
    (size as f64 * 1.1) as usize
}

impl Default for InputShape {
    fn default() -> Self {
        InputShape::PUBLISHED
    }
}

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Test-time resize: exactly `size`×`size` (224 in the published recipe), aspect ratio
/// not kept.
pub fn test_resize(img: &RgbImage, size: usize) -> RgbImage {
    resize_bicubic(img, size, size)
}

/// torchvision `Resize(246)`: the shorter side becomes 246, the longer `int(246 · long / short)`.
pub fn resize_shorter_side(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width, img.height);
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (size as f64 * long as f64 / short as f64).trunc() as usize;
    let (ow, oh) = if w <= h { (size, new_long) } else { (new_long, size) };
    resize_bicubic(img, ow, oh)
}

/// Where a training crop came from: the resized frame's size, the crop's corner, and
/// whether it was mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub resized_width: usize,
    pub resized_height: usize,
    pub left: usize,
    pub top: usize,
    pub flip: bool,
    /// Side of the square crop.
    pub size: usize,
}

impl Crop {
    /// A box `[xmin, ymin, xmax, ymax]` in fractions of the original frame, in pixels of
    /// the crop (not clipped: parts outside the crop fall off the map).
    pub fn map_box(&self, b: [f64; 4]) -> [f64; 4] {
        let x = |v: f64| v * self.resized_width as f64 - self.left as f64;
        let y = |v: f64| v * self.resized_height as f64 - self.top as f64;
        let (x0, x1) = (x(b[0]), x(b[2]));
        let side = self.size as f64;
        let (x0, x1) = if self.flip { (side - x1, side - x0) } else { (x0, x1) };
        [x0, y(b[1]), x1, y(b[3])]
    }
}

/// Training augmentation: `Resize(246)`, `RandomCrop(224)`, `RandomHorizontalFlip()`
/// (at `size`: `Resize(int(1.1·size))`, `RandomCrop(size)`).
pub fn train_augment(img: &RgbImage, size: usize, rng: &mut impl Rng) -> RgbImage {
    train_augment_with_crop(img, size, rng).0
}

/// [`train_augment`], and the crop it drew (to move annotations with the pixels).
pub fn train_augment_with_crop(img: &RgbImage, size: usize, rng: &mut impl Rng) -> (RgbImage, Crop) {
    random_crop_flip(&resize_shorter_side(img, train_resize(size)), size, rng)
}

/// The random part of the training augmentation, on a frame already resized to a shorter
/// side of 246 (e.g. from a frame cache): `RandomCrop(224)`, `RandomHorizontalFlip()`
/// (`size` instead of 224).
pub fn random_crop_flip(resized: &RgbImage, size: usize, rng: &mut impl Rng) -> (RgbImage, Crop) {
    let top = rng.random_range(0..=resized.height - size);
    let left = rng.random_range(0..=resized.width - size);
    let flip = rng.random_bool(0.5);
    let mut out = RgbImage::new(size, size);
    for y in 0..size {
        for x in 0..size {
            let sx = left + if flip { size - 1 - x } else { x };
            let src = ((top + y) * resized.width + sx) * 3;
            let dst = (y * size + x) * 3;
            out.data[dst..dst + 3].copy_from_slice(&resized.data[src..src + 3]);
        }
    }
    (out, Crop { resized_width: resized.width, resized_height: resized.height, left, top, flip, size })
}

/// `ToTensor()` then `Normalize(mean, std)`: `(v / 255 − mean) / std` in float32, CHW.
/// An 8-bit channel has 256 possible values, so the exact float32 results are tabulated.
pub fn to_normalized_chw(img: &RgbImage) -> Vec<f32> {
    static TABLE: std::sync::OnceLock<[[f32; 256]; 3]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]))
    });
    let plane = img.width * img.height;
    let mut out = vec![0.0f32; 3 * plane];
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (((px, r), g), b) in img.data.chunks_exact(3).zip(r).zip(g).zip(b) {
        *r = table[0][px[0] as usize];
        *g = table[1][px[1] as usize];
        *b = table[2][px[2] as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shorter_side_sizes_like_torchvision() {
        let img = RgbImage::new(320, 240);
        let r = resize_shorter_side(&img, TRAIN_RESIZE);
        assert_eq!((r.width, r.height), (328, 246));
        let img = RgbImage::new(100, 333);
        let r = resize_shorter_side(&img, TRAIN_RESIZE);
        assert_eq!((r.width, r.height), (246, 819));
    }

    #[test]
    fn augmentation_is_seeded() {
        let mut img = RgbImage::new(300, 250);
        img.data.iter_mut().enumerate().for_each(|(i, v)| *v = (i % 253) as u8);
        let a = train_augment(&img, INPUT_SIZE, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let b = train_augment(&img, INPUT_SIZE, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        assert_eq!((a.width, a.height), (224, 224));
        let small = train_augment(&img, 112, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        assert_eq!((small.width, small.height), (112, 112));
        assert_eq!(train_resize(112), 123);
        assert_eq!(train_resize(INPUT_SIZE), TRAIN_RESIZE);
    }

    #[test]
    fn boxes_follow_the_crop_and_the_flip() {
        // A frame whose pixels say where they come from: a box's mapped corners land on
        // the pixels that held its corners.
        let (w, h) = (300, 250);
        let mut img = RgbImage::new(w, h);
        let marker =
            |img: &mut RgbImage, x: usize, y: usize| img.data[(y * w + x) * 3..][..3].copy_from_slice(&[255, 0, 0]);
        marker(&mut img, 150, 100);
        for seed in 0..8 {
            let (out, crop) =
                train_augment_with_crop(&img, INPUT_SIZE, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            assert_eq!((crop.resized_width, crop.resized_height), (295, 246));
            // The marker pixel's centre, as a box of zero size in fractions of the frame.
            let (fx, fy) = (150.5 / w as f64, 100.5 / h as f64);
            let [x0, y0, x1, y1] = crop.map_box([fx, fy, fx, fy]);
            assert!((x0 - x1).abs() < 1e-9 && (y0 - y1).abs() < 1e-9);
            let (px, py) = (x0.floor() as usize, y0.floor() as usize);
            // Bicubic resizing spreads the marker over a few pixels: the reddest one is
            // within a pixel of the mapped point.
            let redness = |x: usize, y: usize| {
                let p = &out.data[(y * INPUT_SIZE + x) * 3..][..3];
                p[0] as i32 - p[1] as i32
            };
            let best = (0..INPUT_SIZE * INPUT_SIZE).max_by_key(|&i| redness(i % INPUT_SIZE, i / INPUT_SIZE)).unwrap();
            let (bx, by) = (best % INPUT_SIZE, best / INPUT_SIZE);
            assert!(
                bx.abs_diff(px) <= 1 && by.abs_diff(py) <= 1,
                "seed {seed}: {crop:?} {:?} vs {:?}",
                (px, py),
                (bx, by)
            );
            // A box's corners keep their order after a flip.
            let b = crop.map_box([0.2, 0.3, 0.6, 0.9]);
            assert!(b[0] < b[2] && b[1] < b[3]);
        }
    }

    #[test]
    fn normalisation_values() {
        let img = RgbImage { width: 1, height: 1, data: vec![0, 128, 255] };
        let t = to_normalized_chw(&img);
        assert_eq!(t[0], (0.0f32 - 0.485) / 0.229);
        assert_eq!(t[2], (1.0f32 - 0.406) / 0.225);
    }
}
