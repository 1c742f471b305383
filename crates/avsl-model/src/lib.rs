//! The networks of avsl on burn tensors (METHOD.md §2–5), with the authors' parameter
//! names so their checkpoints load by name: the image and audio ResNet-18 trunks, SLAVC's
//! and EZ-VSL's projection heads and maps ([`Encoders`]), their losses, the object-saliency
//! network of OGL, and checkpoint files in the authors' `.pth` and our safetensors format.

pub mod adam;
pub mod arch;
pub mod checkpoint;
pub mod data_parallel;
pub mod device_train;
pub mod device_trunk;
pub mod embedding;
pub mod encoders;
pub mod formula;
pub mod host_conv;
pub mod host_train;
pub mod kernels;
#[cfg(feature = "cuda")]
mod llvm_absent;
pub mod loss;
pub mod neighbour_file;
pub mod neighbours;
pub mod ogl;
pub mod pickle_scan;
pub mod pth_writer;
pub mod resnet;
pub mod simd;
pub mod step_graph;
pub mod test_pass;
pub mod trainable;
pub mod trunk_train;
pub mod weights;
pub mod winograd;

pub use arch::{Architecture, EncoderSet, ModelConfig};
pub use encoders::Encoders;
pub use weights::{ModelError, NamedTensor, Weights};
