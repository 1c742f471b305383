//! The training objectives on embeddings (docs/method.md §3 and §4), written with tensor
//! operations only so that they differentiate on an autodiff device.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor, TensorData};

use avsl_model::encoders::l2_normalize;

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

/// The views of one batch that SSL-align pairs up ("Aligning Sight and Sound", eq. 5):
/// index 0 the sample itself, 1 its augmentation, 2 its mined neighbour. `images` are
/// backbone feature maps `[B, C, h, w]`, `audios` backbone vectors `[B, C]`,
/// `projections` their projections `(p_v(avg(v)), p_a(a))` `[B, D]` each, or `None` for the
/// ablation without eq. 5's alignment term; none needs to be normalised.
pub struct AlignViews {
    pub images: [Tensor<4>; 3],
    pub audios: [Tensor<2>; 3],
    pub projections: Option<([Tensor<2>; 3], [Tensor<2>; 3])>,
}

/// SSL-align's loss (eq. 5): over the 9 pairs (image view, audio view), the cross-entropy
/// over the batch (rows: images; the same audio view of the batch's other clips are the
/// negatives) of s_L/τ plus that of s_A/τ, summed over the pairs. s_L(v, a) is the mean over
/// positions of cos(v_xy, a) (eq. 3, mask M = 1), s_A the cosine of the projections (eq. 4).
/// Without projections the s_A terms are left out (an ablation).
pub fn ssl_align_loss(views: &AlignViews, tau: f64) -> Tensor<1> {
    let normalized = |t: &[Tensor<2>; 3]| t.clone().map(|p| l2_normalize(p, 1));
    let localisation = views.images.clone().map(|v| l2_normalize(v, 1));
    let audio = normalized(&views.audios);
    let projections = views.projections.as_ref().map(|(pv, pa)| (normalized(pv), normalized(pa)));
    let mut total: Option<Tensor<1>> = None;
    for (i, v) in localisation.iter().enumerate() {
        for (j, a) in audio.iter().enumerate() {
            let s_l = cross_similarities(v, a, tau).mean_dim(2);
            let [n, m, _] = s_l.dims();
            let mut pair = diagonal_cross_entropy(s_l.reshape([n, m]));
            if let Some((pv, pa)) = &projections {
                let s_a = pv[i].clone().matmul(pa[j].clone().transpose()).div_scalar(tau);
                pair = pair.add(diagonal_cross_entropy(s_a));
            }
            total = Some(match total {
                Some(t) => t.add(pair),
                None => pair,
            });
        }
    }
    total.expect("nine pairs")
}

/// The semi-supervised loss (supplement eq. 9): over the samples with `supervised[b]`, the
/// mean of Σ_positions (score − G)², where score = (S + 1)/2 ∈ [0, 1] and S is the
/// sample's own map (mean over heads of the cosine of its image and audio embeddings);
/// `targets` G is `[B, h, w]` on the map's grid. `None` when no sample is supervised.
pub fn semi_supervised_loss(
    images: &[Tensor<4>],
    audios: &[Tensor<2>],
    targets: &[f32],
    supervised: &[bool],
) -> Option<Tensor<1>> {
    let count = supervised.iter().filter(|&&s| s).count();
    if count == 0 {
        return None;
    }
    let [b, d, h, w] = images[0].dims();
    let device = images[0].device();
    let cosine = images
        .iter()
        .zip(audios)
        .map(|(v, a)| v.clone().mul(a.clone().reshape([b, d, 1, 1])).sum_dim(1))
        .reduce(|x, y| x.add(y))?
        .div_scalar(images.len() as f64);
    let score = cosine.add_scalar(1.0).div_scalar(2.0);
    let target = Tensor::<4>::from_data(TensorData::new(targets.to_vec(), [b, 1, h, w]), &device);
    let weights: Vec<f32> = supervised.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect();
    let mask = Tensor::<4>::from_data(TensorData::new(weights, [b, 1, 1, 1]), &device);
    let diff = score.sub(target);
    Some(diff.clone().mul(diff).mul(mask).sum().div_scalar(count as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn semi_supervised_loss_by_hand() {
        let device = Device::flex();
        // Two samples, d = 2, a 1×2 map; sample 1 is supervised. Its embeddings: image
        // (1, 0) at both positions, audio (0.6, 0.8): cosine 0.6, score 0.8 everywhere.
        let v = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], [2, 2, 1, 2]),
            &device,
        );
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.6, 0.8], [2, 2]), &device);
        let targets = [0.0f32, 0.0, 1.0, 0.0];
        let loss =
            semi_supervised_loss(std::slice::from_ref(&v), std::slice::from_ref(&a), &targets, &[false, true]).unwrap();
        // (0.8 − 1)² + (0.8 − 0)² = 0.04 + 0.64.
        let value = loss.into_data().try_to_vec::<f32>().unwrap()[0];
        assert!((value - 0.68).abs() < 1e-6, "{value}");
        // Two heads average their cosines; no supervised sample, no loss.
        let two =
            semi_supervised_loss(&[v.clone(), v.clone()], &[a.clone(), a.clone()], &targets, &[false, true]).unwrap();
        assert!((two.into_data().try_to_vec::<f32>().unwrap()[0] - 0.68).abs() < 1e-6);
        assert!(semi_supervised_loss(&[v], &[a], &targets, &[false, false]).is_none());
    }
}
