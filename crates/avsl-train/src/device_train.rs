//! A model in training with every tensor on one device (a GPU): parameters, BatchNorm
//! running statistics and Adam's moments stay there between steps; the trunks run as
//! burn operations (`device_trunk`) and differentiate through burn's autodiff. The CPU
//! build trains with `trainable` instead (see `kernels`). Checkpoints, resume and
//! validation read host copies (`to_weights`, `adam_moments`).

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};

use crate::device_trunk::{TensorMap, tensor, trunk_forward};
use crate::step_graph::{Batch, Heads, Masks, StepEngine, StepLoss, Supervision, forward_loss, head_names};
use crate::trainable::is_buffer;
use avsl_kernels::Activation;
use avsl_model::arch::{EncoderSet, ModelConfig};
use avsl_model::weights::{NamedTensor, Weights, host_values};

/// Adam as PyTorch's single-tensor `torch.optim.Adam` computes it (no weight decay, no
/// AMSGrad), in float32 on the device; the same update as [`crate::adam::Adam`].
pub struct DeviceAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far.
    pub step: u64,
    exp_avg: TensorMap,
    exp_avg_sq: TensorMap,
}

impl DeviceAdam {
    /// PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    pub fn new(lr: f64) -> DeviceAdam {
        DeviceAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            exp_avg: TensorMap::new(),
            exp_avg_sq: TensorMap::new(),
        }
    }

    /// m ← m + (1 − β₁)(g − m), v ← β₂·v + (1 − β₂)·g², p ← p − lr/(1 − β₁ᵗ) · m /
    /// (√v / √(1 − β₂ᵗ) + ε), for every parameter in `grads`.
    fn update(&mut self, params: &mut TensorMap, grads: TensorMap) {
        self.step += 1;
        let t = self.step as i32;
        // Rounded to float32 first, as the host Adam and PyTorch use them.
        let step_size = (self.lr / (1.0 - self.beta1.powi(t))) as f32 as f64;
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt() as f32 as f64;
        for (name, g) in grads {
            let zeros = || g.zeros_like();
            let m = self.exp_avg.remove(&name).unwrap_or_else(zeros);
            let v = self.exp_avg_sq.remove(&name).unwrap_or_else(zeros);
            let m = m.clone().add(g.clone().sub(m).mul_scalar(1.0 - self.beta1));
            let v = v.mul_scalar(self.beta2).add(g.clone().mul(g).mul_scalar(1.0 - self.beta2));
            let denominator = v.clone().sqrt().div_scalar(bias2_sqrt).add_scalar(self.eps);
            let p = tensor(params, &name).clone();
            params.insert(name.clone(), p.sub(m.clone().div(denominator).mul_scalar(step_size)));
            self.exp_avg.insert(name.clone(), m);
            self.exp_avg_sq.insert(name, v);
        }
    }
}

/// Everything a model holds, on its device: parameters (online and, for SLAVC, momentum
/// copies; no autodiff between steps), BatchNorm running statistics, Adam.
pub struct DeviceTrainState {
    pub config: ModelConfig,
    params: TensorMap,
    buffers: TensorMap,
    shapes: BTreeMap<String, Vec<usize>>,
    /// The autodiff device the step runs on.
    device: Device,
    /// SSL-align: include the alignment term s_A of eq. 5.
    pub alignment_loss: bool,
    pub adam: DeviceAdam,
}

fn to_device(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

impl DeviceTrainState {
    /// Moves checkpoint tensors onto `device`'s inner device; steps run on `device` (an
    /// autodiff device). Every name of the architecture must be present.
    pub fn new(weights: &Weights, config: ModelConfig, device: &Device, lr: f64) -> DeviceTrainState {
        let inner = device.clone().inner();
        let (mut params, mut buffers, mut shapes) = (TensorMap::new(), TensorMap::new(), BTreeMap::new());
        for (name, shape) in config.expected_shapes() {
            let t = weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}"));
            let on_device = to_device(&t.values, &inner);
            if is_buffer(&name) {
                buffers.insert(name.clone(), on_device)
            } else {
                params.insert(name.clone(), on_device)
            };
            shapes.insert(name, shape);
        }
        DeviceTrainState {
            config,
            params,
            buffers,
            shapes,
            device: device.clone(),
            alignment_loss: true,
            adam: DeviceAdam::new(lr),
        }
    }

    /// Names of the parameters the optimiser updates (the online ones).
    pub fn trainable(&self) -> Vec<String> {
        self.params.keys().filter(|n| !n.starts_with("momentum_")).cloned().collect()
    }

    /// Host copies of tensors named as parameters, in their parameters' shapes.
    fn host_copy<'a>(&self, tensors: impl IntoIterator<Item = (&'a String, &'a Tensor<1>)>) -> Weights {
        let mut w = Weights::default();
        for (name, t) in tensors {
            w.insert(name.clone(), NamedTensor { shape: self.shapes[name].clone(), values: host_values(t.clone()) });
        }
        w
    }

    /// Every tensor under the authors' names, copied to the host.
    pub fn to_weights(&self) -> Weights {
        self.host_copy(self.params.iter().chain(&self.buffers))
    }

    /// Adam's step count and moments on the host (a checkpoint's optimiser state).
    pub fn adam_moments(&self) -> (u64, Weights, Weights) {
        (self.adam.step, self.host_copy(&self.adam.exp_avg), self.host_copy(&self.adam.exp_avg_sq))
    }

    /// Restores Adam's state from a checkpoint's host copies.
    pub fn restore_adam(&mut self, step: u64, exp_avg: &Weights, exp_avg_sq: &Weights) {
        let inner = self.device.clone().inner();
        self.adam.step = step;
        for (map, moments) in [(&mut self.adam.exp_avg, exp_avg), (&mut self.adam.exp_avg_sq, exp_avg_sq)] {
            map.clear();
            for (name, t) in moments.iter() {
                map.insert(name.to_string(), to_device(&t.values, &inner));
            }
        }
    }

    /// θ_m ← m·θ_m + (1 − m)·θ for every momentum parameter (`m_image` for the image trunk
    /// and heads, `m_audio` for the audio ones).
    pub fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        let names: Vec<String> = self.params.keys().filter(|n| n.starts_with("momentum_")).cloned().collect();
        for name in names {
            let m = if name.starts_with("momentum_img") { m_image } else { m_audio } as f32 as f64;
            let online = tensor(&self.params, &name["momentum_".len()..]).clone();
            let target = tensor(&self.params, &name).clone();
            self.params.insert(name, target.mul_scalar(m).add(online.mul_scalar(1.0 - m)));
        }
    }

    /// One step's loss and the gradient of every online parameter the loss reads, on the
    /// device (the order of operations is [`forward_loss`]'s). Running statistics are
    /// updated; parameters are not.
    pub fn loss_and_gradients(
        &mut self,
        batch: Batch,
        masks: Masks,
        momentum: (f64, f64),
        supervision: Option<&Supervision>,
    ) -> (StepLoss, TensorMap) {
        let mut step = self.begin_step();
        let (loss, value, _) = forward_loss(&mut step, batch, masks, momentum, supervision);
        (value, step.gradients(loss))
    }

    /// A step on this state: autodiff leaves of the online parameters.
    pub(crate) fn begin_step(&mut self) -> DeviceStep<'_> {
        let leaves: TensorMap = self
            .trainable()
            .into_iter()
            .map(|name| {
                let leaf = tensor(&self.params, &name).clone().autodiff().require_grad();
                (name, leaf)
            })
            .collect();
        DeviceStep { state: self, leaves }
    }

    /// The device the step runs on (with autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// One Adam update from `grads`.
    pub fn apply(&mut self, grads: TensorMap) {
        self.adam.update(&mut self.params, grads);
    }

    /// Host copies of gradients, under the parameters' names and shapes.
    pub fn host_gradients(&self, grads: &TensorMap) -> Weights {
        self.host_copy(grads)
    }
}

/// One step of the device engine: the state and this step's autodiff leaves of the
/// online parameters.
pub(crate) struct DeviceStep<'a> {
    state: &'a mut DeviceTrainState,
    leaves: TensorMap,
}

impl DeviceStep<'_> {
    /// The gradient of `loss` with respect to every online parameter it reads.
    pub(crate) fn gradients(self, loss: Tensor<1>) -> TensorMap {
        let graph = loss.backward();
        self.leaves.into_iter().filter_map(|(name, leaf)| leaf.grad(&graph).map(|g| (name, g))).collect()
    }
}

impl StepEngine for DeviceStep<'_> {
    fn config(&self) -> &ModelConfig {
        &self.state.config
    }

    fn alignment_loss(&self) -> bool {
        self.state.alignment_loss
    }

    /// Online trunks read the leaves and stay in the autodiff graph; momentum trunks run
    /// without autodiff and join the loss as constants.
    fn trunk(&mut self, set: EncoderSet, net: &str, x: Activation) -> Tensor<4> {
        let state = &mut *self.state;
        let spec = state.config.trunk(&format!("{}{net}.", set.prefix()), x.c);
        let shape = [x.n, x.c, x.h, x.w];
        match set {
            EncoderSet::Online => {
                let input = Tensor::from_data(TensorData::new(x.data, shape), &state.device);
                trunk_forward(&spec, &self.leaves, &mut state.buffers, input)
            }
            EncoderSet::Momentum => {
                let input = Tensor::from_data(TensorData::new(x.data, shape), &state.device.clone().inner());
                trunk_forward(&spec, &state.params, &mut state.buffers, input).autodiff()
            }
        }
    }

    fn heads(&self, set: EncoderSet) -> Heads {
        let p = set.prefix();
        let tensors = head_names(&self.state.config)
            .into_iter()
            .map(|name| {
                let full = format!("{p}{name}");
                let t = match set {
                    EncoderSet::Online => tensor(&self.leaves, &full).clone(),
                    EncoderSet::Momentum => tensor(&self.state.params, &full).clone().autodiff(),
                };
                (name, t)
            })
            .collect();
        Heads { tensors }
    }

    fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        self.state.momentum_update(m_image, m_audio);
    }
}
