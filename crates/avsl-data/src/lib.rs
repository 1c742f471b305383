//! Data for avsl: the authors' dataset layouts, the exact preprocessing of their pipeline
//! (docs/method.md §1, §7 items 1–11), the synthetic benchmark and a prefetching loader.
//!
//! Nothing here prints or exits; every error names the file it is about.

pub mod annotations;
pub mod audio;
pub mod check;
pub mod class_batches;
pub mod embedded_lists;
pub mod error;
pub mod exercise;
pub mod fingerprint;
pub mod float_resize;
pub mod frame_cache;
pub mod fsutil;
pub mod image_io;
pub mod lists;
pub mod loader;
pub mod lock;
pub mod npy;
pub mod output;
pub mod prefetch;
pub mod prepare;
pub mod preprocess;
pub mod report;
pub mod resize;
pub mod segments;
pub mod simclr;
pub mod source_sets;
pub mod spectrogram;
pub mod synth;
pub mod testset;
pub mod transform;
pub mod video;
pub mod wav;

pub use error::{DataError, Result};
