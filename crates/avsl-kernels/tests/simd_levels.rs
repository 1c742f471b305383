//! Every instruction-set level this CPU has gives the same bits: the element-wise kernels
//! are compiled once per level (`simd::vectorized_fn!`), and CI's machines have AVX2 or
//! AVX-512, so this runs each variant they have against the baseline one.

use avsl_kernels::Activation;
use avsl_kernels::conv::{HostConv, max_pool_3x3_s2};
use avsl_kernels::simd::{Level, with_level};
use avsl_kernels::train_ops::{
    Conv, Epilogue, add_in_place, batch_norm_backward, batch_norm_train, max_pool_train, relu_backward,
};

/// Deterministic values in [−1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
}

fn activation([n, c, h, w]: [usize; 4], seed: u32) -> Activation {
    Activation { n, c, h, w, data: values(n * c * h * w, seed) }
}

/// The outputs of every vectorised kernel on one small network's worth of shapes: a
/// Winograd convolution (forward and input gradient), an im2col one with bias, residual
/// and ReLU, BatchNorm forward and backward with its epilogue, max-pooling, the ReLU
/// gradient and the residual sum.
fn all_kernels() -> Vec<Vec<f32>> {
    let x = activation([2, 64, 13, 11], 1);
    let weight = values(64 * 64 * 9, 2);
    let conv = Conv { weight: &weight, out_c: 64, k: 3, stride: 1, pad: 1 };
    let y = conv.forward(&x);
    let residual = activation([2, 64, 13, 11], 3);
    let epilogue = Epilogue { residual: Some(&residual), relu: true };
    let (z, (mean, var), tape) = batch_norm_train(&y, &values(64, 4), &values(64, 5), 1e-5, true, epilogue);
    let tape = tape.expect("kept");
    let mut dz = activation([2, 64, 13, 11], 6);
    relu_backward(&mut dz, &z);
    let (dgamma, dbeta) = batch_norm_backward(&mut dz, &tape, &values(64, 4));
    let (dx, dw) = conv.backward(&x, &dz, true);
    let mut sum = dx.expect("asked");
    add_in_place(&mut sum, &residual);
    let (pooled, argmax) = max_pool_train(&z);
    let inference = HostConv::new(values(8 * 64 * 9, 7), values(8, 8), [8, 64, 3], 2, 1);
    let folded = inference.forward(&z, None, true);
    let folded_pool = max_pool_3x3_s2(&folded).data;
    let as_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    vec![
        y.data,
        z.data,
        tape.normalized,
        as_f32(mean),
        as_f32(var),
        dz.data,
        dgamma,
        dbeta,
        sum.data,
        dw,
        pooled.data,
        argmax.into_iter().map(|i| i as f32).collect(),
        folded.data,
        folded_pool,
    ]
}

#[test]
fn every_level_gives_the_same_bits() {
    // One thread, so that every task runs where the level is set.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let at = |level: Level| pool.install(|| with_level(level, all_kernels));
    let baseline = at(Level::Baseline);
    let levels = [Level::Avx2, Level::Avx512];
    for level in levels.into_iter().filter(|&l| l <= Level::detected()) {
        let got = at(level);
        for (i, (a, b)) in got.iter().zip(&baseline).enumerate() {
            let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{level:?}: output {i} differs from the baseline build's");
        }
    }
    eprintln!(
        "compared {:?} with the baseline",
        levels.iter().filter(|&&l| l <= Level::detected()).collect::<Vec<_>>()
    );
}
