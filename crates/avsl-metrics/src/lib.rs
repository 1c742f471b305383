//! Exact sound-source-localisation metrics in the authors' protocol (docs/method.md §6–7).
//!
//! Pure Rust, no deep-learning dependency, so any model's maps can be scored the same way.

pub mod calibration;
pub mod evaluate;
pub mod gt;
pub mod interactive;
pub mod numeric;
pub mod pyfmt;
pub mod report;
pub mod retrieval;
pub mod score;
pub mod scoring;
pub mod segmentation;
pub mod upsample;

pub use gt::{BoxFormat, GtMap, MAP_SIZE, PixelBox};
pub use score::{MapKind, Prediction, SampleResult};
