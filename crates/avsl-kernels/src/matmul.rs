//! Matrix products through the `gemm` crate (AVX2/AVX-512 chosen at run time), with
//! strided operands so the Winograd and im2col kernels multiply without copies.

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
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Rayon => gemm::Parallelism::Rayon(0),
    };
    let stride = |s: usize| s as isize;
    // SAFETY: every element the product reads or writes lies inside its slice (extents
    // checked above); the destination's rows are contiguous and disjoint, and it is a
    // distinct (mutable) borrow from the operands.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
