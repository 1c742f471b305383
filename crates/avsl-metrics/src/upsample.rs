//! PyTorch's `F.interpolate(x, size, mode='bicubic', align_corners=…)` for one float32
//! map (docs/method.md §7 item 16), bit for bit: cubic convolution with A = −0.75, taps clamped
//! at the border, the row (y) combination of column (x) combinations, in float32.
//!
//! PyTorch's x86 build lets the compiler fuse some multiply-adds, and the fusions change
//! the last bits. Matched against torch 2.15 on 7×7, 5×9 and 14×14 maps, both corner
//! rules (tools/make_metric_fixtures.py keeps a fixture), the fused operations are:
//! - the cubic kernels: `c1(x) = (fma(A+2, x, −(A+3))·x)·x + 1`,
//!   `c2(x) = fma(fma(A, x, −5A), x, 8A)·x − 4A`;
//! - the source coordinate without aligned corners: `fma(scale, i + 0.5, −0.5)`;
//! - the 4-tap sums: `fma(v3, w3, fma(v2, w2, fma(v0, w0, v1·w1)))`.
//!
//! Bilinear (EZ-VSL's protocol) likewise: `fma(h0, fma(w0, a, w1·b), h1·fma(w0, c, w1·d))`,
//! with the source coordinate clamped at 0 when corners are not aligned.
//!
//! `f32::mul_add` is a correctly rounded fused multiply-add on every platform, so these
//! results do not depend on the CPU; with FMA hardware it is also fast (checked at run
//! time).

const A: f32 = -0.75;

fn cubic1(x: f32) -> f32 {
    (A + 2.0).mul_add(x, -(A + 3.0)) * x * x + 1.0
}

fn cubic2(x: f32) -> f32 {
    A.mul_add(x, -5.0 * A).mul_add(x, 8.0 * A) * x - 4.0 * A
}

/// PyTorch's `area_pixel_compute_scale` (no explicit scale factor).
fn source_scale(input: usize, output: usize, align_corners: bool) -> f32 {
    match (align_corners, output > 1) {
        (true, true) => (input - 1) as f32 / (output - 1) as f32,
        (true, false) => 0.0,
        (false, _) => input as f32 / output as f32,
    }
}

/// PyTorch's `area_pixel_compute_source_index` before any clamping; the half-pixel shift
/// is fused as PyTorch's compiled kernel fuses it.
fn source_index(scale: f32, i: usize, align_corners: bool) -> f32 {
    if align_corners { scale * i as f32 } else { scale.mul_add((i as f64 + 0.5) as f32, -0.5) }
}

/// The four clamped source taps and their weights for every output index of one axis.
fn axis(input: usize, output: usize, align_corners: bool) -> Vec<([usize; 4], [f32; 4])> {
    let scale = source_scale(input, output, align_corners);
    (0..output)
        .map(|i| {
            let real = source_index(scale, i, align_corners);
            let index = (real.floor() as i64).min(input as i64 - 1);
            let t = (real - index as f32).clamp(0.0, 1.0);
            let weights = [cubic2(t + 1.0), cubic1(t), cubic1(1.0 - t), cubic2((1.0 - t) + 1.0)];
            let at = |k: i64| (index - 1 + k).clamp(0, input as i64 - 1) as usize;
            ([at(0), at(1), at(2), at(3)], weights)
        })
        .collect()
}

#[inline(always)]
fn taps(v: [f32; 4], w: [f32; 4]) -> f32 {
    v[3].mul_add(w[3], v[2].mul_add(w[2], v[0].mul_add(w[0], v[1] * w[1])))
}

#[inline(always)]
fn resample(src: &[f32], h: usize, w: usize, ys: &[([usize; 4], [f32; 4])], xs: &[([usize; 4], [f32; 4])]) -> Vec<f32> {
    // The column combination of an input row does not depend on the output row: compute
    // each once (h × out_w), then combine rows.
    let mut inner = Vec::with_capacity(h * xs.len());
    for r in 0..h {
        let row = &src[r * w..(r + 1) * w];
        for (xi, xw) in xs {
            inner.push(taps([row[xi[0]], row[xi[1]], row[xi[2]], row[xi[3]]], *xw));
        }
    }
    let out_w = xs.len();
    let mut out = Vec::with_capacity(ys.len() * out_w);
    for (yi, yw) in ys {
        let rows = yi.map(|r| &inner[r * out_w..(r + 1) * out_w]);
        for (((&a, &b), &c), &d) in rows[0].iter().zip(rows[1]).zip(rows[2]).zip(rows[3]) {
            out.push(taps([a, b, c, d], *yw));
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn resample_fma(
    src: &[f32],
    h: usize,
    w: usize,
    ys: &[([usize; 4], [f32; 4])],
    xs: &[([usize; 4], [f32; 4])],
) -> Vec<f32> {
    resample(src, h, w, ys, xs)
}

/// Upsamples a row-major `[h, w]` map to `[out_h, out_w]`.
pub fn bicubic(src: &[f32], h: usize, w: usize, out_h: usize, out_w: usize, align_corners: bool) -> Vec<f32> {
    assert_eq!(src.len(), h * w, "map data does not match its shape");
    let ys = axis(h, out_h, align_corners);
    let xs = axis(w, out_w, align_corners);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports FMA (checked just above).
        return unsafe { resample_fma(src, h, w, &ys, &xs) };
    }
    resample(src, h, w, &ys, &xs)
}

/// Two source taps and their weights per output index of one bilinear axis: PyTorch's
/// `area_pixel_compute_source_index` (clamped at 0 without aligned corners), `λ1 = x − i0`,
/// `λ0 = 1 − λ1`.
fn linear_axis(input: usize, output: usize, align_corners: bool) -> Vec<([usize; 2], [f32; 2])> {
    let scale = source_scale(input, output, align_corners);
    (0..output)
        .map(|i| {
            // Linear (unlike cubic) interpolation clamps negative coordinates to 0.
            let real = source_index(scale, i, align_corners).max(0.0);
            let i0 = real as usize;
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            let l1 = real - i0 as f32;
            ([i0, i1], [1.0 - l1, l1])
        })
        .collect()
}

#[inline(always)]
fn linear_resample(src: &[f32], w: usize, ys: &[([usize; 2], [f32; 2])], xs: &[([usize; 2], [f32; 2])]) -> Vec<f32> {
    let mut out = Vec::with_capacity(ys.len() * xs.len());
    for ([y0, y1], [h0, h1]) in ys {
        let (r0, r1) = (&src[y0 * w..(y0 + 1) * w], &src[y1 * w..(y1 + 1) * w]);
        for ([x0, x1], [w0, w1]) in xs {
            // PyTorch's compiled kernel fuses as: fma(w0, a, w1·b) per row, then the rows.
            let top = w0.mul_add(r0[*x0], w1 * r0[*x1]);
            let bottom = w0.mul_add(r1[*x0], w1 * r1[*x1]);
            out.push(h0.mul_add(top, h1 * bottom));
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn linear_resample_fma(
    src: &[f32],
    w: usize,
    ys: &[([usize; 2], [f32; 2])],
    xs: &[([usize; 2], [f32; 2])],
) -> Vec<f32> {
    linear_resample(src, w, ys, xs)
}

/// `F.interpolate(x, size, mode='bilinear', align_corners=…)` for one float32 map, bit for
/// bit (EZ-VSL's protocol upsamples this way).
pub fn bilinear(src: &[f32], h: usize, w: usize, out_h: usize, out_w: usize, align_corners: bool) -> Vec<f32> {
    assert_eq!(src.len(), h * w, "map data does not match its shape");
    let ys = linear_axis(h, out_h, align_corners);
    let xs = linear_axis(w, out_w, align_corners);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports FMA (checked just above).
        return unsafe { linear_resample_fma(src, w, &ys, &xs) };
    }
    linear_resample(src, w, &ys, &xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_maps_stay_constant_and_corners_align() {
        let flat = vec![0.25f32; 49];
        assert!(bicubic(&flat, 7, 7, 224, 224, true).iter().all(|&v| (v - 0.25).abs() < 1e-6));
        let src: Vec<f32> = (0..49).map(|i| (i * i % 13) as f32).collect();
        let up = bicubic(&src, 7, 7, 224, 224, true);
        // align_corners=True maps output corners exactly onto input corners.
        assert_eq!(up[0], src[0]);
        assert_eq!(up[223], src[6]);
        assert_eq!(up[223 * 224 + 223], src[48]);
    }

    #[test]
    fn hardware_and_software_fma_agree() {
        let src: Vec<f32> = (0..49).map(|i| ((i * 37 % 17) as f32 - 8.0) * 1.37).collect();
        let ys = axis(7, 224, false);
        assert_eq!(bicubic(&src, 7, 7, 224, 224, false), resample(&src, 7, 7, &ys, &ys));
        let ls = linear_axis(7, 224, true);
        assert_eq!(bilinear(&src, 7, 7, 224, 224, true), linear_resample(&src, 7, &ls, &ls));
    }
}
