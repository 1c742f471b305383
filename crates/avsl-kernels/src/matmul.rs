//! Matrix products through the `gemm` crate (AVX2/AVX-512 chosen at run time), with
//! strided operands so the Winograd and im2col kernels multiply without copies.

use std::mem::MaybeUninit;

/// Whether one matrix product uses the rayon pool.
#[derive(Debug, Clone, Copy)]
pub enum Threads {
    /// One thread: the caller runs products in parallel itself.
    One,
    /// The product itself is split over the rayon pool.
    Rayon,
}

/// Where the elements of a matrix lie in its slice: `[r, c]` at `r·row_stride + c·col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct MatrixLayout {
    pub row_stride: usize,
    pub col_stride: usize,
}

impl MatrixLayout {
    /// Row-major, or its transpose stored row-major (`transposed`), for a `rows`×`cols` matrix.
    fn dense(rows: usize, cols: usize, transposed: bool) -> MatrixLayout {
        if transposed {
            MatrixLayout { row_stride: 1, col_stride: rows }
        } else {
            MatrixLayout { row_stride: cols, col_stride: 1 }
        }
    }

    /// Elements a `rows`×`cols` matrix spans.
    fn extent(&self, rows: usize, cols: usize) -> usize {
        (rows - 1) * self.row_stride + (cols - 1) * self.col_stride + 1
    }
}

/// `dst[m×n] = (dst if accumulate) + A·B`, with `A` `m×k` and `B` `k×n` stored row-major,
/// or transposed (`a_t`: `A` is stored as its `k×m` transpose; same for `b_t`).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    dst: &mut [f32],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    [m, n, k]: [usize; 3],
    accumulate: bool,
    threads: Threads,
) {
    let dst_layout = MatrixLayout::dense(m, n, false);
    let (a_layout, b_layout) = (MatrixLayout::dense(m, k, a_t), MatrixLayout::dense(k, n, b_t));
    matmul_strided((dst, dst_layout), (a, a_layout), (b, b_layout), [m, n, k], accumulate, threads);
}

/// `dst = (dst if accumulate) + A·B` for matrices laid out in their slices as given:
/// `dst` `m×n`, `A` `m×k`, `B` `k×n`.
pub fn matmul_strided(
    (dst, dst_layout): (&mut [f32], MatrixLayout),
    (a, a_layout): (&[f32], MatrixLayout),
    (b, b_layout): (&[f32], MatrixLayout),
    [m, n, k]: [usize; 3],
    accumulate: bool,
    threads: Threads,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= dst_layout.extent(m, n), "matmul destination size");
    assert!(
        dst_layout.col_stride == 1 && (m == 1 || dst_layout.row_stride >= n),
        "matmul destination rows must be contiguous and disjoint"
    );
    if k == 0 {
        if !accumulate {
            for row in 0..m {
                dst[row * dst_layout.row_stride..][..n].fill(0.0);
            }
        }
        return;
    }
    assert!(a.len() >= a_layout.extent(m, k) && b.len() >= b_layout.extent(k, n), "matmul operand sizes");
    // SAFETY: every element the product reads or writes lies inside its slice (extents
    // checked above); the destination's rows are contiguous and disjoint, and it is a
    // distinct (mutable) borrow from the operands.
    unsafe { gemm_into(dst.as_mut_ptr(), dst_layout, (a, a_layout), (b, b_layout), [m, n, k], accumulate, threads) }
}

/// `dst = A·B` into an `m×n` row-major destination that need not be initialised: the
/// product writes every element without reading any. Returns the destination's values.
#[allow(clippy::too_many_arguments)]
pub fn matmul_uninit<'d>(
    dst: &'d mut [MaybeUninit<f32>],
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    [m, n, k]: [usize; 3],
    threads: Threads,
) -> &'d mut [f32] {
    let dst = &mut dst[..m * n];
    if k == 0 {
        dst.fill(MaybeUninit::new(0.0));
    } else if m > 0 && n > 0 {
        let (a_layout, b_layout) = (MatrixLayout::dense(m, k, a_t), MatrixLayout::dense(k, n, b_t));
        assert!(a.len() >= a_layout.extent(m, k) && b.len() >= b_layout.extent(k, n), "matmul operand sizes");
        let dst_layout = MatrixLayout::dense(m, n, false);
        // SAFETY: as in `matmul_strided`; with `accumulate` false `gemm` does not read the
        // destination, only writes it.
        unsafe {
            gemm_into(dst.as_mut_ptr().cast(), dst_layout, (a, a_layout), (b, b_layout), [m, n, k], false, threads)
        }
    }
    // SAFETY: every one of the `m·n` elements was written above.
    unsafe { &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// The `gemm` call: `dst = (dst if accumulate) + A·B`.
///
/// # Safety
/// Every element of the three matrices lies in memory valid for reads (operands) and
/// writes (`dst`, also reads when `accumulate`); `dst`'s elements are distinct and do not
/// overlap the operands.
unsafe fn gemm_into(
    dst: *mut f32,
    dst_layout: MatrixLayout,
    (a, a_layout): (&[f32], MatrixLayout),
    (b, b_layout): (&[f32], MatrixLayout),
    [m, n, k]: [usize; 3],
    accumulate: bool,
    threads: Threads,
) {
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Rayon => gemm::Parallelism::Rayon(0),
    };
    let stride = |s: usize| s as isize;
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            stride(dst_layout.row_stride),
            accumulate,
            a.as_ptr(),
            stride(a_layout.col_stride),
            stride(a_layout.row_stride),
            b.as_ptr(),
            stride(b_layout.col_stride),
            stride(b_layout.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;

    #[test]
    fn a_product_into_uninitialised_memory_is_the_product() {
        for (m, n, k, a_t, b_t) in
            [(5, 7, 3, false, false), (4, 9, 6, true, false), (6, 2, 5, false, true), (3, 4, 0, false, false)]
        {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let mut expected = vec![f32::NAN; m * n];
            matmul(&mut expected, &a, a_t, &b, b_t, [m, n, k], false, Threads::One);
            let mut dst = vec![MaybeUninit::new(f32::NAN); m * n + 2];
            let got = matmul_uninit(&mut dst, &a, a_t, &b, b_t, [m, n, k], Threads::One);
            assert_eq!(got, &expected[..], "{:?}", (m, n, k, a_t, b_t));
            // Against the definition, in float64.
            for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3)] {
                let at =
                    |r: usize, c: usize, t: bool, cols: usize, rows: usize| if t { c * rows + r } else { r * cols + c };
                let sum: f64 = (0..k).map(|t| a[at(i, t, a_t, k, m)] as f64 * b[at(t, j, b_t, n, k)] as f64).sum();
                assert!((got[i * n + j] as f64 - sum).abs() < 1e-5);
            }
        }
    }
}
