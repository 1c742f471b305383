//! One optimisation step of SLAVC or EZ-VSL, in the authors' order (METHOD §3): online
//! features (visual dropout), momentum update, target features (own dropout mask, no
//! gradient), the loss, its gradients, Adam.

use avsl_model::adam::Adam;
use avsl_model::loss::{ezvsl_loss, slavc_loss};
use avsl_model::trainable::TrainState;
use avsl_model::{Architecture, EncoderSet, Weights};
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
        let state = TrainState::new(weights, config.model_config(), device);
        let adam = Adam::new(config.lr);
        Trainer { config, state, adam, step: 0 }
    }

    fn image_mask(&self, stream: Stream, features: [usize; 4]) -> Option<Tensor<4>> {
        let p = self.config.dropout_image;
        (p > 0.0).then(|| mask(self.config.seed, self.step, stream, p, features, &self.state.device))
    }

    /// One step on a batch of normalised images `[B, 3, H, W]` and spectrograms
    /// `[B, 1, 257, T]`; returns the loss before the update.
    pub fn train_step(&mut self, images: Tensor<4>, spectrograms: Tensor<4>) -> f64 {
        let [b, _, h, w] = images.dims();
        let features = [b, avsl_model::resnet::FEATURES, h.div_ceil(32), w.div_ceil(32)];
        let tau = self.config.tau;
        let online_mask = self.image_mask(Stream::OnlineImage, features);
        let v = self.state.image_embeddings(EncoderSet::Online, images.clone(), online_mask, true);
        let a = self.state.audio_embeddings(EncoderSet::Online, spectrograms.clone(), true);
        let loss = match self.config.model {
            Architecture::Slavc => {
                self.state.momentum_update(self.config.momentum_image, self.config.momentum_audio);
                let target_mask = self.image_mask(Stream::TargetImage, features);
                let vt: Vec<Tensor<4>> = self
                    .state
                    .image_embeddings(EncoderSet::Momentum, images, target_mask, true)
                    .into_iter()
                    .map(Tensor::detach)
                    .collect();
                let at: Vec<Tensor<2>> = self
                    .state
                    .audio_embeddings(EncoderSet::Momentum, spectrograms, true)
                    .into_iter()
                    .map(Tensor::detach)
                    .collect();
                slavc_loss([&v[0], &v[1]], [&a[0], &a[1]], [&vt[0], &vt[1]], [&at[0], &at[1]], tau)
            }
            Architecture::Ezvsl => ezvsl_loss(&v[0], &a[0], tau),
        };
        let grads = loss.backward();
        let value = loss.into_data().try_to_vec::<f32>().expect("float32 loss")[0] as f64;
        self.adam.step(&mut self.state, &grads);
        self.step += 1;
        value
    }
}
