//! Winograd's minimal filtering F(2×2, 3×3) for the 3×3, stride-1, padding-1 convolutions,
//! 13 of ResNet-18's 20 and about 83% of its multiply-adds. A 2×2 output tile is
//! `Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` over its 4×4 input tile `d`: 16 multiplications per pair
//! of channels instead of 36. Summed over input channels, the 16 element-wise products
//! become 16 matrix products (`gemm`). The transforms use only 0, ±1 and ±½, so the result
//! stays within a few float32 ulps of the direct convolution (tests below bound it against
//! a float64 definition); it does not depend on how many images share a product.
//!
//! Inference (`conv`) transforms its weights once, at load; training (`train_ops`)
//! transforms them every step and also computes the input gradient here (the adjoint
//! convolution, from the same transformed weights).

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::activation::Activation;
use crate::matmul::{self, MatrixLayout, Threads};
use crate::scratch;
use crate::simd::{Lanes, WIDTH, vectorized_fn};

/// Whether a convolution is one that this module computes, and faster than im2col: the
/// transforms cost per channel and the products per pair of channels, so narrow layers do
/// not pay for them (measured at 16 and 32 channels: 1.5–2× slower than im2col; the demo's
/// width-16 trunks keep im2col in their first two stages).
pub fn applies(k: usize, stride: usize, pad: usize, [in_c, out_c]: [usize; 2]) -> bool {
    k == 3 && stride == 1 && pad == 1 && in_c.min(out_c) >= MIN_CHANNELS
}

/// Channels from which a convolution uses this module.
const MIN_CHANNELS: usize = 64;

/// Transformed positions per tile.
const XI: usize = 16;

/// The 16 transformed weight matrices `U_ξ = (G g Gᵀ)_ξ`, stored `[out_c][16][in_c]`.
#[derive(Debug, Clone)]
pub struct TransformedWeights {
    u: Vec<f32>,
    out_c: usize,
    in_c: usize,
}

impl TransformedWeights {
    /// Channels (in, out) of the convolution computed in `direction`.
    fn channels(&self, direction: Direction) -> (usize, usize) {
        match direction {
            Direction::Forward => (self.in_c, self.out_c),
            Direction::Adjoint => (self.out_c, self.in_c),
        }
    }

    /// `U = G g Gᵀ` from PyTorch's weight layout `[out_c, in_c, 3, 3]`, separably: `G` over
    /// the kernel's rows, then over its columns, each `[g0, (g0+g2+g1)/2, (g0+g2−g1)/2, g2]`;
    /// for all input channels of an output channel at once (channels in the vector lanes).
    pub fn new(weight: &[f32], out_c: usize, in_c: usize) -> TransformedWeights {
        assert_eq!(weight.len(), out_c * in_c * 9, "3×3 weight size");
        let mut u = vec![0.0f32; out_c * XI * in_c];
        u.par_chunks_mut(XI * in_c)
            .zip(weight.par_chunks(in_c * 9))
            .for_each(|(u_o, g_o)| transform_filters(g_o, in_c, u_o));
        TransformedWeights { u, out_c, in_c }
    }

    /// The left factor of product `ξ = 4i + j` in `direction`: `U_ξ` (`[out_c, in_c]`), or
    /// for the adjoint `U_{4σ(i)+σ(j)}ᵀ` (`[in_c, out_c]`) with σ = (3 1 2 0). The adjoint
    /// convolution correlates with the kernel rotated by 180° and its channels swapped; `G`
    /// maps a reversed kernel row `[g2, g1, g0]` to `[g2, (g0+g1+g2)/2, (g0−g1+g2)/2, g0]`,
    /// its own transform with the first and last entries swapped, so no second transform
    /// is needed.
    fn factor(&self, xi: usize, direction: Direction) -> (&[f32], MatrixLayout) {
        const SIGMA: [usize; 4] = [3, 1, 2, 0];
        match direction {
            Direction::Forward => {
                (&self.u[xi * self.in_c..], MatrixLayout { row_stride: XI * self.in_c, col_stride: 1 })
            }
            Direction::Adjoint => {
                let flipped = 4 * SIGMA[xi / 4] + SIGMA[xi % 4];
                (&self.u[flipped * self.in_c..], MatrixLayout { row_stride: 1, col_stride: XI * self.in_c })
            }
        }
    }
}

vectorized_fn! {
/// `U = G g Gᵀ` for the filters `g_o` (`[in_c, 3, 3]`) of one output channel into `u_o`
/// (`[16][in_c]`), all input channels at once.
fn transform_filters(g_o: &[f32], in_c: usize, u_o: &mut [f32]) {
    // taps[t][c], t = 3·ky + kx; then rows[i][kx][c] = (G·g)[i][kx].
    let mut taps = vec![0.0f32; 9 * in_c];
    for (c, g) in g_o.chunks_exact(9).enumerate() {
        for (t, &v) in g.iter().enumerate() {
            taps[t * in_c + c] = v;
        }
    }
    let tap = |t: usize| &taps[t * in_c..][..in_c];
    let mut rows = vec![0.0f32; 12 * in_c];
    for kx in 0..3 {
        let mut planes = rows.chunks_mut(in_c).skip(kx).step_by(3);
        let out = std::array::from_fn(|_| planes.next().expect("four rows"));
        filter_rows(out, tap(kx), tap(3 + kx), tap(6 + kx));
    }
    for i in 0..4 {
        let row = |kx: usize| &rows[(i * 3 + kx) * in_c..][..in_c];
        let mut planes = u_o[i * 4 * in_c..][..4 * in_c].chunks_mut(in_c);
        let out = std::array::from_fn(|_| planes.next().expect("four columns"));
        filter_rows(out, row(0), row(1), row(2));
    }
}
}

/// `G` applied to three rows of taps (channels in the lanes):
/// `[g0, (g0+g2+g1)/2, (g0+g2−g1)/2, g2]`.
#[inline(always)]
fn filter_rows(out: [&mut [f32]; 4], g0: &[f32], g1: &[f32], g2: &[f32]) {
    let [o0, o1, o2, o3] = out;
    for c in 0..g0.len() {
        let (a, b, e) = (g0[c], g1[c], g2[c]);
        o0[c] = a;
        o1[c] = ((a + e) + b) * 0.5;
        o2[c] = ((a + e) - b) * 0.5;
        o3[c] = e;
    }
}

/// Which convolution of a weight: its own, or its adjoint (the map from an output
/// gradient to the input gradient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Adjoint,
}

/// 2×2 output tiles covering an `h`×`w` plane (the last row/column may stick out).
#[derive(Debug, Clone, Copy)]
struct Tiles {
    h: usize,
    w: usize,
    rows: usize,
    cols: usize,
}

impl Tiles {
    fn new(h: usize, w: usize) -> Tiles {
        Tiles { h, w, rows: h.div_ceil(2), cols: w.div_ceil(2) }
    }

    fn count(&self) -> usize {
        self.rows * self.cols
    }
}

/// 2×2 output tiles covering one `h`×`w` output plane.
pub fn tiles_per_image(h: usize, w: usize) -> usize {
    Tiles::new(h, w).count()
}

/// Tiles per group of images multiplied together: deep layers have few tiles per image,
/// and one product per group streams their large weight matrices once per group.
const MIN_TILES: usize = 512;

thread_local! {
    /// Transformed inputs and products, kept between calls so their pages are not mapped
    /// and zeroed again for every layer.
    static SCRATCH: scratch::Buffer = const { RefCell::new(Vec::new()) };
}

/// `conv(x)` (no bias) in `direction`, as NCHW values; `finish(plane, values)` runs on each
/// output plane (index image·channels + channel) once written, while it is in cache. The
/// output is written once, into unused capacity (clearing it first cost as much).
pub fn convolve(
    u: &TransformedWeights,
    direction: Direction,
    x: &Activation,
    finish: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let (in_c, out_c) = u.channels(direction);
    let len = x.n * out_c * x.h * x.w;
    let mut values = Vec::with_capacity(len);
    let out = &mut values.spare_capacity_mut()[..len];
    assert_eq!(x.c, in_c, "input channels of a Winograd convolution");
    let tiles = Tiles::new(x.h, x.w);
    let per_image = tiles.count();
    let group = MIN_TILES.div_ceil(per_image).clamp(1, x.n.max(1));
    for first in (0..x.n).step_by(group) {
        let count = group.min(x.n - first);
        let columns = count * per_image;
        let (v_len, m_len) = (in_c * XI * columns, out_c * XI * columns);
        scratch::with_buffer(&SCRATCH, v_len + m_len, |scratch| {
            let (v, m) = scratch.split_at_mut(v_len);
            transform_inputs(x, first..first + count, tiles, v);
            // M[ξ][o][t] = Σ_c U_ξ[o][c] · V[c][ξ][t]: 16 independent products, in parallel.
            m.par_chunks_mut(out_c * columns).enumerate().for_each(|(xi, m_xi)| {
                matmul::matmul_strided(
                    (m_xi, MatrixLayout { row_stride: columns, col_stride: 1 }),
                    u.factor(xi, direction),
                    (&v[xi * columns..], MatrixLayout { row_stride: XI * columns, col_stride: 1 }),
                    [out_c, columns, in_c],
                    false,
                    Threads::One,
                );
            });
            let image_len = out_c * x.h * x.w;
            let out = &mut out[first * image_len..][..count * image_len];
            transform_outputs(m, count, out_c, tiles, out, |plane, values| finish(first * out_c + plane, values));
        });
    }
    // SAFETY: `transform_outputs` wrote every element of every plane of each group, and the
    // groups cover all `x.n` images: all `len` elements.
    unsafe { values.set_len(len) };
    values
}

vectorized_fn! {
/// `V[c][ξ][t] = (Bᵀ d B)_ξ` for every tile `t` of the images `images` and channel `c`:
/// each tile's 4×4 inputs gathered into the 16 rows of `V` (contiguous copies), then
/// transformed in place across all tiles at once (deep layers have only 4–7 tiles a row).
fn transform_inputs(x: &Activation, images: std::ops::Range<usize>, tiles: Tiles, v: &mut [f32]) {
    let columns = images.len() * tiles.count();
    // Padded input columns −1 … 2·cols, split into even and odd ones: tile `b` reads
    // even[b], odd[b], even[b+1], odd[b+1]. Each row of a plane is split once (tile rows
    // overlap by two input rows); rows −1 and h… stay zero.
    let half = tiles.cols + 1;
    v.par_chunks_mut(XI * columns).enumerate().for_each(|(c, v_c)| {
        let mut split = vec![0.0f32; (2 * tiles.rows + 2) * 2 * half];
        for (i, image) in images.clone().enumerate() {
            let plane = &x.data[(image * x.c + c) * x.h * x.w..][..x.h * x.w];
            for (src, row) in plane.chunks_exact(tiles.w).zip(split.chunks_exact_mut(2 * half).skip(1)) {
                let (even, odd) = row.split_at_mut(half);
                split_even_odd(src, even, odd);
            }
            for a in 0..tiles.rows {
                let base = i * tiles.count() + a * tiles.cols;
                for (xi, v_xi) in v_c.chunks_exact_mut(columns).enumerate() {
                    // Position ξ = 4r + k: input row 2a + r − 1, column k of the tile.
                    let row = &split[(2 * a + xi / 4) * 2 * half..][..2 * half];
                    let start = [0, half, 1, half + 1][xi % 4];
                    v_xi[base..][..tiles.cols].copy_from_slice(&row[start..][..tiles.cols]);
                }
            }
        }
        let mut streams = v_c.chunks_exact_mut(columns);
        let mut v: [&mut [f32]; XI] = std::array::from_fn(|_| streams.next().expect("16 transformed positions"));
        let full = columns - columns % WIDTH;
        for t in (0..full).step_by(WIDTH) {
            input_tiles::<WIDTH>(&mut v, t);
        }
        for t in full..columns {
            input_tiles::<1>(&mut v, t);
        }
    });
}
}

/// `src[2j]` into `odd[j]` and `src[2j + 1]` into `even[j + 1]` (padded column p = x + 1);
/// `even[0]` and what `src` does not reach stay zero.
#[inline(always)]
fn split_even_odd(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let (pairs, last) = src.as_chunks::<2>();
    for ((&[x0, x1], o), e) in pairs.iter().zip(odd.iter_mut()).zip(even[1..].iter_mut()) {
        *o = x0;
        *e = x1;
    }
    if let [x0] = last {
        odd[pairs.len()] = *x0;
    }
}

/// `Bᵀ d B` in place for the `L` tiles from `t`: `v[4r + k]` holds row r, column k of each
/// tile's input `d` and receives position 4r + k of the transform.
#[inline(always)]
fn input_tiles<const L: usize>(v: &mut [&mut [f32]; XI], t: usize) {
    let mut d = [Lanes::<L>::ZERO; XI];
    for xi in 0..XI {
        d[xi] = Lanes::load(&v[xi][t..]);
    }
    // Bᵀ·d over rows (stride 4), then ·B over columns (stride 1), each
    // [x0 − x2, x1 + x2, x2 − x1, x1 − x3].
    for (first, stride) in [(0, 4), (1, 4), (2, 4), (3, 4), (0, 1), (4, 1), (8, 1), (12, 1)] {
        let x: [Lanes<L>; 4] = [d[first], d[first + stride], d[first + 2 * stride], d[first + 3 * stride]];
        d[first] = x[0] - x[2];
        d[first + stride] = x[1] + x[2];
        d[first + 2 * stride] = x[2] - x[1];
        d[first + 3 * stride] = x[1] - x[3];
    }
    for xi in 0..XI {
        d[xi].store(&mut v[xi][t..]);
    }
}

vectorized_fn! {
/// `Y = Aᵀ M A` for every tile, one (image, output channel) plane of NCHW `out` per task,
/// each written in full and then handed to `finish` with its index in `out`.
fn transform_outputs(
    m: &[f32],
    count: usize,
    out_c: usize,
    tiles: Tiles,
    out: &mut [MaybeUninit<f32>],
    finish: impl Fn(usize, &mut [f32]) + Sync,
) {
    let columns = count * tiles.count();
    out.par_chunks_mut(tiles.h * tiles.w).enumerate().for_each(|(index, plane)| {
        let (i, o) = (index / out_c, index % out_c);
        // The four outputs of every tile of the image (all tiles at once: deep layers have
        // only 4–7 a row), then interleaved into the plane's rows.
        let per_image = tiles.count();
        let q: [&[f32]; XI] = std::array::from_fn(|xi| &m[(xi * out_c + o) * columns + i * per_image..][..per_image]);
        let mut y = vec![0.0f32; 4 * per_image];
        {
            let mut rows = y.chunks_exact_mut(per_image);
            let mut y: [&mut [f32]; 4] = std::array::from_fn(|_| rows.next().expect("four outputs a tile"));
            let full = per_image - per_image % WIDTH;
            for t in (0..full).step_by(WIDTH) {
                output_tiles::<WIDTH>(&q, &mut y, t);
            }
            for t in full..per_image {
                output_tiles::<1>(&q, &mut y, t);
            }
        }
        let tile_row = |r: usize, a: usize| &y[r * per_image + a * tiles.cols..][..tiles.cols];
        for a in 0..tiles.rows {
            for dy in 0..2 {
                let row = 2 * a + dy;
                if row < tiles.h {
                    interleave(tile_row(2 * dy, a), tile_row(2 * dy + 1, a), &mut plane[row * tiles.w..][..tiles.w]);
                }
            }
        }
        // SAFETY: the loops above wrote every row (2a + dy for a < ⌈h/2⌉, dy < 2, below h)
        // and `interleave` every element of a row.
        let plane = unsafe { &mut *(plane as *mut [MaybeUninit<f32>] as *mut [f32]) };
        finish(index, plane);
    });
}
}

/// `Aᵀ M A` for the `L` tiles from `t`: `q[ξ]` holds entry ξ of each tile's `M`; `y`
/// receives outputs (0,0), (0,1), (1,0), (1,1).
#[inline(always)]
fn output_tiles<const L: usize>(q: &[&[f32]; XI], y: &mut [&mut [f32]; 4], t: usize) {
    let mut m = [Lanes::<L>::ZERO; XI];
    for xi in 0..XI {
        m[xi] = Lanes::load(&q[xi][t..]);
    }
    // Aᵀ·M: rows 0+1+2 and 1−2−3, for each of the four columns; then ·A.
    let (mut s0, mut s1) = ([Lanes::<L>::ZERO; 4], [Lanes::<L>::ZERO; 4]);
    for j in 0..4 {
        s0[j] = m[j] + m[4 + j] + m[8 + j];
        s1[j] = m[4 + j] - m[8 + j] - m[12 + j];
    }
    (s0[0] + s0[1] + s0[2]).store(&mut y[0][t..]);
    (s0[1] - s0[2] - s0[3]).store(&mut y[1][t..]);
    (s1[0] + s1[1] + s1[2]).store(&mut y[2][t..]);
    (s1[1] - s1[2] - s1[3]).store(&mut y[3][t..]);
}

/// `out[2b] = left[b]`, `out[2b + 1] = right[b]`, every element of `out` (an odd `out`
/// drops the last `right`).
#[inline(always)]
fn interleave(left: &[f32], right: &[f32], out: &mut [MaybeUninit<f32>]) {
    let (pairs, last) = out.as_chunks_mut::<2>();
    assert!(left.len() >= pairs.len() + last.len() && right.len() >= pairs.len(), "tile outputs");
    for ((pair, &l), &r) in pairs.iter_mut().zip(left).zip(right) {
        *pair = [MaybeUninit::new(l), MaybeUninit::new(r)];
    }
    if let [last] = last {
        last.write(left[pairs.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;

    /// The definition of a 3×3, padding-1 correlation, in float64.
    fn direct(x: &Activation, w: &[f32], out_c: usize) -> Vec<f64> {
        let mut out = vec![0.0f64; x.n * out_c * x.h * x.w];
        for n in 0..x.n {
            for o in 0..out_c {
                for oy in 0..x.h {
                    for ox in 0..x.w {
                        let mut acc = 0.0f64;
                        for c in 0..x.c {
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (iy, ix) = ((oy + ky) as isize - 1, (ox + kx) as isize - 1);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                        acc += w[((o * x.c + c) * 3 + ky) * 3 + kx] as f64
                                            * x.data[((n * x.c + c) * x.h + iy as usize) * x.w + ix as usize] as f64;
                                    }
                                }
                            }
                        }
                        out[((n * out_c + o) * x.h + oy) * x.w + ox] = acc;
                    }
                }
            }
        }
        out
    }

    /// Largest error relative to the scale of the products summed: Σ|w|·|x| bounds it.
    fn worst_relative(got: &[f32], expected: &[f64], scale: f64) -> f64 {
        got.iter().zip(expected).map(|(&g, &e)| (g as f64 - e).abs() / scale).fold(0.0, f64::max)
    }

    #[test]
    fn matches_the_definition_on_odd_and_even_planes_and_across_groups() {
        // (in_c, out_c, h, w, n): even planes, odd planes (last tile row/column half
        // outside), one-pixel planes, and enough images for several groups (7×7: 16 tiles
        // per image, 32 groups of images per product).
        for (in_c, out_c, h, w, n) in
            [(5, 6, 8, 10, 2), (4, 3, 7, 7, 40), (3, 2, 9, 5, 3), (2, 3, 1, 1, 2), (16, 8, 13, 4, 1)]
        {
            let x = Activation { n, c: in_c, h, w, data: values(n * in_c * h * w, 7) };
            let weight = values(out_c * in_c * 9, 3);
            let u = TransformedWeights::new(&weight, out_c, in_c);
            let got = convolve(&u, Direction::Forward, &x, |_, _| ());
            let expected = direct(&x, &weight, out_c);
            // Each output sums 9·in_c products of magnitude ≤ 1; float32 rounding of the
            // transforms and the sum stays within ~2 ulps of that scale (measured: ≤ 3e-8).
            let worst = worst_relative(&got, &expected, 9.0 * in_c as f64);
            assert!(worst < 2e-7, "{:?}: {worst}", (in_c, out_c, h, w, n));
        }
    }

    #[test]
    fn an_image_gets_the_same_planes_in_any_batch_and_finish_sees_every_plane_once() {
        let (in_c, out_c, h, w, n) = (3, 4, 6, 5, 5);
        let x = Activation { n, c: in_c, h, w, data: values(n * in_c * h * w, 11) };
        let u = TransformedWeights::new(&values(out_c * in_c * 9, 2), out_c, in_c);
        let (image_len, plane_len) = (in_c * h * w, h * w);
        let finished = std::sync::Mutex::new(Vec::new());
        let all = convolve(&u, Direction::Forward, &x, |plane, values| {
            assert_eq!(values.len(), plane_len);
            finished.lock().unwrap().push(plane);
        });
        let mut finished = finished.into_inner().unwrap();
        finished.sort_unstable();
        assert_eq!(finished, (0..n * out_c).collect::<Vec<_>>());
        // Images 2 and 3 on their own (one product group instead of one of five).
        let pair = Activation { n: 2, data: x.data[2 * image_len..4 * image_len].to_vec(), ..x.clone() };
        let part = convolve(&u, Direction::Forward, &pair, |_, _| ());
        assert_eq!(part, all[2 * out_c * plane_len..4 * out_c * plane_len]);
    }

    #[test]
    fn the_adjoint_is_the_transpose_of_the_convolution() {
        // <conv(x), y> = <x, conv_adjoint(y)> for every x, y.
        let (in_c, out_c, h, w) = (3, 5, 7, 6);
        let weight = values(out_c * in_c * 9, 5);
        let x = Activation { n: 1, c: in_c, h, w, data: values(in_c * h * w, 1) };
        let y = Activation { n: 1, c: out_c, h, w, data: values(out_c * h * w, 9) };
        let u = TransformedWeights::new(&weight, out_c, in_c);
        let conv_x = convolve(&u, Direction::Forward, &x, |_, _| ());
        let adjoint_y = convolve(&u, Direction::Adjoint, &y, |_, _| ());
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>();
        let (left, right) = (dot(&conv_x, &y.data), dot(&x.data, &adjoint_y));
        assert!((left - right).abs() < 1e-4 * left.abs().max(1.0), "{left} vs {right}");
    }
}
