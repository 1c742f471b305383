//! The kernels on their own, at ResNet-18's layer shapes (batch 8, 224×224 input):
//! inference convolution (BatchNorm folded), training forward and backward (whole, and the
//! weight gradient alone: the stem's input needs none). Prints the
//! minimum over repeated runs (ms), which is what a comparison between versions needs on a
//! noisy machine. `cargo bench -p avsl-kernels` (no burn is built).

use std::hint::black_box;
use std::time::Instant;

use avsl_kernels::Activation;
use avsl_kernels::conv::HostConv;
use avsl_kernels::train_ops::Conv;

/// Deterministic values in [−1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
}

/// Minimum wall time of `runs` calls, in milliseconds.
fn min_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up: thread pool, buffers
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let batch = 8;
    // (name, channels in, out, plane side, kernel, stride, padding)
    let layers = [
        ("conv1 3→64 @224 k7 s2", 3, 64, 224, 7, 2, 3),
        ("layer1 64→64 @56", 64, 64, 56, 3, 1, 1),
        ("layer2 128→128 @28", 128, 128, 28, 3, 1, 1),
        ("layer3 256→256 @14", 256, 256, 14, 3, 1, 1),
        ("layer4 512→512 @7", 512, 512, 7, 3, 1, 1),
        ("downsample 128→256 @28 k1 s2", 128, 256, 28, 1, 2, 0),
    ];
    println!("{:<30} {:>10} {:>10} {:>10} {:>10}", "layer (batch 8)", "infer ms", "train fwd", "train bwd", "of it dW");
    for (name, in_c, out_c, side, k, stride, pad) in layers {
        let x = Activation { n: batch, c: in_c, h: side, w: side, data: values(batch * in_c * side * side, 1) };
        let weight = values(out_c * in_c * k * k, 2);
        let infer = HostConv::new(weight.clone(), vec![0.1; out_c], [out_c, in_c, k], stride, pad);
        let infer_ms = min_ms(5, || {
            black_box(infer.forward(&x, None, true));
        });
        let train = Conv { weight: &weight, out_c, k, stride, pad };
        let y = train.forward(&x);
        let dy = Activation { data: values(y.data.len(), 3), ..y.clone() };
        let forward_ms = min_ms(5, || {
            black_box(train.forward(&x));
        });
        let backward_ms = min_ms(5, || {
            black_box(train.backward(&x, &dy, true));
        });
        let weight_only_ms = min_ms(5, || {
            black_box(train.backward(&x, &dy, false));
        });
        println!("{name:<30} {infer_ms:>10.2} {forward_ms:>10.2} {backward_ms:>10.2} {weight_only_ms:>10.2}");
    }
}
