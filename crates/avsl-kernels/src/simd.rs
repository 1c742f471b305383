//! Element-wise kernels compiled for AVX-512 or AVX2 where the CPU has them. The default
//! x86-64 target stops at SSE2; the convolutions' products choose their own kernels at run
//! time (the `gemm` crate), and this does the same for the passes around them. Enabling a
//! target feature changes the instructions, never the arithmetic: Rust does not contract
//! multiply-adds or reassociate sums, so results are identical at every level (a test runs
//! each level this CPU has and compares the bits).

use std::cell::Cell;
use std::sync::OnceLock;

/// Instruction sets the element-wise kernels are compiled for, from the least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Avx2,
    Avx512,
}

impl Level {
    /// The best level of this CPU, capped by the environment variable `AVSL_SIMD`
    /// (`baseline`, `avx2` or `avx512`) when set: to measure one level against another.
    pub fn detected() -> Level {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let cpu = Level::of_cpu();
            match std::env::var("AVSL_SIMD").as_deref() {
                Ok("baseline") => Level::Baseline,
                Ok("avx2") => cpu.min(Level::Avx2),
                _ => cpu,
            }
        })
    }

    fn of_cpu() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    }

    /// The level the kernels run at on this thread.
    pub fn current() -> Level {
        CAP.get().map_or(Level::detected(), |cap| cap.min(Level::detected()))
    }
}

thread_local! {
    static CAP: Cell<Option<Level>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's kernels at `level` at most (the tests run every level on
/// one machine this way, in a one-thread pool so that the work stays on this thread).
pub fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    let before = CAP.replace(Some(level));
    let result = f();
    CAP.set(before);
    result
}

/// Runs `f` compiled for the best level the CPU has. Only as good as the inliner: a short
/// closure is inlined into the target-feature function, a long one is compiled on its own,
/// for the baseline (measured: the Winograd transforms ran in SSE scalar code this way).
/// Long bodies use [`vectorized_fn!`].
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match Level::current() {
        // SAFETY: the CPU has the level's features (`Level::detected`).
        Level::Avx512 => return unsafe { avx512(f) },
        Level::Avx2 => return unsafe { avx2(f) },
        Level::Baseline => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Defines a function whose body is compiled three times, for AVX-512, AVX2 and the
/// baseline, and picks one when called. The body is copied into each variant, so its
/// closures (rayon tasks included) are defined inside a `target_feature` function and
/// inherit its features.
macro_rules! vectorized_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            match $crate::simd::Level::current() {
                $crate::simd::Level::Avx512 => {
                    #[target_feature(enable = "avx512f")]
                    fn avx512($($arg: $ty),*) $body
                    // SAFETY: the CPU has AVX-512F (`Level::detected`).
                    return unsafe { avx512($($arg),*) };
                }
                $crate::simd::Level::Avx2 => {
                    #[target_feature(enable = "avx2")]
                    fn avx2($($arg: $ty),*) $body
                    // SAFETY: the CPU has AVX2 (`Level::detected`).
                    return unsafe { avx2($($arg),*) };
                }
                $crate::simd::Level::Baseline => {}
            }
            fn baseline($($arg: $ty),*) $body
            baseline($($arg),*)
        }
    };
}
pub(crate) use vectorized_fn;

/// `L` float32 values computed on together. Arithmetic on a fixed-size array becomes
/// vector instructions without the run-time aliasing checks a loop over many slices needs
/// (with more than a few slices the loop vectoriser gives up and the loop runs scalar).
/// Plain loops, not `array::from_fn`/`map`: those are not always inlined, and a copy
/// compiled apart from the AVX2 caller runs SSE code (measured in the Winograd transforms).
#[derive(Debug, Clone, Copy)]
pub struct Lanes<const L: usize>([f32; L]);

/// Lanes of an AVX2 register.
pub const WIDTH: usize = 16;

impl<const L: usize> Lanes<L> {
    pub const ZERO: Lanes<L> = Lanes([0.0; L]);

    /// The first `L` values of `values`.
    #[inline(always)]
    pub fn load(values: &[f32]) -> Lanes<L> {
        let mut lanes = [0.0; L];
        lanes.copy_from_slice(&values[..L]);
        Lanes(lanes)
    }

    /// Writes the lanes over the first `L` values of `out`.
    #[inline(always)]
    pub fn store(self, out: &mut [f32]) {
        out[..L].copy_from_slice(&self.0);
    }
}

impl<const L: usize> std::ops::Add for Lanes<L> {
    type Output = Lanes<L>;
    #[inline(always)]
    fn add(mut self, other: Lanes<L>) -> Lanes<L> {
        for l in 0..L {
            self.0[l] += other.0[l];
        }
        self
    }
}

impl<const L: usize> std::ops::Sub for Lanes<L> {
    type Output = Lanes<L>;
    #[inline(always)]
    fn sub(mut self, other: Lanes<L>) -> Lanes<L> {
        for l in 0..L {
            self.0[l] -= other.0[l];
        }
        self
    }
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
