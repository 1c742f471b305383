//! Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit RGB, reproduced bit for bit.
//!
//! Pillow's resampler (libImaging/Resample.c) is separable: a horizontal pass, then a
//! vertical one. Each output pixel's weights come from the bicubic kernel (a = −0.5) with
//! its support widened by the scale when shrinking (antialiasing), are normalised in
//! float64, then converted to fixed point with 22 fractional bits; sums start at one half
//! and are shifted back and clamped to 0..=255 after each pass. A pass whose size does not
//! change is skipped, so a 224×224 input is returned unchanged.
//!
//! The order of the passes matters (the intermediate image is 8-bit). Pillow up to 12 (and
//! the authors' pinned 8.4) always runs the horizontal pass first; Pillow 13 runs the
//! vertical pass first when the height shrinks by more than twice as many pixels as the
//! width (Pillow PR #9549; rule measured against Pillow 13.0.0 in the fixtures). The two
//! differ only for portrait-like frames; landscape video frames resize identically.

use crate::image_io::RgbImage;

const PRECISION_BITS: u32 = 32 - 8 - 2;
const SUPPORT: f64 = 2.0;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point weights of one output pixel: the first input index and its coefficients.
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a full-image resize.
fn coefficients(in_size: usize, out_size: usize) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = SUPPORT * filter_scale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filter_scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let raw: Vec<f64> = (xmin..xmax).map(|x| bicubic((x as f64 - center + 0.5) * ss)).collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let fixed = w * (1u32 << PRECISION_BITS) as f64;
                    (if w < 0.0 { fixed - 0.5 } else { fixed + 0.5 }) as i32
                })
                .collect();
            Taps { first: xmin, weights }
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Rows resampled together by the horizontal pass.
const ROW_BLOCK: usize = 8;

/// `fn $name` runs `$portable` compiled for AVX2 where the CPU has it (the default x86-64
/// target lacks a 32-bit vector multiply, which the passes are made of). Integer sums are
/// exact either way.
macro_rules! dispatch_avx2 {
    (fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $portable:ident) => {
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}

dispatch_avx2!(fn resample_horizontal(src: &RgbImage, out_width: usize) -> RgbImage = resample_horizontal_portable);
dispatch_avx2!(fn resample_vertical(src: &RgbImage, out_height: usize) -> RgbImage = resample_vertical_portable);

/// The horizontal pass. Rows are taken eight at a time and laid out column-major
/// (`[x][row][channel]` as i32), so each tap is one multiply-add over 24 contiguous lanes
/// that the compiler vectorises; every output pixel gets exactly Pillow's integer sum.
#[inline(always)]
fn resample_horizontal_portable(src: &RgbImage, out_width: usize) -> RgbImage {
    const LANES: usize = ROW_BLOCK * 3;
    let taps = coefficients(src.width, out_width);
    let mut out = RgbImage::new(out_width, src.height);
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut columns = vec![0i32; src.width * LANES];
    for y0 in (0..src.height).step_by(ROW_BLOCK) {
        let rows = ROW_BLOCK.min(src.height - y0);
        for r in 0..rows {
            let row = &src.data[(y0 + r) * src.width * 3..(y0 + r + 1) * src.width * 3];
            for (column, px) in columns.chunks_exact_mut(LANES).zip(row.chunks_exact(3)) {
                for (lane, &v) in column[r * 3..r * 3 + 3].iter_mut().zip(px) {
                    *lane = v as i32;
                }
            }
        }
        for (xx, t) in taps.iter().enumerate() {
            let mut acc = [half; LANES];
            let window = &columns[t.first * LANES..(t.first + t.weights.len()) * LANES];
            for (column, &w) in window.chunks_exact(LANES).zip(&t.weights) {
                for (a, &v) in acc.iter_mut().zip(column) {
                    *a = a.wrapping_add(v * w);
                }
            }
            let clipped: [u8; LANES] = std::array::from_fn(|i| clip8(acc[i]));
            for (r, px) in clipped.chunks_exact(3).take(rows).enumerate() {
                let o = ((y0 + r) * out_width + xx) * 3;
                out.data[o..o + 3].copy_from_slice(px);
            }
        }
    }
    out
}

#[inline(always)]
fn resample_vertical_portable(src: &RgbImage, out_height: usize) -> RgbImage {
    let taps = coefficients(src.height, out_height);
    let stride = src.width * 3;
    let mut out = RgbImage::new(src.width, out_height);
    let mut acc = vec![0i32; stride];
    for (t, out_row) in taps.iter().zip(out.data.chunks_exact_mut(stride)) {
        acc.fill(1 << (PRECISION_BITS - 1));
        let rows = &src.data[t.first * stride..(t.first + t.weights.len()) * stride];
        for (row, &w) in rows.chunks_exact(stride).zip(&t.weights) {
            for (a, &p) in acc.iter_mut().zip(row) {
                *a = a.wrapping_add(p as i32 * w);
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Which Pillow's pass order to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassOrder {
    /// Current Pillow (13 and later): vertical first when the height shrinks much more.
    #[default]
    Pillow13,
    /// Pillow 12 and earlier, including the authors' 8.4: always horizontal first.
    HorizontalFirst,
}

impl PassOrder {
    fn vertical_first(self, from: (usize, usize), to: (usize, usize)) -> bool {
        let (dw, dh) = (from.0 as i64 - to.0 as i64, from.1 as i64 - to.1 as i64);
        self == PassOrder::Pillow13 && dh > 0 && dh > 2 * dw
    }
}

/// `img.resize((width, height), Image.BICUBIC)` as current Pillow computes it.
pub fn resize_bicubic(img: &RgbImage, width: usize, height: usize) -> RgbImage {
    resize_bicubic_with(img, width, height, PassOrder::default())
}

pub fn resize_bicubic_with(img: &RgbImage, width: usize, height: usize, order: PassOrder) -> RgbImage {
    let horizontal = |im: RgbImage| if im.width != width { resample_horizontal(&im, width) } else { im };
    let vertical = |im: RgbImage| if im.height != height { resample_vertical(&im, height) } else { im };
    if (img.width, img.height) == (width, height) {
        img.clone()
    } else if order.vertical_first((img.width, img.height), (width, height)) {
        horizontal(vertical(img.clone()))
    } else {
        vertical(horizontal(img.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(320, 224), (100, 224), (224, 246), (1000, 7)] {
            for t in coefficients(i, o) {
                let s: i32 = t.weights.iter().sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= t.weights.len() as i32, "{i}->{o}: {s}");
            }
        }
    }

    #[test]
    fn identity_and_constant_images() {
        let mut img = RgbImage::new(224, 224);
        img.data.iter_mut().enumerate().for_each(|(i, v)| *v = (i * 7 % 256) as u8);
        assert_eq!(resize_bicubic(&img, 224, 224), img);
        let flat = RgbImage { width: 300, height: 170, data: vec![77; 300 * 170 * 3] };
        assert!(resize_bicubic(&flat, 224, 224).data.iter().all(|&v| v == 77));
    }
}
