//! Adam as PyTorch's `torch.optim.Adam` computes it (no weight decay, no AMSGrad): its
//! moments are plain tensors by parameter name, so a checkpoint can hold them and a
//! resumed run continues the same trajectory.

use burn::tensor::{Gradients, Tensor};

use crate::trainable::{TensorMap, TrainState};

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far.
    pub step: u64,
    /// First and second moments, by parameter name.
    pub exp_avg: TensorMap,
    pub exp_avg_sq: TensorMap,
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
            exp_avg: TensorMap::default(),
            exp_avg_sq: TensorMap::default(),
        }
    }

    /// One update of every trainable parameter that received a gradient.
    pub fn step(&mut self, state: &mut TrainState, grads: &Gradients) {
        self.step += 1;
        let t = self.step as i32;
        let (bias1, bias2) = (1.0 - self.beta1.powi(t), 1.0 - self.beta2.powi(t));
        for name in state.trainable() {
            let param = state.params.flat(&name).expect("trainable parameter").clone();
            let Some(grad) = param.grad(grads) else { continue };
            let grad = grad.without_autodiff();
            let p = param.without_autodiff();
            let zeros = || p.zeros_like();
            let m = self.exp_avg.flat(&name).cloned().unwrap_or_else(zeros);
            let v = self.exp_avg_sq.flat(&name).cloned().unwrap_or_else(zeros);
            let m = m.mul_scalar(self.beta1).add(grad.clone().mul_scalar(1.0 - self.beta1));
            let v = v.mul_scalar(self.beta2).add(grad.clone().mul(grad).mul_scalar(1.0 - self.beta2));
            let denom = v.clone().sqrt().div_scalar(bias2.sqrt()).add_scalar(self.eps);
            let updated = p.sub(m.clone().div(denom).mul_scalar(self.lr / bias1));
            let n = m.dims()[0];
            for (moments, value) in [(&mut self.exp_avg, m), (&mut self.exp_avg_sq, v)] {
                if moments.flat(&name).is_some() {
                    moments.set_flat(&name, value);
                } else {
                    moments.insert(name.clone(), value, vec![n]);
                }
            }
            state.params.set_flat(&name, updated.autodiff().require_grad());
        }
    }
}

/// Convenience for tests and logs: a tensor's values on the host.
pub fn host(t: &Tensor<1>) -> Vec<f32> {
    t.clone().into_data().try_to_vec::<f32>().expect("float32 tensor")
}
