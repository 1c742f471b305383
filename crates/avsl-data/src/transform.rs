//! Image transforms of the reference pipelines (METHOD.md §1, §7 item 11): the test resize,
//! the training augmentation, and `ToTensor` + ImageNet `Normalize` in float32.

use rand::Rng;

use crate::image_io::RgbImage;
use crate::resize::resize_bicubic;

/// Side of the square network input.
pub const INPUT_SIZE: usize = 224;
/// Shorter side before the random crop: `int(224 · 1.1)`.
pub const TRAIN_RESIZE: usize = 246;

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Test-time resize: exactly 224×224, aspect ratio not kept.
pub fn test_resize(img: &RgbImage) -> RgbImage {
    resize_bicubic(img, INPUT_SIZE, INPUT_SIZE)
}

/// torchvision `Resize(246)`: the shorter side becomes 246, the longer `int(246 · long / short)`.
pub fn resize_shorter_side(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width, img.height);
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (size as f64 * long as f64 / short as f64).trunc() as usize;
    let (ow, oh) = if w <= h { (size, new_long) } else { (new_long, size) };
    resize_bicubic(img, ow, oh)
}

/// Training augmentation: `Resize(246)`, `RandomCrop(224)`, `RandomHorizontalFlip()`.
pub fn train_augment(img: &RgbImage, rng: &mut impl Rng) -> RgbImage {
    let resized = resize_shorter_side(img, TRAIN_RESIZE);
    let top = rng.random_range(0..=resized.height - INPUT_SIZE);
    let left = rng.random_range(0..=resized.width - INPUT_SIZE);
    let flip = rng.random_bool(0.5);
    let mut out = RgbImage::new(INPUT_SIZE, INPUT_SIZE);
    for y in 0..INPUT_SIZE {
        for x in 0..INPUT_SIZE {
            let sx = left + if flip { INPUT_SIZE - 1 - x } else { x };
            let src = ((top + y) * resized.width + sx) * 3;
            let dst = (y * INPUT_SIZE + x) * 3;
            out.data[dst..dst + 3].copy_from_slice(&resized.data[src..src + 3]);
        }
    }
    out
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
        let a = train_augment(&img, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        let b = train_augment(&img, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        assert_eq!((a.width, a.height), (224, 224));
    }

    #[test]
    fn normalisation_values() {
        let img = RgbImage { width: 1, height: 1, data: vec![0, 128, 255] };
        let t = to_normalized_chw(&img);
        assert_eq!(t[0], (0.0f32 - 0.485) / 0.229);
        assert_eq!(t[2], (1.0f32 - 0.406) / 0.225);
    }
}
