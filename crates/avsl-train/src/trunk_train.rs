//! A ResNet-18 trunk in training mode on the CPU kernels of `avsl_kernels::train_ops`: the forward pass
//! (batch statistics, running statistics updated as PyTorch does) keeps what its backward
//! pass needs, and the backward pass turns the features' gradient into the gradient of
//! every parameter of the trunk.

use avsl_kernels::Activation;
use avsl_kernels::train_ops::{
    BatchNormTape, Conv, Epilogue, add_in_place, batch_norm_backward, batch_norm_train, max_pool_backward,
    max_pool_train, relu_backward,
};
use avsl_model::arch::{BlockSpec, ConvBnSpec, TrunkSpec};
use avsl_model::weights::{NamedTensor, Weights};

const BN_EPS: f64 = 1e-5;
/// PyTorch's BatchNorm momentum: running = 0.9 · running + 0.1 · batch statistic.
const BN_MOMENTUM: f64 = 0.1;

fn values<'a>(w: &'a Weights, name: &str) -> &'a [f32] {
    &w.get(name).unwrap_or_else(|| panic!("no tensor {name} (the state is built from the architecture)")).values
}

fn conv<'a>(params: &'a Weights, spec: &ConvBnSpec) -> Conv<'a> {
    Conv {
        weight: values(params, &format!("{}.weight", spec.conv)),
        out_c: spec.out_channels,
        k: spec.kernel,
        stride: spec.stride,
        pad: spec.padding(),
    }
}

/// Convolution then training-mode BatchNorm (and its epilogue); updates the running
/// statistics in `buffers`.
fn conv_bn(
    params: &Weights,
    buffers: &mut Weights,
    spec: &ConvBnSpec,
    x: &Activation,
    keep_tape: bool,
    epilogue: Epilogue,
) -> (Activation, Option<BatchNormTape>) {
    let y = conv(params, spec).forward(x);
    let gamma = values(params, &format!("{}.weight", spec.bn));
    let beta = values(params, &format!("{}.bias", spec.bn));
    let (out, (mean, var), tape) = batch_norm_train(&y, gamma, beta, BN_EPS, keep_tape, epilogue);
    let count = (y.n * y.h * y.w) as f64;
    // The running variance takes the unbiased batch variance, as PyTorch's does.
    let unbiased = count / (count - 1.0).max(1.0);
    for (leaf, stat, scale) in [("running_mean", &mean, 1.0), ("running_var", &var, unbiased)] {
        let name = format!("{}.{leaf}", spec.bn);
        let running = buffers.get_mut(&name).unwrap_or_else(|| panic!("no buffer {name}"));
        for (r, &s) in running.values.iter_mut().zip(stat.iter()) {
            *r = ((1.0 - BN_MOMENTUM) * *r as f64 + BN_MOMENTUM * s * scale) as f32;
        }
    }
    (out, tape)
}

/// What one block's backward pass needs: its input, the first convolution's activated
/// output, and the BatchNorm tapes. The block's output is the next block's input.
struct BlockTape {
    input: Activation,
    hidden: Activation,
    bn1: BatchNormTape,
    bn2: BatchNormTape,
    downsample: Option<BatchNormTape>,
}

/// Everything a trunk's backward pass needs.
pub struct TrunkTape {
    spec: TrunkSpec,
    input: Activation,
    stem_bn: BatchNormTape,
    /// The stem's activated output (the max-pool's input) and the pool's argmax.
    stem_out: Activation,
    /// Where each pooled value came from; `None` for a trunk without the stem's pool.
    pool_argmax: Option<Vec<u32>>,
    blocks: Vec<BlockTape>,
    /// The trunk's output (the last ReLU's output).
    output: Activation,
}

fn block_forward(
    params: &Weights,
    buffers: &mut Weights,
    block: &BlockSpec,
    x: Activation,
    keep_tape: bool,
) -> (Activation, Option<BlockTape>) {
    let (identity, ds_tape) = match &block.downsample {
        Some(d) => {
            let (y, t) = conv_bn(params, buffers, d, &x, keep_tape, Epilogue::default());
            (Some(y), t)
        }
        None => (None, None),
    };
    let relu = Epilogue { residual: None, relu: true };
    let (hidden, bn1) = conv_bn(params, buffers, &block.conv1, &x, keep_tape, relu);
    let residual = identity.as_ref().unwrap_or(&x);
    let (out, bn2) =
        conv_bn(params, buffers, &block.conv2, &hidden, keep_tape, Epilogue { residual: Some(residual), relu: true });
    let tape = keep_tape.then(|| BlockTape {
        input: x,
        hidden,
        bn1: bn1.expect("tape kept"),
        bn2: bn2.expect("tape kept"),
        downsample: ds_tape,
    });
    (out, tape)
}

/// The trunk's forward pass in training mode: layer4 features, and the tape for
/// [`trunk_backward`] when `keep_tape`.
pub fn trunk_forward(
    spec: &TrunkSpec,
    params: &Weights,
    buffers: &mut Weights,
    input: Activation,
    keep_tape: bool,
) -> (Activation, Option<TrunkTape>) {
    let relu = Epilogue { residual: None, relu: true };
    let (stem_out, stem_bn) = conv_bn(params, buffers, &spec.stem, &input, keep_tape, relu);
    let (mut x, pool_argmax) = if spec.max_pool {
        let (pooled, argmax) = max_pool_train(&stem_out);
        (pooled, Some(argmax))
    } else {
        (stem_out.clone(), None)
    };
    let mut blocks = Vec::new();
    for block in &spec.blocks {
        let (out, tape) = block_forward(params, buffers, block, x, keep_tape);
        blocks.extend(tape);
        x = out;
    }
    let tape = keep_tape.then(|| TrunkTape {
        spec: spec.clone(),
        input,
        stem_bn: stem_bn.expect("tape kept"),
        stem_out,
        pool_argmax,
        blocks,
        output: x.clone(),
    });
    (x, tape)
}

/// Gradients of one convolution + BatchNorm from the gradient of the BatchNorm's output
/// (consumed); returns the gradient of the convolution's input when asked.
fn conv_bn_backward(
    params: &Weights,
    grads: &mut Weights,
    spec: &ConvBnSpec,
    input: &Activation,
    mut dy: Activation,
    tape: &BatchNormTape,
    need_input: bool,
) -> Option<Activation> {
    let gamma = values(params, &format!("{}.weight", spec.bn));
    let (dgamma, dbeta) = batch_norm_backward(&mut dy, tape, gamma);
    let (dx, dw) = conv(params, spec).backward(input, &dy, need_input);
    let shaped = |values: Vec<f32>| NamedTensor { shape: vec![values.len()], values };
    grads.insert(format!("{}.weight", spec.bn), shaped(dgamma));
    grads.insert(format!("{}.bias", spec.bn), shaped(dbeta));
    grads.insert(format!("{}.weight", spec.conv), NamedTensor { shape: spec.weight_shape().to_vec(), values: dw });
    dx
}

/// The gradient of every parameter of the trunk from the gradient of its features,
/// into `grads` under the parameters' names.
pub fn trunk_backward(tape: TrunkTape, params: &Weights, mut d_features: Activation, grads: &mut Weights) {
    let spec = &tape.spec;
    let mut output = tape.output;
    for (block, t) in spec.blocks.iter().zip(tape.blocks).rev() {
        relu_backward(&mut d_features, &output);
        let dz = d_features;
        let d_identity = match (&block.downsample, &t.downsample) {
            (Some(d), Some(dt)) => {
                conv_bn_backward(params, grads, d, &t.input, dz.clone(), dt, true).expect("input gradient")
            }
            _ => dz.clone(),
        };
        let mut d_hidden =
            conv_bn_backward(params, grads, &block.conv2, &t.hidden, dz, &t.bn2, true).expect("input gradient");
        relu_backward(&mut d_hidden, &t.hidden);
        let mut dx =
            conv_bn_backward(params, grads, &block.conv1, &t.input, d_hidden, &t.bn1, true).expect("input gradient");
        add_in_place(&mut dx, &d_identity);
        d_features = dx;
        output = t.input;
    }
    let mut d_stem = match &tape.pool_argmax {
        Some(argmax) => max_pool_backward(&d_features, argmax, [tape.stem_out.h, tape.stem_out.w]),
        None => d_features,
    };
    relu_backward(&mut d_stem, &tape.stem_out);
    conv_bn_backward(params, grads, &spec.stem, &tape.input, d_stem, &tape.stem_bn, false);
}
