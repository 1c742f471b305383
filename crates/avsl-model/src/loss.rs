//! The training objectives on embeddings (METHOD §3 and §4), written with tensor
//! operations only so that they differentiate on an autodiff device.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// All-pairs similarities ⟨v_n(p), a_m⟩/τ: `einsum('nchw,mc->nmhw') / τ`, flattened to
/// `[N, M, P]`.
pub fn cross_similarities(images: &Tensor<4>, audios: &Tensor<2>, tau: f64) -> Tensor<3> {
    let [n, c, h, w] = images.dims();
    let [m, _] = audios.dims();
    let v = images.clone().reshape([n, c, h * w]);
    let a = audios.clone().reshape([1, m, c]).expand([n, m, c]);
    a.matmul(v).div_scalar(tau)
}

/// Cross-entropy of `logits[n, m]` with target class n (mean over rows).
fn diagonal_cross_entropy(logits: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let targets = Tensor::<1, Int>::arange(0..n as i64, &logits.device()).reshape([n, 1]);
    log_softmax(logits, 1).gather(1, targets).mean().neg()
}

/// One direction of SLAVC's loss: log Σ_p softmax_m(s¹)[n,m,p] · softmax_p(s²)[n,m,p].
fn slavc_direction(v: [&Tensor<4>; 2], a: [&Tensor<2>; 2], tau: f64) -> Tensor<2> {
    let first = softmax(cross_similarities(v[0], a[0], tau), 1);
    let second = softmax(cross_similarities(v[1], a[1], tau), 2);
    let [n, m, _] = first.dims();
    first.mul(second).sum_dim(2).log().reshape([n, m])
}

/// SLAVC's loss: image→audio with the online image and target (momentum) audio
/// embeddings, audio→image with the target image and online audio embeddings, each a
/// cross-entropy over the batch (`[v¹, v²]`, `[a¹, a²]` per set).
pub fn slavc_loss(
    online_v: [&Tensor<4>; 2],
    online_a: [&Tensor<2>; 2],
    target_v: [&Tensor<4>; 2],
    target_a: [&Tensor<2>; 2],
    tau: f64,
) -> Tensor<1> {
    let i2a = slavc_direction(online_v, target_a, tau);
    let a2i = slavc_direction(target_v, online_a, tau);
    diagonal_cross_entropy(a2i).add(diagonal_cross_entropy(i2a))
}

/// EZ-VSL's multiple-instance loss: logits[n,m] = max_p ⟨v_n(p), a_m⟩/τ, cross-entropy
/// over rows and over columns.
pub fn ezvsl_loss(images: &Tensor<4>, audios: &Tensor<2>, tau: f64) -> Tensor<1> {
    let s = cross_similarities(images, audios, tau);
    let [n, m, _] = s.dims();
    let logits = s.max_dim(2).reshape([n, m]);
    diagonal_cross_entropy(logits.clone()).add(diagonal_cross_entropy(logits.transpose()))
}
