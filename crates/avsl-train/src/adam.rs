//! Adam as PyTorch's `torch.optim.Adam` computes it on the CPU (no weight decay, no
//! AMSGrad, one tensor at a time): its moments are host tensors by parameter name, so a
//! checkpoint can hold them and a resumed run continues the same trajectory.

use rayon::prelude::*;

use avsl_model::weights::{NamedTensor, Weights};

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far.
    pub step: u64,
    /// First and second moments, by parameter name.
    pub exp_avg: Weights,
    pub exp_avg_sq: Weights,
}

impl Adam {
    /// PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    pub fn new(lr: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            exp_avg: Weights::default(),
            exp_avg_sq: Weights::default(),
        }
    }

    /// One update of every parameter in `grads`, in float32 as PyTorch's single-tensor
    /// Adam: m ← lerp(m, g, 1 − β₁), v ← β₂·v + (1 − β₂)·g², p ← p − lr/(1 − β₁ᵗ) · m /
    /// (√v / √(1 − β₂ᵗ) + ε).
    pub fn step(&mut self, params: &mut Weights, grads: &Weights) {
        self.step += 1;
        let t = self.step as i32;
        let step_size = (self.lr / (1.0 - self.beta1.powi(t))) as f32;
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt() as f32;
        let (w1, beta2, w2, eps) =
            ((1.0 - self.beta1) as f32, self.beta2 as f32, (1.0 - self.beta2) as f32, self.eps as f32);
        for (name, grad) in grads.iter() {
            let param = params.get_mut(name).unwrap_or_else(|| panic!("gradient for unknown parameter {name}"));
            let zeros = || NamedTensor { shape: grad.shape.clone(), values: vec![0.0; grad.values.len()] };
            if self.exp_avg.get(name).is_none() {
                self.exp_avg.insert(name, zeros());
                self.exp_avg_sq.insert(name, zeros());
            }
            let m = &mut self.exp_avg.get_mut(name).expect("inserted above").values;
            let v = &mut self.exp_avg_sq.get_mut(name).expect("inserted above").values;
            param
                .values
                .par_chunks_mut(1 << 14)
                .zip(m.par_chunks_mut(1 << 14))
                .zip(v.par_chunks_mut(1 << 14))
                .zip(grad.values.par_chunks(1 << 14))
                .for_each(|(((p, m), v), g)| {
                    for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                        *m += w1 * (g - *m);
                        *v = *v * beta2 + w2 * g * g;
                        *p -= step_size * (*m / (v.sqrt() / bias2_sqrt + eps));
                    }
                });
        }
    }
}
