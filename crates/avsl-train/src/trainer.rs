//! One optimisation step of SLAVC, EZ-VSL or SSL-align, in the authors' order (docs/method.md
//! §3): online features (visual dropout), momentum update, target features (own dropout
//! mask, no gradient), the loss, its gradients, Adam. The step runs on one of two
//! engines (see `avsl_model::kernels`): our CPU kernels with the model on the host, or
//! burn's operations with the whole model on the device (a GPU).

use crate::adam::Adam;
use crate::data_parallel::DataParallel;
use crate::device_train::DeviceTrainState;
use crate::trainable::{Batch, Masks, StepLoss, Supervision, TrainState};
use avsl_model::kernels::Kernels;
use avsl_model::{Architecture, Weights};
use burn::tensor::{Device, Tensor};

use crate::config::TrainConfig;
use crate::dropout::{Stream, mask};
use crate::error::TrainError;

enum Engine {
    Host {
        state: TrainState,
        adam: Adam,
    },
    Device(DeviceTrainState),
    /// One replica per device, each its shard of the batch (see `data_parallel`).
    Replicas(DataParallel),
}

pub struct Trainer {
    pub config: TrainConfig,
    engine: Engine,
    /// The autodiff device the steps run on.
    device: Device,
    /// Optimisation steps taken so far (also the dropout masks' counter).
    pub step: u64,
}

/// Adam's state as a checkpoint holds it: steps taken, first and second moments by
/// parameter name.
pub struct AdamMoments {
    pub step: u64,
    pub exp_avg: Weights,
    pub exp_avg_sq: Weights,
}

impl Trainer {
    /// A trainer from complete weights (initialised or read from a checkpoint) on an
    /// autodiff device, with the kernels for that device.
    pub fn new(weights: &Weights, config: TrainConfig, device: &Device) -> Trainer {
        Trainer::with_kernels(weights, config, device, Kernels::for_device(device))
    }

    /// As [`Trainer::new`], with the trunks' kernels chosen by the caller.
    pub fn with_kernels(weights: &Weights, config: TrainConfig, device: &Device, kernels: Kernels) -> Trainer {
        let engine = match kernels {
            Kernels::Host => {
                let mut state = TrainState::new(weights, config.model_config(), device);
                state.alignment_loss = config.alignment_loss;
                Engine::Host { state, adam: Adam::new(config.lr) }
            }
            Kernels::Device => {
                let mut state = DeviceTrainState::new(weights, config.model_config(), device, config.lr);
                state.alignment_loss = config.alignment_loss;
                Engine::Device(state)
            }
        };
        Trainer { config, engine, device: device.clone(), step: 0 }
    }

    /// A trainer on `devices` (autodiff devices): on one, as [`Trainer::new`]; on several,
    /// data-parallel with the device kernels.
    pub fn on_devices(weights: &Weights, config: TrainConfig, devices: &[Device]) -> Result<Trainer, TrainError> {
        match devices {
            [] => Err(TrainError::Options("no device to train on".to_string())),
            [device] => Ok(Trainer::new(weights, config, device)),
            _ => {
                let mut replicas = DataParallel::new(weights, config.model_config(), devices, config.lr);
                for replica in replicas.replicas_mut() {
                    replica.alignment_loss = config.alignment_loss;
                }
                Ok(Trainer { config, engine: Engine::Replicas(replicas), device: devices[0].clone(), step: 0 })
            }
        }
    }

    /// The learning rate of the next steps (a schedule sets it before each step).
    pub fn set_learning_rate(&mut self, lr: f64) {
        match &mut self.engine {
            Engine::Host { adam, .. } => adam.lr = lr,
            Engine::Device(state) => state.adam.lr = lr,
            Engine::Replicas(replicas) => replicas.replicas_mut().iter_mut().for_each(|r| r.adam.lr = lr),
        }
    }

    /// The device without autodiff, where validation and feature extraction run.
    pub fn inference_device(&self) -> Device {
        self.device.clone().inner()
    }

    fn image_mask(&self, stream: Stream, features: [usize; 4]) -> Option<Tensor<4>> {
        let p = self.config.dropout_image;
        (p > 0.0).then(|| mask(self.config.seed, self.step, stream, p, features, &self.device))
    }

    /// One step on a batch of normalised images `[B, 3, H, W]` and spectrograms
    /// `[B, 1, 257, T]` (with ground-truth maps for its supervised samples, if any);
    /// returns the loss before the update.
    pub fn train_step(&mut self, batch: Batch, supervision: Option<&Supervision>) -> StepLoss {
        let images = &batch.images;
        let model = self.config.model_config();
        let (rows, cols) = model.trunk("imgnet.", 3).feature_grid(images.h, images.w);
        let features = [images.n, model.features(), rows, cols];
        let masks = Masks {
            online: self.image_mask(Stream::OnlineImage, features),
            target: match self.config.model {
                Architecture::Slavc => self.image_mask(Stream::TargetImage, features),
                Architecture::Ezvsl | Architecture::SslAlign => None,
            },
        };
        let momentum = (self.config.momentum_image, self.config.momentum_audio);
        let loss = match &mut self.engine {
            Engine::Host { state, adam } => {
                let (loss, grads) = state.loss_and_gradients(batch, masks, momentum, supervision);
                adam.step(&mut state.params, &grads);
                loss
            }
            Engine::Device(state) => {
                let (loss, grads) = state.loss_and_gradients(batch, masks, momentum, supervision);
                state.apply(grads);
                loss
            }
            Engine::Replicas(replicas) => replicas.step(batch, masks, momentum, supervision),
        };
        self.step += 1;
        loss
    }

    /// Every tensor of the model under the authors' names, on the host.
    pub fn weights(&self) -> Weights {
        match &self.engine {
            Engine::Host { state, .. } => state.to_weights(),
            Engine::Device(state) => state.to_weights(),
            Engine::Replicas(replicas) => replicas.to_weights(),
        }
    }

    /// Names of the parameters the optimiser updates.
    pub fn trainable(&self) -> Vec<String> {
        match &self.engine {
            Engine::Host { state, .. } => state.trainable(),
            Engine::Device(state) => state.trainable(),
            Engine::Replicas(replicas) => replicas.first().trainable(),
        }
    }

    /// Adam's state on the host.
    pub fn adam_moments(&self) -> AdamMoments {
        match &self.engine {
            Engine::Host { adam, .. } => AdamMoments {
                step: adam.step,
                exp_avg: adam.exp_avg.deep_copy(),
                exp_avg_sq: adam.exp_avg_sq.deep_copy(),
            },
            Engine::Device(state) => {
                let (step, exp_avg, exp_avg_sq) = state.adam_moments();
                AdamMoments { step, exp_avg, exp_avg_sq }
            }
            Engine::Replicas(replicas) => {
                let (step, exp_avg, exp_avg_sq) = replicas.first().adam_moments();
                AdamMoments { step, exp_avg, exp_avg_sq }
            }
        }
    }

    /// Continues from a checkpoint's Adam state.
    pub fn restore_adam(&mut self, moments: AdamMoments) {
        match &mut self.engine {
            Engine::Host { adam, .. } => {
                adam.step = moments.step;
                adam.exp_avg = moments.exp_avg;
                adam.exp_avg_sq = moments.exp_avg_sq;
            }
            Engine::Device(state) => state.restore_adam(moments.step, &moments.exp_avg, &moments.exp_avg_sq),
            Engine::Replicas(replicas) => {
                for state in replicas.replicas_mut() {
                    state.restore_adam(moments.step, &moments.exp_avg, &moments.exp_avg_sq);
                }
            }
        }
    }
}
