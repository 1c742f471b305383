//! The networks of avsl on burn tensors (docs/method.md §2–5), with the authors' parameter
//! names so their checkpoints load by name: the image and audio ResNet-18 trunks, SLAVC's
//! and EZ-VSL's projection heads and maps ([`Encoders`]), the object-saliency
//! network of OGL, and checkpoint files in the authors' `.pth` and our safetensors format.

pub mod arch;
pub mod checkpoint;
pub mod device;
pub mod embedding;
pub mod encoders;
pub mod formula;
pub mod kernels;
#[cfg(feature = "cuda")]
mod llvm_absent;
pub mod ogl;
pub mod pickle_scan;
pub mod pth_writer;
pub mod resnet;
pub mod weights;

pub use arch::{Architecture, EncoderSet, ModelConfig};
pub use encoders::Encoders;
pub use weights::{ModelError, NamedTensor, Weights};
