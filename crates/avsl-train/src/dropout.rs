//! Dropout masks from a counter-based seed: the mask of a step depends only on (seed,
//! step, stream), never on how many random numbers were drawn before, so a resumed run
//! draws the same masks as an uninterrupted one.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which dropout of a step a mask is for.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    OnlineImage = 1,
    TargetImage = 2,
}

/// A mask with entries 0 (probability `p`) or 1/(1 − p), as `nn.Dropout(p)` in training.
pub fn mask(seed: u64, step: u64, stream: Stream, p: f64, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let key = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.rotate_left(17) ^ ((stream as u64) << 56);
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    let keep = (1.0 / (1.0 - p)) as f32;
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| if rng.random::<f64>() < p { 0.0 } else { keep }).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_expected_fraction_scaled_and_is_reproducible() {
        let device = Device::flex();
        let shape = [4, 512, 7, 7];
        let a = mask(3, 10, Stream::OnlineImage, 0.9, shape, &device).into_data().try_to_vec::<f32>().unwrap();
        let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
        // 100,352 Bernoulli(0.1) draws: standard deviation 0.00095.
        assert!((kept - 0.1).abs() < 0.005, "kept {kept}");
        assert!(a.iter().all(|&v| v == 0.0 || v == 10.0));
        let again = mask(3, 10, Stream::OnlineImage, 0.9, shape, &device).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, again);
        let other = mask(3, 10, Stream::TargetImage, 0.9, shape, &device).into_data().try_to_vec::<f32>().unwrap();
        assert_ne!(a, other);
    }
}
