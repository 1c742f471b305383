//! Element-wise kernels compiled for AVX2 where the CPU has it. The default x86-64 target
//! stops at SSE2; the convolutions' products choose their own kernels at run time (the
//! `gemm` crate), and this does the same for the passes around them. Enabling a target
//! feature changes the instructions, never the arithmetic: Rust does not contract
//! multiply-adds or reassociate sums, so results are identical either way.

/// Runs `f` compiled for AVX2 when the CPU has it (`f` is inlined into an AVX2 function).
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Lanes of the float64 sums below: independent accumulators, so the additions pipeline
/// and vectorise; combined in a fixed order, so a sum does not depend on threads.
const LANES: usize = 8;

fn combine(lanes: [f64; LANES], tail: f64) -> f64 {
    let pairs: [f64; 4] = std::array::from_fn(|i| lanes[i] + lanes[i + 4]);
    ((pairs[0] + pairs[2]) + (pairs[1] + pairs[3])) + tail
}

/// Σ f(v) in float64 over `values`, in [`LANES`] interleaved partial sums.
#[inline(always)]
pub fn sum_f64(values: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l += f(v);
        }
    }
    combine(lanes, tail)
}

/// (Σ a, Σ a·b) in float64 over two equally long slices, in [`LANES`] partial sums each.
#[inline(always)]
pub fn sum_and_dot_f64(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (mut sums, mut dots) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (mut sum_tail, mut dot_tail) = (0.0f64, 0.0f64);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        sum_tail += x as f64;
        dot_tail += x as f64 * y as f64;
    }
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            sums[i] += x[i] as f64;
            dots[i] += x[i] as f64 * y[i] as f64;
        }
    }
    (combine(sums, sum_tail), combine(dots, dot_tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_are_sums() {
        for n in [0, 1, 7, 8, 9, 100, 1001] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let exact: f64 = a.iter().map(|&v| v as f64).sum();
            let dot: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((sum_f64(&a, |v| v as f64) - exact).abs() < 1e-12);
            let (s, d) = vectorized(|| sum_and_dot_f64(&a, &b));
            assert!((s - exact).abs() < 1e-12 && (d - dot).abs() < 1e-12, "{n}");
        }
    }
}
