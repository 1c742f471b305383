//! The networks of avsl on burn tensors (METHOD.md §2–3), with the authors' parameter
//! names so their checkpoints load by name.
//!
//! So far: the eval-mode forward pass of SLAVC (image and audio ResNet-18 trunks, the two
//! projection heads per modality, the localisation map), checked against PyTorch.
//! Training, momentum encoders, checkpoint files, EZ-VSL and the object-guidance network
//! come with issue #6.

pub mod checkpoint;
pub mod ogl;
pub mod resnet;
pub mod slavc;
pub mod weights;

pub use slavc::Slavc;
pub use weights::{ModelError, NamedTensor, Weights};
