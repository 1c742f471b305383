//! Data-parallel training across devices, as PyTorch's DistributedDataParallel runs it:
//! one replica of the model per device, each device its contiguous shard of the global
//! batch, BatchNorm statistics per device (and the running statistics of the first
//! device, which DDP broadcasts to the others before each forward pass), the summed
//! gradient applied by every replica's own Adam so the replicas stay identical.
//!
//! The contrastive losses need the whole batch's negatives, so every replica computes the
//! loss of the *global* batch: its own shard's embeddings tracked, the other shards'
//! gathered as constants. The loss is the same function on every replica, so the sum over
//! replicas of their gradients is the gradient of the global loss, and the run follows the
//! loss curve of one device on the global batch (up to the per-device BatchNorm
//! statistics). The authors' SLAVC code computes the loss per GPU on its local batch
//! instead (fewer negatives); decided against, so that the device count does not change
//! the objective.
//!
//! Embeddings and gradients move between devices through `Tensor::to_device`: the
//! gradients are added once, in replica order, on the first replica's device, and that
//! sum is copied to every replica, so all replicas apply the same numbers.

use std::thread;

use burn::tensor::{Device, Tensor};

use crate::arch::{Architecture, ModelConfig};
use crate::device_train::DeviceTrainState;
use crate::device_trunk::TensorMap;
use crate::host_conv::Activation;
use crate::step_graph::{Batch, Embeddings, Masks, StepLoss, Supervision, embedding_loss, forward_embeddings};
use crate::weights::Weights;

pub struct DataParallel {
    replicas: Vec<DeviceTrainState>,
}

/// Samples `range` of a batch in `[N, C, H, W]` host layout.
fn shard(x: &Activation, range: std::ops::Range<usize>) -> Activation {
    let per = x.c * x.h * x.w;
    Activation { n: range.len(), c: x.c, h: x.h, w: x.w, data: x.data[range.start * per..range.end * per].to_vec() }
}

impl DataParallel {
    /// One replica per device in `devices` (autodiff devices; the same device may appear
    /// twice, e.g. two replicas on the CPU backend in tests). SSL-align is not supported
    /// yet (its batches hold three views per sample; sharding them is not written).
    pub fn new(weights: &Weights, config: ModelConfig, devices: &[Device], lr: f64) -> DataParallel {
        assert!(config.architecture != Architecture::SslAlign, "data-parallel SSL-align is not supported");
        assert!(!devices.is_empty(), "at least one device");
        DataParallel { replicas: devices.iter().map(|d| DeviceTrainState::new(weights, config, d, lr)).collect() }
    }

    pub fn replicas(&self) -> usize {
        self.replicas.len()
    }

    /// The first replica (its running statistics are the model's; see the module notes).
    pub fn first(&self) -> &DeviceTrainState {
        &self.replicas[0]
    }

    /// Every replica, e.g. to set their options alike.
    pub fn replicas_mut(&mut self) -> &mut [DeviceTrainState] {
        &mut self.replicas
    }

    /// One step on the global batch (its size a multiple of the replica count): the loss
    /// of the global batch before the update.
    pub fn step(
        &mut self,
        batch: Batch,
        masks: Masks,
        momentum: (f64, f64),
        supervision: Option<&Supervision>,
    ) -> StepLoss {
        let (loss, grads) = self.loss_and_gradients(batch, masks, momentum, supervision);
        self.apply(&grads);
        loss
    }

    /// Every replica's Adam step with the summed gradients (added once, on the first
    /// replica's device, then copied to each).
    pub fn apply(&mut self, grads: &[TensorMap]) {
        let total = summed(grads, &self.first_device());
        for replica in self.replicas.iter_mut() {
            let device = replica.device().clone().inner();
            replica.apply(total.iter().map(|(name, g)| (name.clone(), g.clone().to_device(&device))).collect());
        }
    }

    /// The summed gradient on the host (what [`DataParallel::apply`] applies).
    pub fn host_gradients(&self, grads: &[TensorMap]) -> Weights {
        self.replicas[0].host_gradients(&summed(grads, &self.first_device()))
    }

    fn first_device(&self) -> Device {
        self.replicas[0].device().clone().inner()
    }

    /// The loss of the global batch and every replica's gradient of it (with respect to
    /// its own shard's part), before any update; running statistics and the momentum
    /// encoders are updated.
    pub fn loss_and_gradients(
        &mut self,
        batch: Batch,
        masks: Masks,
        momentum: (f64, f64),
        supervision: Option<&Supervision>,
    ) -> (StepLoss, Vec<TensorMap>) {
        let n = self.replicas.len();
        let global = batch.images.n;
        assert_eq!(global % n, 0, "the batch ({global}) splits evenly over {n} devices");
        let per = global / n;
        let range = |k: usize| k * per..(k + 1) * per;
        let on = |mask: &Option<Tensor<4>>, k: usize, device: &Device| {
            mask.as_ref().map(|m| m.clone().slice(range(k)).to_device(device))
        };
        let config = self.replicas[0].config;
        let results: Vec<(StepLoss, TensorMap)> = thread::scope(|scope| {
            // Each replica: the embeddings of its shard (online tracked, targets constant).
            let forward: Vec<_> = self
                .replicas
                .iter_mut()
                .enumerate()
                .map(|(k, replica)| {
                    let device = replica.device().clone();
                    let shard_batch = Batch {
                        images: shard(&batch.images, range(k)),
                        spectrograms: shard(&batch.spectrograms, range(k)),
                    };
                    let shard_masks =
                        Masks { online: on(&masks.online, k, &device), target: on(&masks.target, k, &device) };
                    scope.spawn(move || {
                        let mut step = replica.begin_step();
                        let (embeddings, _) = forward_embeddings(&mut step, shard_batch, shard_masks, momentum);
                        (step, embeddings)
                    })
                })
                .collect();
            let (steps, parts): (Vec<_>, Vec<Embeddings>) =
                forward.into_iter().map(|h| h.join().expect("a replica's forward pass")).unzip();
            // Each replica: the global batch's loss, its own shard tracked, and its gradient.
            let backward: Vec<_> = steps
                .into_iter()
                .enumerate()
                .map(|(k, step)| {
                    let global = gathered(&parts, k);
                    let config = &config;
                    scope.spawn(move || {
                        let (loss, value) = embedding_loss(config, &global, supervision);
                        (value, step.gradients(loss))
                    })
                })
                .collect();
            backward.into_iter().map(|h| h.join().expect("a replica's backward pass")).collect()
        });
        let loss = results[0].0;
        (loss, results.into_iter().map(|(_, g)| g).collect())
    }

    /// The model under the authors' names (the first replica's), on the host.
    pub fn to_weights(&self) -> Weights {
        self.replicas[0].to_weights()
    }
}

/// Replica `k`'s view of the global batch: slot by slot, the shards in order, its own in
/// place (tracked) and the others' as constants moved to its device.
fn gathered(parts: &[Embeddings], k: usize) -> Embeddings {
    let device = parts[k].images[0].device().inner();
    Embeddings::combine(parts, |shards| joined(shards, k, &device), |shards| joined(shards, k, &device))
}

/// The shards of one tensor in order along the batch: shard `k` as it is, the others as
/// constants on `device`.
fn joined<const D: usize>(shards: Vec<Tensor<D>>, k: usize, device: &Device) -> Tensor<D> {
    let shards = shards.into_iter().enumerate();
    Tensor::cat(shards.map(|(j, t)| if j == k { t } else { t.inner().to_device(device).autodiff() }).collect(), 0)
}

/// The sum over replicas of their gradients, in replica order, on `device`.
fn summed(grads: &[TensorMap], device: &Device) -> TensorMap {
    grads[0]
        .keys()
        .map(|name| {
            let total = grads
                .iter()
                .map(|g| {
                    g.get(name).expect("every replica differentiates the same parameters").clone().to_device(device)
                })
                .reduce(|a, b| a.add(b))
                .expect("at least one replica");
            (name.clone(), total)
        })
        .collect()
}
