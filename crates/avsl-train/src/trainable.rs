//! A model in training on our CPU kernels (docs/method.md §2–4): parameters and BatchNorm
//! running statistics on the host under the authors' names. One step runs the trunks on
//! the kernels of `trunk_train` (forward with a tape, backward by hand) and the small rest
//! — visual dropout, projection heads, normalisation, the loss (`step_graph`) — as burn
//! tensors on an autodiff device, whose gradients with respect to the trunks' features
//! start the trunks' backward pass.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

pub use crate::step_graph::{Batch, Masks, StepLoss, Supervision};
use crate::step_graph::{Heads, StepEngine, forward_loss, head_names};
use crate::trunk_train::{TrunkTape, trunk_backward, trunk_forward};
use avsl_kernels::Activation;
use avsl_model::arch::{EncoderSet, ModelConfig};
use avsl_model::weights::{NamedTensor, Weights, host_values};

/// Everything a model holds: parameters (online and, for SLAVC, momentum copies) and
/// BatchNorm running statistics.
pub struct TrainState {
    pub config: ModelConfig,
    pub params: Weights,
    pub buffers: Weights,
    /// Where the heads and the loss run (an autodiff device).
    pub device: Device,
    /// SSL-align: include the alignment term s_A of eq. 5 (off: an ablation in which the
    /// projections are neither used nor trained).
    pub alignment_loss: bool,
}

pub(crate) fn is_buffer(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

/// Features of one trunk as a leaf of the autodiff graph, with the tape that continues
/// its gradient into the trunk.
struct Leaf {
    tensor: Tensor<4>,
    tape: TrunkTape,
}

impl TrainState {
    /// Copies checkpoint tensors. Every name of the architecture must be present (verify
    /// the checkpoint first).
    pub fn new(weights: &Weights, config: ModelConfig, device: &Device) -> TrainState {
        let mut params = Weights::default();
        let mut buffers = Weights::default();
        for (name, _) in config.expected_shapes() {
            let t = weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}")).clone();
            if is_buffer(&name) { buffers.insert(name, t) } else { params.insert(name, t) }
        }
        TrainState { config, params, buffers, device: device.clone(), alignment_loss: true }
    }

    /// Names of the parameters the optimiser updates (the online ones).
    pub fn trainable(&self) -> Vec<String> {
        self.params.names().filter(|n| !n.starts_with("momentum_")).map(str::to_string).collect()
    }

    /// Every tensor under the authors' names.
    pub fn to_weights(&self) -> Weights {
        let mut w = Weights::default();
        for (name, t) in self.params.iter().chain(self.buffers.iter()) {
            w.insert(name, t.clone());
        }
        w
    }

    /// θ_m ← m·θ_m + (1 − m)·θ for every momentum parameter, in one pass: `m_image` for
    /// the image trunk and heads, `m_audio` for the audio ones. BatchNorm running
    /// statistics are not averaged (the momentum encoders keep their own).
    pub fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        let names: Vec<String> =
            self.params.names().filter(|n| n.starts_with("momentum_")).map(str::to_string).collect();
        for name in names {
            let m = if name.starts_with("momentum_img") { m_image } else { m_audio } as f32;
            // Out of the map while it is updated, so the online twin can be read in place.
            let mut target = self.params.remove(&name).expect("momentum parameter");
            let online = &self.params.get(&name["momentum_".len()..]).expect("online twin").values;
            target.values.par_chunks_mut(1 << 14).zip(online.par_chunks(1 << 14)).for_each(|(t, o)| {
                t.iter_mut().zip(o).for_each(|(t, &o)| *t = *t * m + o * (1.0 - m));
            });
            self.params.insert(name, target);
        }
    }

    fn to_tensor(&self, x: Activation) -> Tensor<4> {
        Tensor::from_data(TensorData::new(x.data, [x.n, x.c, x.h, x.w]), &self.device)
    }

    /// One step's loss and the gradient of every online parameter (see
    /// [`forward_loss`] for the order of operations). BatchNorm running statistics of
    /// every trunk that ran are updated.
    pub fn loss_and_gradients(
        &mut self,
        batch: Batch,
        masks: Masks,
        momentum: (f64, f64),
        supervision: Option<&Supervision>,
    ) -> (StepLoss, Weights) {
        let mut step = HostStep { state: self, leaves: Vec::new() };
        let (loss, value, heads) = forward_loss(&mut step, batch, masks, momentum, supervision);
        let leaves = std::mem::take(&mut step.leaves);
        (value, self.gradients(loss, &heads, leaves))
    }

    /// The gradient of every head parameter and, through the trunks' tapes, of every
    /// trunk parameter.
    fn gradients(&self, loss: Tensor<1>, heads: &Heads, leaves: Vec<Leaf>) -> Weights {
        let graph = loss.backward();
        let mut grads = Weights::default();
        for (name, tensor) in &heads.tensors {
            let g = tensor.grad(&graph).expect("the loss depends on every head");
            let shape = self.params.get(name).expect("head parameter").shape.clone();
            grads.insert(name.clone(), NamedTensor { shape, values: host_values(g) });
        }
        for leaf in leaves {
            let d = leaf.tensor.grad(&graph).expect("the loss depends on every trunk");
            let [n, c, h, w] = d.dims();
            trunk_backward(leaf.tape, &self.params, Activation { n, c, h, w, data: host_values(d) }, &mut grads);
        }
        grads
    }
}

/// One step of the host engine: the state, and the online trunks' leaves and tapes.
struct HostStep<'a> {
    state: &'a mut TrainState,
    leaves: Vec<Leaf>,
}

impl StepEngine for HostStep<'_> {
    fn config(&self) -> &ModelConfig {
        &self.state.config
    }

    fn alignment_loss(&self) -> bool {
        self.state.alignment_loss
    }

    /// Online trunks keep a tape and give a leaf that tracks gradients; momentum trunks
    /// give plain features.
    fn trunk(&mut self, set: EncoderSet, net: &str, x: Activation) -> Tensor<4> {
        let state = &mut *self.state;
        let spec = state.config.trunk(&format!("{}{net}.", set.prefix()), x.c);
        let online = set == EncoderSet::Online;
        let (features, tape) = trunk_forward(&spec, &state.params, &mut state.buffers, x, online);
        let tensor = state.to_tensor(features);
        match tape {
            Some(tape) => {
                let leaf = tensor.require_grad();
                self.leaves.push(Leaf { tensor: leaf.clone(), tape });
                leaf
            }
            None => tensor,
        }
    }

    /// The heads' parameters as flat tensors for this step; the online ones are leaves
    /// that collect gradients.
    fn heads(&self, set: EncoderSet) -> Heads {
        let p = set.prefix();
        let mut tensors = BTreeMap::new();
        for name in head_names(&self.state.config) {
            let t = self.state.params.get(&format!("{p}{name}")).unwrap_or_else(|| panic!("no tensor {p}{name}"));
            let n = t.values.len();
            let tensor = Tensor::<1>::from_data(TensorData::new(t.values.clone(), [n]), &self.state.device);
            let tensor = if set == EncoderSet::Online { tensor.require_grad() } else { tensor };
            tensors.insert(name, tensor);
        }
        Heads { tensors }
    }

    fn momentum_update(&mut self, m_image: f64, m_audio: f64) {
        self.state.momentum_update(m_image, m_audio);
    }
}
