//! The CPU inference path of the ResNet-18 trunks: per image, an im2col patch matrix and
//! one matrix product (the `gemm` crate, AVX2/AVX-512 chosen at run time) written straight
//! into the NCHW output, which already holds bias and residual. burn's CPU convolution
//! converts to NHWC and builds its im2col in tiles around every product; see `avsl bench
//! forward` and `docs/speed.md` for the measurements.

use rayon::prelude::*;

use crate::activation::Activation;
use crate::matmul::{Threads, matmul};
use crate::scratch;
use crate::simd::vectorized;
use crate::winograd::{self, Direction, TransformedWeights};

/// A convolution with BatchNorm folded into its weights and bias.
pub struct HostConv {
    weight: ConvWeight,
    bias: Vec<f32>,
    in_c: usize,
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

/// How a convolution multiplies.
enum ConvWeight {
    /// `[out_c, in_c·k·k]`, row-major (PyTorch's weight layout, flattened), times the
    /// patch matrix.
    Patches(Vec<f32>),
    /// 3×3, stride 1, padding 1: Winograd's F(2×2, 3×3).
    Winograd(TransformedWeights),
}

impl HostConv {
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, [out_c, in_c, k]: [usize; 3], stride: usize, pad: usize) -> HostConv {
        debug_assert_eq!(weight.len(), out_c * in_c * k * k);
        let weight = if winograd::applies(k, stride, pad, [in_c, out_c]) {
            ConvWeight::Winograd(TransformedWeights::new(&weight, out_c, in_c))
        } else {
            ConvWeight::Patches(weight)
        };
        HostConv { weight, bias, in_c, out_c, k, stride, pad }
    }

    fn geometry(&self, x: &Activation) -> ConvGeometry {
        ConvGeometry::new([x.c, x.h, x.w], self.k, self.stride, self.pad)
    }

    /// conv(x) + bias (+ residual), then ReLU when asked: the product alone, then each
    /// output plane, while in cache, added to bias and residual (the same operations
    /// whatever the group size, so a map does not depend on the batch).
    pub fn forward(&self, x: &Activation, residual: Option<&Activation>, relu: bool) -> Activation {
        debug_assert_eq!(x.c, self.in_c);
        let g = self.geometry(x);
        let hw = g.hw();
        let finish = |plane: usize, out: &mut [f32]| {
            let b = self.bias[plane % self.out_c];
            vectorized(|| match residual {
                Some(r) => {
                    let r = &r.data[plane * hw..][..hw];
                    out.iter_mut().zip(r).for_each(|(d, &r)| *d += r + b);
                }
                None => out.iter_mut().for_each(|d| *d += b),
            });
            if relu {
                vectorized(|| out.iter_mut().for_each(|v| *v = v.max(0.0)));
            }
        };
        let data = match &self.weight {
            ConvWeight::Patches(weight) => {
                let mut data = vec![0.0f32; x.n * self.out_c * hw];
                self.forward_patches(weight, x, &mut data, finish);
                data
            }
            ConvWeight::Winograd(u) => winograd::convolve(u, Direction::Forward, x, finish),
        };
        Activation { n: x.n, c: self.out_c, h: g.ho, w: g.wo, data }
    }

    /// The product of the weight with the patch matrix, a group of images at a time (their
    /// patch matrix in a buffer reused across calls), written into NCHW `data`;
    /// `finish(plane, values)` runs on each plane once written.
    fn forward_patches(
        &self,
        weight: &[f32],
        x: &Activation,
        data: &mut [f32],
        finish: impl Fn(usize, &mut [f32]) + Sync,
    ) {
        let g = self.geometry(x);
        let (hw, depth) = (g.hw(), g.depth());
        let group = images_per_product(hw, x.n);
        let image_len = x.c * x.h * x.w;
        for first in (0..x.n).step_by(group) {
            let g_n = group.min(x.n - first);
            let columns = g_n * hw;
            let need = if g.pointwise() && g_n == 1 { 0 } else { depth * columns };
            scratch::with_buffer(&SCRATCH, need + self.out_c * columns, |scratch| {
                let (col, product) = scratch.split_at_mut(need);
                let rhs: &[f32] = if need == 0 {
                    &x.data[first * image_len..][..image_len]
                } else {
                    col.par_chunks_mut(columns).enumerate().for_each(|(row, out)| {
                        for (i, out) in out.chunks_mut(hw).enumerate() {
                            g.im2col_row(&x.data[(first + i) * image_len..][..image_len], row, out);
                        }
                    });
                    col
                };
                matmul(product, weight, false, rhs, false, [self.out_c, columns, depth], false, Threads::Rayon);
                // [out_c][image·hw] → NCHW.
                let dst = &mut data[first * self.out_c * hw..][..g_n * self.out_c * hw];
                dst.par_chunks_mut(hw).enumerate().for_each(|(plane, out)| {
                    let (i, oc) = (plane / self.out_c, plane % self.out_c);
                    out.copy_from_slice(&product[oc * columns + i * hw..][..hw]);
                    finish(first * self.out_c + plane, out);
                });
            });
        }
    }
}

/// Where a convolution reads: input `[c, h, w]`, a `k`×`k` kernel, stride and zero
/// padding; the output is `ho`×`wo`.
#[derive(Debug, Clone, Copy)]
pub struct ConvGeometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
}

impl ConvGeometry {
    pub fn new([c, h, w]: [usize; 3], k: usize, stride: usize, pad: usize) -> ConvGeometry {
        let out = |size: usize| (size + 2 * pad - k) / stride + 1;
        ConvGeometry { c, h, w, k, stride, pad, ho: out(h), wo: out(w) }
    }

    pub fn hw(&self) -> usize {
        self.ho * self.wo
    }

    /// Rows of the patch matrix: (channel, ky, kx).
    pub fn depth(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Whether the patch matrix is the image itself (1×1, stride 1).
    pub fn pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }

    /// Output columns `first..last` whose input column `ox·stride + kx − pad` lies inside
    /// the image.
    fn inside_columns(&self, kx: usize) -> (usize, usize) {
        let first = self.pad.saturating_sub(kx).div_ceil(self.stride).min(self.wo);
        let last = (self.w + self.pad).saturating_sub(kx).div_ceil(self.stride).clamp(first, self.wo);
        (first, last)
    }

    /// Row `row` = (c, ky, kx) of the patch matrix `[c·k·k, ho·wo]` of one image.
    pub fn im2col_row(&self, image: &[f32], row: usize, out: &mut [f32]) {
        let (k, stride, pad, wo) = (self.k, self.stride, self.pad, self.wo);
        let (c, ky, kx) = (row / (k * k), (row / k) % k, row % k);
        let plane = &image[c * self.h * self.w..][..self.h * self.w];
        let (first, last) = self.inside_columns(kx);
        if stride == 1 && wo == self.w {
            return self.shifted_plane(plane, [ky, kx], [first, last], out);
        }
        for oy in 0..self.ho {
            let out_row = &mut out[oy * wo..][..wo];
            let iy = (oy * stride + ky) as isize - pad as isize;
            if iy < 0 || iy >= self.h as isize {
                out_row.fill(0.0);
                continue;
            }
            let src = &plane[iy as usize * self.w..][..self.w];
            out_row[..first].fill(0.0);
            out_row[last..].fill(0.0);
            let start = first * stride + kx - pad;
            let (out_row, src) = (&mut out_row[first..last], &src[start..]);
            match stride {
                1 => out_row.copy_from_slice(&src[..out_row.len()]),
                // Pairs, so the loop vectorises (a variable stride leaves it scalar).
                2 => {
                    let (pairs, rest) = src.as_chunks::<2>();
                    let mut out_pairs = out_row.iter_mut();
                    for (&[x, _], o) in pairs.iter().zip(&mut out_pairs) {
                        *o = x;
                    }
                    if let (Some(o), [x]) = (out_pairs.next(), rest) {
                        *o = *x;
                    }
                }
                _ => out_row.iter_mut().zip(src.iter().step_by(stride)).for_each(|(o, &x)| *o = x),
            }
        }
    }

    /// A patch row of a stride-1 convolution whose output is as wide as its input: the
    /// plane shifted by (ky − pad, kx − pad), so the rows inside the image are one
    /// contiguous copy (short rows made one copy each the main cost); then the columns
    /// outside, which that copy filled from the neighbouring rows, and the rows outside
    /// are zeroed.
    fn shifted_plane(&self, plane: &[f32], [ky, kx]: [usize; 2], [first, last]: [usize; 2], out: &mut [f32]) {
        let (w, pad) = (self.w, self.pad);
        // Output rows whose input row oy + ky − pad lies inside the image.
        let top = pad.saturating_sub(ky).min(self.ho);
        let bottom = (self.h + pad).saturating_sub(ky).clamp(top, self.ho);
        out[..top * w].fill(0.0);
        out[bottom * w..self.ho * w].fill(0.0);
        if top == bottom || first == last {
            out[top * w..bottom * w].fill(0.0);
            return;
        }
        let start = top * w + first;
        let end = (bottom - 1) * w + last;
        let src = (top + ky - pad) * w + first + kx - pad;
        out[start..end].copy_from_slice(&plane[src..][..end - start]);
        for row in out[top * w..bottom * w].chunks_exact_mut(w) {
            row[..first].fill(0.0);
            row[last..].fill(0.0);
        }
    }

    /// The whole patch matrix of one image.
    pub fn im2col(&self, image: &[f32], col: &mut [f32]) {
        let hw = self.hw();
        for (row, out) in col[..self.depth() * hw].chunks_mut(hw).enumerate() {
            self.im2col_row(image, row, out);
        }
    }

    /// The adjoint of `im2col`: adds every patch-matrix entry back onto the input pixel it
    /// was read from (`image` is one image's gradient, accumulated into). Row `r` of the
    /// patch matrix starts at `col[r · row_stride]` (several images' matrices may lie side
    /// by side).
    pub fn col2im(&self, col: &[f32], row_stride: usize, image: &mut [f32]) {
        let (k, stride, pad, wo, hw) = (self.k, self.stride, self.pad, self.wo, self.hw());
        for row in 0..self.depth() {
            let (c, ky, kx) = (row / (k * k), (row / k) % k, row % k);
            let plane = &mut image[c * self.h * self.w..][..self.h * self.w];
            let src_rows = &col[row * row_stride..][..hw];
            let (first, last) = self.inside_columns(kx);
            for oy in 0..self.ho {
                let iy = (oy * stride + ky) as isize - pad as isize;
                if iy < 0 || iy >= self.h as isize {
                    continue;
                }
                let start = first * stride + kx - pad;
                let dst = &mut plane[iy as usize * self.w + start..][..self.w - start];
                let src = &src_rows[oy * wo + first..][..last - first];
                match stride {
                    1 => dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s),
                    // Whole pairs written back, so the loop vectorises.
                    2 => {
                        let (pairs, rest) = dst.as_chunks_mut::<2>();
                        let mut src = src.iter();
                        for (pair, &s) in pairs.iter_mut().zip(&mut src) {
                            *pair = [pair[0] + s, pair[1]];
                        }
                        if let (Some(&s), [d]) = (src.next(), rest) {
                            *d += s;
                        }
                    }
                    _ => dst.iter_mut().step_by(stride).zip(src).for_each(|(d, &s)| *d += s),
                }
            }
        }
    }
}

/// Patch columns per matrix product below which images are multiplied together.
const MIN_COLUMNS: usize = 1024;

/// Images whose patch matrices one product takes together: enough for [`MIN_COLUMNS`]
/// positions. Deep layers have few positions per image, and one product per group streams
/// their large weight matrix once per group instead of once per image. A fixed rule, so a
/// training step does not depend on the thread count.
pub(crate) fn images_per_product(hw: usize, n: usize) -> usize {
    MIN_COLUMNS.div_ceil(hw).clamp(1, n.max(1))
}

thread_local! {
    /// The patch matrix of the convolution being computed, kept between calls so that its
    /// pages are not mapped and zeroed again for every layer.
    static SCRATCH: scratch::Buffer = const { std::cell::RefCell::new(Vec::new()) };
}

/// 3×3 max pooling, stride 2, padding 1 (padding never wins: it is −∞).
pub fn max_pool_3x3_s2(x: &Activation) -> Activation {
    let (ho, wo) = ((x.h + 2 - 3) / 2 + 1, (x.w + 2 - 3) / 2 + 1);
    let mut data = vec![0.0f32; x.n * x.c * ho * wo];
    // The maximum over rows first (contiguous, vectorised), then over columns: `f32::max`
    // ignores NaN whatever the order, so the order does not change the result (up to the
    // sign of a zero maximum).
    data.par_chunks_mut(ho * wo).enumerate().for_each(|(plane, out)| {
        let src = &x.data[plane * x.h * x.w..][..x.h * x.w];
        let mut rows_max = vec![f32::NEG_INFINITY; x.w];
        for (oy, out_row) in out.chunks_mut(wo).enumerate() {
            rows_max.fill(f32::NEG_INFINITY);
            for iy in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(x.h) {
                let row = &src[iy * x.w..][..x.w];
                vectorized(|| rows_max.iter_mut().zip(row).for_each(|(m, &v)| *m = m.max(v)));
            }
            for (ox, o) in out_row.iter_mut().enumerate() {
                let columns = &rows_max[(2 * ox).saturating_sub(1)..(2 * ox + 2).min(x.w)];
                *o = columns.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            }
        }
    });
    Activation { n: x.n, c: x.c, h: ho, w: wo, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;

    /// The definition of a convolution, one output at a time.
    fn direct(x: &Activation, w: &[f32], b: &[f32], [oc, k, s, p]: [usize; 4]) -> Vec<f32> {
        let (ho, wo) = ((x.h + 2 * p - k) / s + 1, (x.w + 2 * p - k) / s + 1);
        let mut out = vec![0.0f32; x.n * oc * ho * wo];
        for n in 0..x.n {
            for o in 0..oc {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = b[o] as f64;
                        for c in 0..x.c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (iy, ix) =
                                        ((oy * s + ky) as isize - p as isize, (ox * s + kx) as isize - p as isize);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                        acc += (w[((o * x.c + c) * k + ky) * k + kx]
                                            * x.data[((n * x.c + c) * x.h + iy as usize) * x.w + ix as usize])
                                            as f64;
                                    }
                                }
                            }
                        }
                        out[((n * oc + o) * ho + oy) * wo + ox] = acc as f32;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_for_every_shape_the_trunks_use() {
        // (in_c, out_c, k, stride, pad, h, w, n): stems, 3×3 blocks (64 channels: Winograd),
        // strided, 1×1 downsample, odd sizes (spectrograms are 257 × T), a plane narrower
        // than the kernel.
        for (in_c, out_c, k, s, p, h, w, n) in [
            (3, 4, 7, 2, 3, 19, 17, 2),
            (1, 3, 7, 2, 3, 23, 12, 1),
            (5, 6, 3, 1, 1, 9, 11, 3),
            (64, 64, 3, 1, 1, 9, 7, 2),
            (5, 6, 3, 2, 1, 9, 10, 2),
            (6, 4, 1, 2, 0, 9, 7, 2),
            (6, 4, 1, 1, 0, 5, 5, 1),
            (3, 2, 3, 1, 1, 1, 2, 2),
        ] {
            let x = Activation { n, c: in_c, h, w, data: values(n * in_c * h * w, 7) };
            let weight = values(out_c * in_c * k * k, 3);
            let bias = values(out_c, 5);
            let conv = HostConv::new(weight.clone(), bias.clone(), [out_c, in_c, k], s, p);
            let expected = direct(&x, &weight, &bias, [out_c, k, s, p]);
            let got = conv.forward(&x, None, false);
            let worst = got.data.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{:?}: {worst}", (in_c, out_c, k, s, p, h, w, n));
            let with_relu = conv.forward(&x, Some(&got), true);
            for (r, g) in with_relu.data.iter().zip(&got.data) {
                assert!((r - (2.0 * g).max(0.0)).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn max_pool_matches_the_definition() {
        let x = Activation { n: 2, c: 3, h: 7, w: 6, data: values(2 * 3 * 42, 1) };
        let y = max_pool_3x3_s2(&x);
        assert_eq!((y.h, y.w), (4, 3));
        for plane in 0..6 {
            for oy in 0..4 {
                for ox in 0..3 {
                    let mut m = f32::NEG_INFINITY;
                    for iy in (2 * oy as isize - 1)..=(2 * oy as isize + 1) {
                        for ix in (2 * ox as isize - 1)..=(2 * ox as isize + 1) {
                            if iy >= 0 && ix >= 0 && iy < 7 && ix < 6 {
                                m = m.max(x.data[plane * 42 + iy as usize * 6 + ix as usize]);
                            }
                        }
                    }
                    assert_eq!(y.data[plane * 12 + oy * 3 + ox], m);
                }
            }
        }
    }
}
