//! torch's antialiased bicubic resize of float images: `F.interpolate(x, size,
//! mode="bicubic", align_corners=False, antialias=True)`, what torchvision's tensor
//! `Resize((h, w), BICUBIC)` does after `ToTensor()` (antialias is its default since
//! torchvision 0.17). The SSL-align authors' test script feeds frames through it
//! (docs/method.md §4c). Unlike Pillow's resize (crate::resize) it works on floats, with
//! no 8-bit rounding between the passes and no clamping, so results leave [0, 1] at edges.

/// The cubic kernel of the antialiased path, a = −0.5 (Keys; the plain bicubic path uses
/// −0.75): Pillow's kernel (crate::resize), evaluated in float32 as torch does for float32
/// images.
fn cubic(x: f32) -> f32 {
    const A: f32 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// For each output index: the first input index and the normalised weights. When
/// shrinking, the kernel is stretched by the scale (the antialiasing). All in float32, as
/// torch computes them for float32 images: the taps at the edge of the support carry
/// weights of ~1e-5, so a centre computed in float64 can take or drop one and move every
/// weight of that output by as much.
fn taps(input: usize, output: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = input as f32 / output as f32;
    let (support, stretch) = if scale >= 1.0 { (2.0 * scale, 1.0 / scale) } else { (2.0, 1.0) };
    (0..output)
        .map(|i| {
            let center = scale * (i as f32 + 0.5);
            // Truncation toward zero, as the C++ casts do.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let last = ((center + support + 0.5) as i64).min(input as i64) as usize;
            let raw: Vec<f32> = (first..last).map(|j| cubic((j as f32 - center + 0.5) * stretch)).collect();
            let total: f32 = raw.iter().sum();
            let weights = raw.iter().map(|w| if total != 0.0 { w / total } else { 0.0 }).collect();
            (first, weights)
        })
        .collect()
}

/// Resizes each of `channels` planes of `height`×`width` float32 values (CHW) to
/// `out_height`×`out_width`: along the width first, then along the height, each pass
/// skipped when that side keeps its size. Sizes must be non-zero.
pub fn resize_bicubic_antialiased(
    planes: &[f32],
    channels: usize,
    (height, width): (usize, usize),
    (out_height, out_width): (usize, usize),
) -> Vec<f32> {
    assert_eq!(planes.len(), channels * height * width, "CHW planes of the given size");
    let mut current = planes.to_vec();
    if out_width != width {
        let taps = taps(width, out_width);
        let mut next = vec![0.0f32; channels * height * out_width];
        for (row_in, row_out) in current.chunks_exact(width).zip(next.chunks_exact_mut(out_width)) {
            for (out, (first, weights)) in row_out.iter_mut().zip(&taps) {
                *out = weights.iter().zip(&row_in[*first..]).map(|(w, v)| w * v).sum();
            }
        }
        current = next;
    }
    if out_height != height {
        let taps = taps(height, out_height);
        let mut next = vec![0.0f32; channels * out_height * out_width];
        for (plane_in, plane_out) in
            current.chunks_exact(height * out_width).zip(next.chunks_exact_mut(out_height * out_width))
        {
            for (y, (first, weights)) in taps.iter().enumerate() {
                let row_out = &mut plane_out[y * out_width..(y + 1) * out_width];
                for (k, w) in weights.iter().enumerate() {
                    let row_in = &plane_in[(first + k) * out_width..(first + k + 1) * out_width];
                    for (o, v) in row_out.iter_mut().zip(row_in) {
                        *o += w * v;
                    }
                }
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_stretch_when_shrinking() {
        for (input, output) in [(500, 224), (224, 500), (7, 3), (3, 7)] {
            for (first, weights) in taps(input, output) {
                assert!((weights.iter().sum::<f32>() - 1.0).abs() < 1e-6);
                assert!(first + weights.len() <= input);
            }
        }
        // Shrinking by 2: the kernel spans 8 inputs (4 each side), the plain one 4.
        assert_eq!(taps(448, 224)[100].1.len(), 8);
        assert_eq!(taps(224, 448)[100].1.len(), 4);
    }

    #[test]
    fn a_constant_image_stays_constant_and_sizes_kept_are_untouched() {
        let flat = vec![0.25f32; 3 * 40 * 30];
        let out = resize_bicubic_antialiased(&flat, 3, (40, 30), (17, 61));
        assert_eq!(out.len(), 3 * 17 * 61);
        assert!(out.iter().all(|v| (v - 0.25).abs() < 1e-6));
        let ramp: Vec<f32> = (0..2 * 5 * 4).map(|i| i as f32).collect();
        assert_eq!(resize_bicubic_antialiased(&ramp, 2, (5, 4), (5, 4)), ramp);
    }
}
