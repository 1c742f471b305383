//! CPU kernels of a training step, forward and backward: convolution (im2col + one matrix
//! product per image, images in parallel), BatchNorm with batch statistics, ReLU and 3×3
//! max-pooling. The trunks run on these instead of burn's autodiff, which spent most of a
//! step in element-wise passes and layout copies (`docs/speed.md`). Reductions
//! over the batch are summed in a fixed order, so a step does not depend on the number of
//! threads.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::activation::Activation;
use crate::conv::{self, ConvGeometry};
use crate::matmul::{self, Threads};
use crate::scratch;
use crate::simd::{sum_and_dot_f64, sum_f64, vectorized, vectorized_fn};
use crate::winograd::{self, Direction, TransformedWeights};

/// A product on one thread: the kernels below run images in parallel themselves.
fn matmul(dst: &mut [f32], a: &[f32], a_t: bool, b: &[f32], b_t: bool, mnk: [usize; 3], accumulate: bool) {
    matmul::matmul(dst, a, a_t, b, b_t, mnk, accumulate, Threads::One);
}

thread_local! {
    /// A patch matrix (one image's, or the gradient of a group's), reused between calls.
    static COLUMNS: scratch::Buffer = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_columns<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    scratch::with_buffer(&COLUMNS, len, f)
}

/// A bias-free convolution with weight `[out_c, in_c, k, k]` (flattened).
#[derive(Debug, Clone, Copy)]
pub struct Conv<'a> {
    pub weight: &'a [f32],
    pub out_c: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

/// 2×2 output tiles per image from which training convolutions use Winograd's algorithm.
const MIN_WINOGRAD_TILES: usize = 32;

/// Output positions an image, and weights, of the convolutions whose backward products
/// take several images at once ([`Conv::backward_grouped`]).
const GROUPED_BELOW_POSITIONS: usize = 128;
const GROUPED_FROM_WEIGHTS: usize = 1 << 20;

/// Images per partial sum of a weight gradient: fixed, so the order of the additions
/// does not depend on the thread count.
const IMAGES_PER_PARTIAL: usize = 4;

impl Conv<'_> {
    fn geometry(&self, x: &Activation) -> ConvGeometry {
        ConvGeometry::new([x.c, x.h, x.w], self.k, self.stride, self.pad)
    }

    /// Whether the forward and input-gradient products use Winograd's F(2×2, 3×3): the
    /// weights are transformed anew every step, which pays off on planes of at least
    /// [`MIN_WINOGRAD_TILES`] tiles (layer4's 7×7 planes have 16; there the 16 transformed
    /// 512×512 matrices are streamed for few columns, and im2col measured faster at batch 8).
    fn winograd(&self, x: &Activation) -> bool {
        winograd::applies(self.k, self.stride, self.pad, [x.c, self.out_c])
            && winograd::tiles_per_image(x.h, x.w) >= MIN_WINOGRAD_TILES
    }

    /// Whether the backward products take several images at once: planes of few positions
    /// with a large weight (layer4), where a product per image is short and streams the
    /// whole weight. Measured at batch 8, 2 threads (`docs/speed.md`): layer4's backward
    /// 27.0 → 18.2 ms; on larger planes, products per image on parallel threads are as
    /// fast or faster.
    fn backward_grouped(&self, x: &Activation) -> bool {
        let g = self.geometry(x);
        g.hw() < GROUPED_BELOW_POSITIONS && self.out_c * g.depth() >= GROUPED_FROM_WEIGHTS
    }

    pub fn forward(&self, x: &Activation) -> Activation {
        let g = self.geometry(x);
        let (hw, depth, image_len) = (g.hw(), g.depth(), x.c * x.h * x.w);
        if self.winograd(x) {
            let u = TransformedWeights::new(self.weight, self.out_c, x.c);
            let data = winograd::convolve(&u, Direction::Forward, x, |_, _| ());
            return Activation { n: x.n, c: self.out_c, h: g.ho, w: g.wo, data };
        }
        // Each image's output written once by its product, into unused capacity.
        let len = x.n * self.out_c * hw;
        let mut data = Vec::with_capacity(len);
        let mnk = [self.out_c, hw, depth];
        data.spare_capacity_mut()[..len].par_chunks_mut(self.out_c * hw).zip(x.data.par_chunks(image_len)).for_each(
            |(out, image)| {
                if g.pointwise() {
                    matmul::matmul_uninit(out, self.weight, false, image, false, mnk, Threads::One);
                } else {
                    with_columns(depth * hw, |col| {
                        g.im2col(image, col);
                        matmul::matmul_uninit(out, self.weight, false, col, false, mnk, Threads::One);
                    });
                }
            },
        );
        // SAFETY: `matmul_uninit` wrote every element of each image's output (`x.n` chunks of
        // `out_c·hw`: all `len`).
        unsafe { data.set_len(len) };
        Activation { n: x.n, c: self.out_c, h: g.ho, w: g.wo, data }
    }

    /// Gradients of the input and of the weight from the output's gradient `dy`.
    pub fn backward(&self, x: &Activation, dy: &Activation, need_input: bool) -> (Option<Activation>, Vec<f32>) {
        let dw = self.weight_gradient(x, dy);
        if !need_input {
            return (None, dw);
        }
        let dx = if self.winograd(x) {
            // dX = the adjoint convolution of dY (3×3, stride 1, padding 1 again).
            let u = TransformedWeights::new(self.weight, self.out_c, x.c);
            winograd::convolve(&u, Direction::Adjoint, dy, |_, _| ())
        } else {
            let mut dx = vec![0.0f32; x.data.len()];
            self.input_gradient_patches(x, dy, &mut dx);
            dx
        };
        (Some(Activation { n: x.n, c: x.c, h: x.h, w: x.w, data: dx }), dw)
    }

    /// dW = Σ_images dY · colᵀ.
    fn weight_gradient(&self, x: &Activation, dy: &Activation) -> Vec<f32> {
        if self.backward_grouped(x) {
            return self.weight_gradient_grouped(x, dy);
        }
        let partials = self.weight_gradient_partials(x, dy);
        // dW[o][r] = Σ_partials dWᵀ[r][o], a block of output channels at a time so that
        // each partial is read a cache line at a time.
        const BLOCK: usize = 16;
        let depth = self.geometry(x).depth();
        let mut dw = vec![0.0f32; self.out_c * depth];
        dw.par_chunks_mut(BLOCK * depth).enumerate().for_each(|(b, block)| {
            let first = b * BLOCK;
            let rows = block.len() / depth;
            for partial in &partials {
                for r in 0..depth {
                    for (j, &v) in partial[r * self.out_c + first..][..rows].iter().enumerate() {
                        block[j * depth + r] += v;
                    }
                }
            }
        });
        dw
    }

    /// dWᵀ (`[c·k·k, out_c]`) for large planes, a product per image on one thread, images in
    /// parallel, summed per group of [`IMAGES_PER_PARTIAL`] images (the groups summed in
    /// order by the caller). Transposed: `gemm` runs 1.1–2.2× faster at these shapes with
    /// the long patch dimension as the destination's contiguous one (`docs/speed.md`).
    fn weight_gradient_partials(&self, x: &Activation, dy: &Activation) -> Vec<Vec<f32>> {
        let g = self.geometry(x);
        let (hw, depth, image_len) = (g.hw(), g.depth(), x.c * x.h * x.w);
        let out_len = self.out_c * hw;
        x.data
            .par_chunks(image_len * IMAGES_PER_PARTIAL)
            .zip(dy.data.par_chunks(out_len * IMAGES_PER_PARTIAL))
            .map(|(images, grads)| {
                let mut dw_t = vec![0.0f32; self.out_c * depth];
                for (k, (image, grad)) in images.chunks(image_len).zip(grads.chunks(out_len)).enumerate() {
                    if g.pointwise() {
                        matmul(&mut dw_t, image, false, grad, true, [depth, self.out_c, hw], k > 0);
                    } else {
                        with_columns(depth * hw, |col| {
                            g.im2col(image, col);
                            matmul(&mut dw_t, col, false, grad, true, [depth, self.out_c, hw], k > 0);
                        });
                    }
                }
                dw_t
            })
            .collect()
    }

    /// dW for small planes: the patch matrices of `group` images side by side and one
    /// product over the pool per group (few positions an image make short products).
    fn weight_gradient_grouped(&self, x: &Activation, dy: &Activation) -> Vec<f32> {
        let g = self.geometry(x);
        let (hw, depth, image_len) = (g.hw(), g.depth(), x.c * x.h * x.w);
        let group = conv::images_per_product(hw, x.n);
        let mut dw = vec![0.0f32; self.out_c * depth];
        for first in (0..x.n).step_by(group) {
            let count = group.min(x.n - first);
            let columns = count * hw;
            let grads = side_by_side(dy, first..first + count);
            with_columns(depth * columns, |col| {
                col.par_chunks_mut(columns).enumerate().for_each(|(row, out)| {
                    for (i, out) in out.chunks_mut(hw).enumerate() {
                        g.im2col_row(&x.data[(first + i) * image_len..][..image_len], row, out);
                    }
                });
                let mnk = [self.out_c, depth, columns];
                matmul::matmul(&mut dw, &grads, false, col, true, mnk, first > 0, Threads::Rayon);
            });
        }
        dw
    }

    /// dX = col2im(Wᵀ · dY) for the convolutions Winograd does not compute. Images are
    /// multiplied in groups (`conv::images_per_product`), as the inference path
    /// does: layer4 has 49 positions an image, and a product per image streamed its 9 MB
    /// weight once per image (2.2× slower at batch 8, measured).
    fn input_gradient_patches(&self, x: &Activation, dy: &Activation, dx: &mut [f32]) {
        let g = self.geometry(x);
        let (hw, depth, image_len) = (g.hw(), g.depth(), x.c * x.h * x.w);
        let out_len = self.out_c * hw;
        if !self.backward_grouped(x) {
            dx.par_chunks_mut(image_len).zip(dy.data.par_chunks(out_len)).for_each(|(dimage, grad)| {
                with_columns(depth * hw, |col| {
                    matmul(col, self.weight, true, grad, false, [depth, hw, self.out_c], false);
                    g.col2im(col, hw, dimage);
                });
            });
            return;
        }
        let group = conv::images_per_product(hw, x.n);
        for first in (0..x.n).step_by(group) {
            let count = group.min(x.n - first);
            let columns = count * hw;
            let grads = side_by_side(dy, first..first + count);
            with_columns(depth * columns, |col| {
                matmul::matmul(
                    col,
                    self.weight,
                    true,
                    &grads,
                    false,
                    [depth, columns, self.out_c],
                    false,
                    Threads::Rayon,
                );
                let dimages = &mut dx[first * image_len..][..count * image_len];
                dimages
                    .par_chunks_mut(image_len)
                    .enumerate()
                    .for_each(|(i, dimage)| g.col2im(&col[i * hw..], columns, dimage));
            });
        }
    }
}

/// The planes of `images` side by side, channel by channel: `[c, image·h·w]`.
fn side_by_side(x: &Activation, images: std::ops::Range<usize>) -> Vec<f32> {
    let plane = x.h * x.w;
    let columns = images.len() * plane;
    let mut out = vec![0.0f32; x.c * columns];
    out.par_chunks_mut(columns).enumerate().for_each(|(c, row)| {
        for (i, dst) in images.clone().zip(row.chunks_mut(plane)) {
            dst.copy_from_slice(&x.data[(i * x.c + c) * plane..][..plane]);
        }
    });
    out
}

/// What BatchNorm's backward needs from its training forward.
pub struct BatchNormTape {
    /// The normalised input x̂ (NCHW).
    pub normalized: Vec<f32>,
    pub inv_std: Vec<f32>,
}

/// Per-channel batch statistics of an NCHW activation: mean and biased variance, summed
/// in float64 in a fixed order.
pub fn channel_statistics(x: &Activation) -> (Vec<f64>, Vec<f64>) {
    let plane = x.h * x.w;
    let count = (x.n * plane) as f64;
    (0..x.c)
        .into_par_iter()
        .map(|c| {
            vectorized(|| {
                let planes = || (0..x.n).map(move |n| &x.data[(n * x.c + c) * plane..][..plane]);
                let mean = planes().map(|p| sum_f64(p, |v| v as f64)).sum::<f64>() / count;
                let var = planes().map(|p| sum_f64(p, |v| (v as f64 - mean).powi(2))).sum::<f64>() / count;
                (mean, var)
            })
        })
        .unzip()
}

/// What follows a BatchNorm in the same pass over its output: a residual added, then a
/// ReLU (the order of a ResNet block's end).
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    pub residual: Option<&'a Activation>,
    pub relu: bool,
}

/// Training-mode BatchNorm: `γ·(x − mean)/√(var + ε) + β` with the batch's statistics,
/// then the epilogue. Returns the output, the batch mean and biased variance (for the
/// running statistics) and, when asked, what the backward pass needs.
pub fn batch_norm_train(
    x: &Activation,
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    keep_tape: bool,
    epilogue: Epilogue,
) -> (Activation, (Vec<f64>, Vec<f64>), Option<BatchNormTape>) {
    let (mean, var) = channel_statistics(x);
    let inv_std: Vec<f32> = var.iter().map(|v| (1.0 / (v + eps).sqrt()) as f32).collect();
    let (plane, len) = (x.h * x.w, x.data.len());
    // Both outputs are written once each, straight into unused capacity: clearing them
    // first cost as much as writing them.
    let mut out = Vec::with_capacity(len);
    let mut normalized = Vec::with_capacity(if keep_tape { len } else { 0 });
    let write = |i: usize, dst: &mut [MaybeUninit<f32>], xhat: Option<&mut [MaybeUninit<f32>]>| {
        let c = i % x.c;
        let (m, s) = (mean[c] as f32, inv_std[c]);
        // PyTorch's CPU kernel: y = x·α + (β − mean·α) with α = γ·inv_std.
        let alpha = s * gamma[c];
        let terms = NormalizeTerms { alpha, shift: beta[c] - m * alpha, mean: m, inv_std: s };
        let src = &x.data[i * plane..][..plane];
        let residual = epilogue.residual.map(|r| &r.data[i * plane..][..plane]);
        normalize_plane(src, terms, residual, epilogue.relu, dst, xhat);
    };
    let out_planes = out.spare_capacity_mut()[..len].par_chunks_mut(plane);
    if keep_tape {
        let tape_planes = normalized.spare_capacity_mut()[..len].par_chunks_mut(plane);
        out_planes.zip(tape_planes).enumerate().for_each(|(i, (dst, xhat))| write(i, dst, Some(xhat)));
    } else {
        out_planes.enumerate().for_each(|(i, dst)| write(i, dst, None));
    }
    // SAFETY: `normalize_plane` wrote every element of each plane it was given (above: all
    // `len` elements of `out`, and of `normalized` when kept).
    unsafe {
        out.set_len(len);
        if keep_tape {
            normalized.set_len(len);
        }
    }
    let tape = keep_tape.then_some(BatchNormTape { normalized, inv_std });
    (Activation { n: x.n, c: x.c, h: x.h, w: x.w, data: out }, (mean, var), tape)
}

/// The per-channel constants of [`normalize_plane`].
#[derive(Debug, Clone, Copy)]
struct NormalizeTerms {
    alpha: f32,
    shift: f32,
    mean: f32,
    inv_std: f32,
}

vectorized_fn! {
/// Writes every element of `dst`: `x·α + shift` (+ residual), then ReLU when asked; and of
/// `xhat` when given: (x − mean)·inv_std. A short run at a time, so the epilogue's steps
/// stay in registers.
fn normalize_plane(
    src: &[f32],
    terms: NormalizeTerms,
    residual: Option<&[f32]>,
    relu: bool,
    dst: &mut [MaybeUninit<f32>],
    xhat: Option<&mut [MaybeUninit<f32>]>,
) {
    const RUN: usize = 64;
    let NormalizeTerms { alpha, shift, mean, inv_std } = terms;
    let same_length = |len: Option<usize>| len.is_none_or(|len| len == src.len());
    assert!(
        dst.len() == src.len() && same_length(residual.map(<[f32]>::len)) && same_length(xhat.as_ref().map(|h| h.len())),
        "plane lengths"
    );
    let mut xhat = xhat.map(|h| h.chunks_mut(RUN));
    for (start, (dst, src)) in (0..).step_by(RUN).zip(dst.chunks_mut(RUN).zip(src.chunks(RUN))) {
        let mut run = [0.0f32; RUN];
        let y = &mut run[..src.len()];
        y.iter_mut().zip(src).for_each(|(y, &v)| *y = v * alpha + shift);
        if let Some(r) = residual {
            y.iter_mut().zip(&r[start..]).for_each(|(y, &r)| *y += r);
        }
        if relu {
            y.iter_mut().for_each(|y| *y = y.max(0.0));
        }
        dst.iter_mut().zip(y.iter()).for_each(|(d, &y)| {
            d.write(y);
        });
        if let Some(h) = xhat.as_mut().and_then(|runs| runs.next()) {
            h.iter_mut().zip(src).for_each(|(h, &v)| {
                h.write((v - mean) * inv_std);
            });
        }
    }
}
}

/// BatchNorm's backward: the input's gradient (in place of `dy`) and the gradients of γ
/// and β. dx = γ·inv_std/m · (m·dy − Σdy − x̂·Σ(dy·x̂)).
pub fn batch_norm_backward(dy: &mut Activation, tape: &BatchNormTape, gamma: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (n, c_all, plane) = (dy.n, dy.c, dy.h * dy.w);
    let count = (n * plane) as f64;
    let sums: Vec<(f64, f64)> = (0..c_all)
        .into_par_iter()
        .map(|c| {
            vectorized(|| {
                let (mut sum, mut dot) = (0.0f64, 0.0f64);
                for img in 0..n {
                    let at = (img * c_all + c) * plane;
                    let (s, d) = sum_and_dot_f64(&dy.data[at..at + plane], &tape.normalized[at..at + plane]);
                    sum += s;
                    dot += d;
                }
                (sum, dot)
            })
        })
        .collect();
    dy.data.par_chunks_mut(plane).enumerate().for_each(|(i, grad)| {
        let c = i % c_all;
        let (sum, dot) = sums[c];
        let scale = gamma[c] as f64 * tape.inv_std[c] as f64 / count;
        batch_norm_input_gradient(grad, &tape.normalized[i * plane..][..plane], [scale, count, sum, dot]);
    });
    (sums.iter().map(|s| s.1 as f32).collect(), sums.iter().map(|s| s.0 as f32).collect())
}

vectorized_fn! {
/// One plane of BatchNorm's input gradient, in place of `grad` (dy):
/// scale·(count·dy − Σdy − x̂·Σ(dy·x̂)) in float64.
fn batch_norm_input_gradient(grad: &mut [f32], xhat: &[f32], terms: [f64; 4]) {
    let [scale, count, sum, dot] = terms;
    for (g, &h) in grad.iter_mut().zip(xhat) {
        *g = (scale * (count * *g as f64 - sum - h as f64 * dot)) as f32;
    }
}
}

/// Zeroes the gradient where the ReLU's output was 0.
pub fn relu_backward(dy: &mut Activation, output: &Activation) {
    dy.data
        .par_chunks_mut(1 << 14)
        .zip(output.data.par_chunks(1 << 14))
        .for_each(|(g, y)| vectorized(|| g.iter_mut().zip(y).for_each(|(g, &y)| *g = if y > 0.0 { *g } else { 0.0 })));
}

/// `a += b`, element-wise (a residual branch's gradient joining the main one).
pub fn add_in_place(a: &mut Activation, b: &Activation) {
    a.data
        .par_chunks_mut(1 << 14)
        .zip(b.data.par_chunks(1 << 14))
        .for_each(|(a, b)| vectorized(|| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b)));
}

/// 3×3 max pooling, stride 2, padding 1, with the flat index (within its plane) of each
/// output's maximum; the first maximum in scan order wins a tie and a NaN wins over
/// numbers (a later NaN over an earlier one), as in PyTorch's CPU kernel.
pub fn max_pool_train(x: &Activation) -> (Activation, Vec<u32>) {
    let (ho, wo) = ((x.h + 2 - 3) / 2 + 1, (x.w + 2 - 3) / 2 + 1);
    let mut data = vec![0.0f32; x.n * x.c * ho * wo];
    let mut argmax = vec![0u32; data.len()];
    data.par_chunks_mut(ho * wo)
        .zip(argmax.par_chunks_mut(ho * wo))
        .enumerate()
        .for_each(|(plane, (out, at))| max_pool_plane(&x.data[plane * x.h * x.w..][..x.h * x.w], [x.h, x.w], out, at));
    (Activation { n: x.n, c: x.c, h: ho, w: wo, data }, argmax)
}

vectorized_fn! {
/// One plane of [`max_pool_train`]. For each input row of an output row, its columns
/// 2·ox − 1, 2·ox and 2·ox + 1 are gathered into three arrays (−∞ outside the image) and
/// each is compared with every output of the row at once: the same candidates in the
/// same scan order per output as a window-by-window loop, so the same winner.
fn max_pool_plane(src: &[f32], hw: [usize; 2], out: &mut [f32], at: &mut [u32]) {
    let [h, w] = hw;
    let wo = (w + 2 - 3) / 2 + 1;
    let mut columns = vec![f32::NEG_INFINITY; 3 * wo];
    for (oy, (out, at)) in out.chunks_exact_mut(wo).zip(at.chunks_exact_mut(wo)).enumerate() {
        out.fill(f32::NEG_INFINITY);
        at.fill(0);
        for iy in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(h) {
            let row = &src[iy * w..][..w];
            let (left, rest) = columns.split_at_mut(wo);
            let (middle, right) = rest.split_at_mut(wo);
            // left[ox] = row[2ox − 1], middle[ox] = row[2ox], right[ox] = row[2ox + 1]
            // (whole pairs first, so the loop vectorises; an odd row's last column alone).
            let (pairs, last) = row.as_chunks::<2>();
            for ((&[even, odd], m), r) in pairs.iter().zip(middle.iter_mut()).zip(right.iter_mut()) {
                *m = even;
                *r = odd;
            }
            if let [even] = last {
                middle[wo - 1] = *even;
                right[wo - 1] = f32::NEG_INFINITY;
            }
            left[1..].copy_from_slice(&right[..wo - 1]);
            for (offset, candidates) in [left, middle, right].into_iter().enumerate() {
                // Column 2·ox + offset − 1; never taken where it is padding (−∞).
                let first = (iy * w) as u32 + offset as u32;
                for (ox, ((m, best), &v)) in out.iter_mut().zip(at.iter_mut()).zip(candidates.iter()).enumerate() {
                    let take = v > *m || v.is_nan();
                    *m = if take { v } else { *m };
                    *best = if take { (first + 2 * ox as u32).wrapping_sub(1) } else { *best };
                }
            }
        }
    }
}
}

/// Routes each output gradient to its maximum's input position.
pub fn max_pool_backward(dy: &Activation, argmax: &[u32], input_hw: [usize; 2]) -> Activation {
    let plane_in = input_hw[0] * input_hw[1];
    let plane_out = dy.h * dy.w;
    let mut dx = vec![0.0f32; dy.n * dy.c * plane_in];
    dx.par_chunks_mut(plane_in).enumerate().for_each(|(plane, grad)| {
        let g = &dy.data[plane * plane_out..][..plane_out];
        let at = &argmax[plane * plane_out..][..plane_out];
        for (&v, &i) in g.iter().zip(at) {
            grad[i as usize] += v;
        }
    });
    Activation { n: dy.n, c: dy.c, h: input_hw[0], w: input_hw[1], data: dx }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;

    /// Σ dy·f(x) for a scalar check of gradients by central differences in float64.
    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    #[test]
    fn convolution_gradients_are_the_adjoint_of_the_forward() {
        // ⟨dy, conv(x, W)⟩ is bilinear: its gradient in x is dX and in W is dW, so
        // ⟨dX, x⟩ = ⟨dy, y⟩ = ⟨dW, W⟩ exactly (up to rounding) for a linear map. The 64-channel
        // 3×3 case takes the Winograd path (forward and input gradient).
        for (in_c, out_c, k, s, p, h, w, n) in [
            (3, 4, 7, 2, 3, 19, 17, 5),
            (5, 6, 3, 1, 1, 9, 11, 3),
            (64, 64, 3, 1, 1, 12, 11, 2),
            (5, 6, 3, 2, 1, 9, 10, 2),
            (6, 4, 1, 2, 0, 9, 7, 6),
        ] {
            let x = Activation { n, c: in_c, h, w, data: values(n * in_c * h * w, 7) };
            let weight = values(out_c * in_c * k * k, 3);
            let conv = Conv { weight: &weight, out_c, k, stride: s, pad: p };
            let y = conv.forward(&x);
            let dy = Activation { data: values(y.data.len(), 11), ..y.clone() };
            let (dx, dw) = conv.backward(&x, &dy, true);
            let dx = dx.unwrap();
            let reference = dot(&dy.data, &y.data);
            assert!((dot(&dx.data, &x.data) - reference).abs() < 1e-3 * reference.abs().max(1.0));
            assert!((dot(&dw, &weight) - reference).abs() < 1e-3 * reference.abs().max(1.0));
            // And each is the derivative: perturb one input and one weight entry.
            let (i, j) = (x.data.len() / 3, weight.len() / 2);
            let mut x2 = x.clone();
            x2.data[i] += 0.5;
            let moved = dot(&dy.data, &conv.forward(&x2).data) - reference;
            assert!((moved - 0.5 * dx.data[i] as f64).abs() < 1e-3, "{moved} vs {}", dx.data[i]);
            let mut w2 = weight.clone();
            w2[j] += 0.5;
            let moved = dot(&dy.data, &Conv { weight: &w2, ..conv }.forward(&x).data) - reference;
            assert!((moved - 0.5 * dw[j] as f64).abs() < 1e-3, "{moved} vs {}", dw[j]);
        }
    }

    #[test]
    fn grouped_backward_matches_the_definition() {
        // Few positions and a large weight, as in layer4: the backward products take
        // several images at once, here in two groups (11 images, then 1).
        for (in_c, out_c, stride, side) in [(128, 1024, 1, 10), (128, 1024, 2, 19)] {
            let (n, k, pad) = (12, 3, 1);
            let x = Activation { n, c: in_c, h: side, w: side, data: values(n * in_c * side * side, 7) };
            let weight = values(out_c * in_c * k * k, 3);
            let conv = Conv { weight: &weight, out_c, k, stride, pad };
            assert!(conv.backward_grouped(&x) && !conv.winograd(&x));
            let g = conv.geometry(&x);
            let dy = values(n * out_c * g.hw(), 11);
            let dy = Activation { n, c: out_c, h: g.ho, w: g.wo, data: dy };
            let (dx, dw) = conv.backward(&x, &dy, true);
            let dx = dx.unwrap();
            let at = |img: usize, c: usize, y: usize, xx: usize| x.data[((img * in_c + c) * side + y) * side + xx];
            let grad = |img: usize, o: usize, y: usize, xx: usize| dy.data[((img * out_c + o) * g.ho + y) * g.wo + xx];
            // Input row of output row `o` and tap `t`, if inside.
            let input = |o: usize, t: usize| (o * stride + t).checked_sub(pad).filter(|&i| i < side);
            let close = |got: f32, terms: &[f64]| {
                let (sum, size) = (terms.iter().sum::<f64>(), terms.iter().map(|t| t.abs()).sum::<f64>());
                assert!((got as f64 - sum).abs() <= 1e-5 * size, "{got} vs {sum} (Σ|terms| {size})");
            };
            for j in (0..dw.len()).step_by(9973) {
                let (o, c, ky, kx) = (j / (in_c * 9), (j / 9) % in_c, (j / 3) % 3, j % 3);
                let mut terms = Vec::new();
                for img in 0..n {
                    for oy in 0..g.ho {
                        for ox in 0..g.wo {
                            if let (Some(iy), Some(ix)) = (input(oy, ky), input(ox, kx)) {
                                terms.push(grad(img, o, oy, ox) as f64 * at(img, c, iy, ix) as f64);
                            }
                        }
                    }
                }
                close(dw[j], &terms);
            }
            for i in (0..dx.data.len()).step_by(1013) {
                let (img, c, iy, ix) =
                    (i / (in_c * side * side), (i / (side * side)) % in_c, (i / side) % side, i % side);
                let mut terms = Vec::new();
                for o in 0..out_c {
                    for (ky, kx) in (0..3).flat_map(|ky| (0..3).map(move |kx| (ky, kx))) {
                        let (ty, tx) = (iy + pad - ky.min(iy + pad), ix + pad - kx.min(ix + pad));
                        if iy + pad < ky || ix + pad < kx || ty % stride != 0 || tx % stride != 0 {
                            continue;
                        }
                        let (oy, ox) = (ty / stride, tx / stride);
                        if oy < g.ho && ox < g.wo {
                            terms.push(grad(img, o, oy, ox) as f64 * weight[((o * in_c + c) * 3 + ky) * 3 + kx] as f64);
                        }
                    }
                }
                close(dx.data[i], &terms);
            }
        }
    }

    #[test]
    fn batch_norm_forward_matches_the_formula_with_its_epilogue() {
        // Planes of 143 values: two full runs of the fused pass and a partial one.
        let (n, c, h, w) = (3, 2, 13, 11);
        let x = Activation { n, c, h, w, data: values(n * c * h * w, 5) };
        let residual = Activation { data: values(x.data.len(), 8), ..x.clone() };
        let (gamma, beta) = (vec![1.5f32, -0.7], vec![0.2f32, 0.1]);
        for (with_residual, relu) in [(false, false), (true, false), (false, true), (true, true)] {
            let epilogue = Epilogue { residual: with_residual.then_some(&residual), relu };
            let (y, _, tape) = batch_norm_train(&x, &gamma, &beta, 1e-5, true, epilogue);
            let tape = tape.unwrap();
            let plane = h * w;
            for ch in 0..c {
                let at = |img: usize| (img * c + ch) * plane;
                let all: Vec<f64> = (0..n).flat_map(|i| x.data[at(i)..][..plane].iter().map(|&v| v as f64)).collect();
                let mean = all.iter().sum::<f64>() / all.len() as f64;
                let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64;
                let inv_std = 1.0 / (var + 1e-5).sqrt();
                for i in (0..n).flat_map(|img| at(img)..at(img) + plane) {
                    let xhat = (x.data[i] as f64 - mean) * inv_std;
                    let mut expected = gamma[ch] as f64 * xhat + beta[ch] as f64;
                    if with_residual {
                        expected += residual.data[i] as f64;
                    }
                    if relu {
                        expected = expected.max(0.0);
                    }
                    assert!((y.data[i] as f64 - expected).abs() < 1e-5, "{i}: {} vs {expected}", y.data[i]);
                    assert!((tape.normalized[i] as f64 - xhat).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn batch_norm_backward_matches_finite_differences() {
        let x = Activation { n: 3, c: 2, h: 3, w: 2, data: values(36, 5) };
        let (gamma, beta) = (vec![1.5f32, -0.7], vec![0.2f32, 0.1]);
        let dy = values(36, 9);
        let objective = |x: &Activation, gamma: &[f32]| {
            dot(&dy, &batch_norm_train(x, gamma, &beta, 1e-5, false, Epilogue::default()).0.data)
        };
        let (_, _, tape) = batch_norm_train(&x, &gamma, &beta, 1e-5, true, Epilogue::default());
        let mut dx = Activation { data: dy.clone(), ..x.clone() };
        let (dgamma, dbeta) = batch_norm_backward(&mut dx, &tape.unwrap(), &gamma);
        let h = 1e-2f32;
        for i in [0, 7, 20, 35] {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus.data[i] += h;
            minus.data[i] -= h;
            let numeric = (objective(&plus, &gamma) - objective(&minus, &gamma)) / (2.0 * h as f64);
            assert!((numeric - dx.data[i] as f64).abs() < 2e-3, "dx[{i}]: {numeric} vs {}", dx.data[i]);
        }
        for c in 0..2 {
            let (mut plus, mut minus) = (gamma.clone(), gamma.clone());
            plus[c] += h;
            minus[c] -= h;
            let numeric = (objective(&x, &plus) - objective(&x, &minus)) / (2.0 * h as f64);
            assert!((numeric - dgamma[c] as f64).abs() < 2e-3, "dgamma[{c}]: {numeric} vs {}", dgamma[c]);
            let expected: f64 = (0..3).map(|n| dy[(n * 2 + c) * 6..][..6].iter().map(|&v| v as f64).sum::<f64>()).sum();
            assert!((expected - dbeta[c] as f64).abs() < 1e-5);
        }
    }

    /// Max pooling as PyTorch's CPU kernel loops: window by window, in scan order,
    /// `v > max || isnan(v)` takes the candidate.
    fn max_pool_definition(x: &Activation) -> (Vec<f32>, Vec<u32>) {
        let (ho, wo) = ((x.h + 2 - 3) / 2 + 1, (x.w + 2 - 3) / 2 + 1);
        let (mut out, mut at) = (Vec::new(), Vec::new());
        for src in x.data.chunks(x.h * x.w) {
            for oy in 0..ho {
                for ox in 0..wo {
                    let (mut m, mut best) = (f32::NEG_INFINITY, 0usize);
                    for iy in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(x.h) {
                        for ix in (2 * ox).saturating_sub(1)..(2 * ox + 2).min(x.w) {
                            let v = src[iy * x.w + ix];
                            if v > m || v.is_nan() {
                                (m, best) = (v, iy * x.w + ix);
                            }
                        }
                    }
                    out.push(m);
                    at.push(best as u32);
                }
            }
        }
        (out, at)
    }

    #[test]
    fn max_pool_keeps_pytorch_ties_and_nans() {
        // Values on a coarse grid (many ties), a few NaNs, odd and even sizes, rows wider
        // than a vector.
        for (h, w) in [(7, 6), (6, 7), (1, 1), (2, 3), (9, 37), (12, 40)] {
            let mut data: Vec<f32> = values(3 * h * w, 5).iter().map(|v| (v * 3.0).round()).collect();
            for i in (0..data.len()).step_by(13) {
                data[i] = f32::NAN;
            }
            let x = Activation { n: 1, c: 3, h, w, data };
            let (y, argmax) = max_pool_train(&x);
            let (expected, expected_at) = max_pool_definition(&x);
            assert_eq!(argmax, expected_at, "{h}×{w}");
            let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
            assert!(y.data.iter().zip(&expected).all(|(&a, &b)| same(a, b)), "{h}×{w}");
        }
    }

    #[test]
    fn max_pool_routes_gradients_to_the_maximum() {
        let x = Activation { n: 2, c: 3, h: 7, w: 6, data: values(2 * 3 * 42, 1) };
        let (y, argmax) = max_pool_train(&x);
        assert_eq!(y, crate::conv::max_pool_3x3_s2(&x));
        for (plane, chunk) in argmax.chunks(y.h * y.w).enumerate() {
            for (o, &i) in chunk.iter().enumerate() {
                assert_eq!(x.data[plane * 42 + i as usize], y.data[plane * y.h * y.w + o]);
            }
        }
        let dy = Activation { data: values(y.data.len(), 4), ..y.clone() };
        let dx = max_pool_backward(&dy, &argmax, [7, 6]);
        let total: f64 = dx.data.iter().map(|&v| v as f64).sum();
        assert!((total - dy.data.iter().map(|&v| v as f64).sum::<f64>()).abs() < 1e-4);
    }
}
