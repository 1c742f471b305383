//! Data-parallel training across devices, as PyTorch's DistributedDataParallel runs it:
//! one replica of the model per device, each device its contiguous shard of the global
//! batch (SSL-align: its samples of each of the three views), BatchNorm statistics per
//! device (and the running statistics of the first device, which DDP broadcasts to the
//! others before each forward pass), the summed gradient applied by every replica's own
//! Adam so the replicas stay identical.
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

use crate::device_train::{DeviceStep, DeviceTrainState};
use crate::device_trunk::TensorMap;
use crate::loss::AlignViews;
use crate::step_graph::{
    Batch, Embeddings, Masks, StepLoss, Supervision, align_loss, align_views, embedding_loss, forward_embeddings,
};
use avsl_kernels::Activation;
use avsl_model::arch::{Architecture, ModelConfig};
use avsl_model::weights::Weights;

pub struct DataParallel {
    replicas: Vec<DeviceTrainState>,
}

/// Samples `range` of a batch in `[N, C, H, W]` host layout that holds `views` views of
/// N/views samples one after the other: those samples of every view, view after view.
fn shard(x: &Activation, views: usize, range: std::ops::Range<usize>) -> Activation {
    let (per, samples) = (x.c * x.h * x.w, x.n / views);
    let data = (0..views).flat_map(|v| &x.data[(v * samples + range.start) * per..(v * samples + range.end) * per]);
    Activation { n: views * range.len(), c: x.c, h: x.h, w: x.w, data: data.copied().collect() }
}

impl DataParallel {
    /// One replica per device in `devices` (autodiff devices; the same device may appear
    /// twice, e.g. two replicas on the CPU backend in tests).
    pub fn new(weights: &Weights, config: ModelConfig, devices: &[Device], lr: f64) -> DataParallel {
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
        let config = self.replicas[0].config;
        if config.architecture == Architecture::SslAlign {
            return self.align_loss_and_gradients(config, batch);
        }
        let n = self.replicas.len();
        let global = batch.images.n;
        assert_eq!(global % n, 0, "the batch ({global}) splits evenly over {n} devices");
        let per = global / n;
        let range = |k: usize| k * per..(k + 1) * per;
        let shards = (0..n)
            .map(|k| {
                let device = self.replicas[k].device().clone();
                let on = |mask: &Option<Tensor<4>>| mask.as_ref().map(|m| m.clone().slice(range(k)).to_device(&device));
                let batch = Batch {
                    images: shard(&batch.images, 1, range(k)),
                    spectrograms: shard(&batch.spectrograms, 1, range(k)),
                };
                (batch, Masks { online: on(&masks.online), target: on(&masks.target) })
            })
            .collect();
        self.run_replicas(
            shards,
            |step, (batch, masks)| forward_embeddings(step, batch, masks, momentum).0,
            gathered,
            |global| embedding_loss(&config, global, supervision),
        )
    }

    /// SSL-align's step on the global batch (three views of B samples, B a multiple of
    /// the replica count): each replica its samples of every view, so its BatchNorm
    /// statistics are over its 3·B/n samples, as a process of the authors' DDP sees them.
    fn align_loss_and_gradients(&mut self, config: ModelConfig, batch: Batch) -> (StepLoss, Vec<TensorMap>) {
        const VIEWS: usize = 3;
        let n = self.replicas.len();
        let samples = batch.images.n / VIEWS;
        assert_eq!(batch.images.n, VIEWS * samples, "SSL-align batches hold three views");
        assert_eq!(samples % n, 0, "the batch ({samples} samples) splits evenly over {n} devices");
        let per = samples / n;
        let shards = (0..n)
            .map(|k| Batch {
                images: shard(&batch.images, VIEWS, k * per..(k + 1) * per),
                spectrograms: shard(&batch.spectrograms, VIEWS, k * per..(k + 1) * per),
            })
            .collect();
        self.run_replicas(
            shards,
            |step, batch| align_views(step, batch).0,
            gathered_views,
            |global| align_loss(&config, global),
        )
    }

    /// The data-parallel step: every replica's `forward` on its shard (in parallel), then
    /// on every replica the loss of the global batch (`gather`: the parts in order, its
    /// own tracked) and its gradient. Returns the loss and each replica's gradient.
    fn run_replicas<S: Send, P: Send>(
        &mut self,
        shards: Vec<S>,
        forward: impl Fn(&mut DeviceStep<'_>, S) -> P + Sync,
        gather: impl Fn(&[P], usize) -> P,
        loss: impl Fn(&P) -> (Tensor<1>, StepLoss) + Sync,
    ) -> (StepLoss, Vec<TensorMap>) {
        let results: Vec<(StepLoss, TensorMap)> = thread::scope(|scope| {
            let (forward, loss) = (&forward, &loss);
            let handles: Vec<_> = self
                .replicas
                .iter_mut()
                .zip(shards)
                .map(|(replica, shard)| {
                    scope.spawn(move || {
                        let mut step = replica.begin_step();
                        let part = forward(&mut step, shard);
                        (step, part)
                    })
                })
                .collect();
            let (steps, parts): (Vec<_>, Vec<P>) =
                handles.into_iter().map(|h| h.join().expect("a replica's forward pass")).unzip();
            let handles: Vec<_> = steps
                .into_iter()
                .enumerate()
                .map(|(k, step)| {
                    let global = gather(&parts, k);
                    scope.spawn(move || {
                        let (total, value) = loss(&global);
                        (value, step.gradients(total))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a replica's backward pass")).collect()
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

/// [`gathered`] for SSL-align's views: each view's tensors joined over the replicas.
fn gathered_views(parts: &[AlignViews], k: usize) -> AlignViews {
    let device = parts[k].images[0].device().inner();
    let join4 = |pick: &dyn Fn(&AlignViews) -> Tensor<4>| joined(parts.iter().map(pick).collect(), k, &device);
    let join2 = |pick: &dyn Fn(&AlignViews) -> Tensor<2>| joined(parts.iter().map(pick).collect(), k, &device);
    const ALL: &str = "every replica projects (or none does)";
    AlignViews {
        images: std::array::from_fn(|v| join4(&|p| p.images[v].clone())),
        audios: std::array::from_fn(|v| join2(&|p| p.audios[v].clone())),
        projections: parts[k].projections.as_ref().map(|_| {
            (
                std::array::from_fn(|v| join2(&|p| p.projections.as_ref().expect(ALL).0[v].clone())),
                std::array::from_fn(|v| join2(&|p| p.projections.as_ref().expect(ALL).1[v].clone())),
            )
        }),
    }
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
