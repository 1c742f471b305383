//! One optimisation step of SLAVC or EZ-VSL, in the authors' order (METHOD §3): online
//! features (visual dropout), momentum update, target features (own dropout mask, no
//! gradient), the loss, its gradients, Adam.

use avsl_model::adam::Adam;
use avsl_model::trainable::{Batch, Masks, StepLoss, Supervision, TrainState};
use avsl_model::{Architecture, Weights};
use burn::tensor::{Device, Tensor};

use crate::config::TrainConfig;
use crate::dropout::{Stream, mask};

pub struct Trainer {
    pub config: TrainConfig,
    pub state: TrainState,
    pub adam: Adam,
    /// Optimisation steps taken so far (also the dropout masks' counter).
    pub step: u64,
}

impl Trainer {
    /// A trainer from complete weights (initialised or read from a checkpoint) on an
    /// autodiff device.
    pub fn new(weights: &Weights, config: TrainConfig, device: &Device) -> Trainer {
        let mut state = TrainState::new(weights, config.model_config(), device);
        state.alignment_loss = config.alignment_loss;
        let adam = Adam::new(config.lr);
        Trainer { config, state, adam, step: 0 }
    }

    fn image_mask(&self, stream: Stream, features: [usize; 4]) -> Option<Tensor<4>> {
        let p = self.config.dropout_image;
        (p > 0.0).then(|| mask(self.config.seed, self.step, stream, p, features, &self.state.device))
    }

    /// One step on a batch of normalised images `[B, 3, H, W]` and spectrograms
    /// `[B, 1, 257, T]` (with ground-truth maps for its supervised samples, if any);
    /// returns the loss before the update.
    pub fn train_step(&mut self, batch: Batch, supervision: Option<&Supervision>) -> StepLoss {
        let images = &batch.images;
        let (rows, cols) = self.state.config.trunk("imgnet.", 3).feature_grid(images.h, images.w);
        let features = [images.n, self.state.config.features(), rows, cols];
        let masks = Masks {
            online: self.image_mask(Stream::OnlineImage, features),
            target: match self.config.model {
                Architecture::Slavc => self.image_mask(Stream::TargetImage, features),
                Architecture::Ezvsl | Architecture::SslAlign => None,
            },
        };
        let momentum = (self.config.momentum_image, self.config.momentum_audio);
        let (loss, grads) = self.state.loss_and_gradients(batch, masks, momentum, supervision);
        self.adam.step(&mut self.state.params, &grads);
        self.step += 1;
        loss
    }
}
