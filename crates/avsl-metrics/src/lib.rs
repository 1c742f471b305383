//! Exact sound-source-localisation metrics in the authors' protocol (METHOD.md §6–7).
//!
//! Pure Rust, no deep-learning dependency, so any model's maps can be scored the same way.

pub mod gt;

pub use gt::{BoxFormat, GtMap, MAP_SIZE, PixelBox};
