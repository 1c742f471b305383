//! Evaluation in one place: the test pass (every frame and clip of a list embedded once,
//! every pair's map from them), models opened for evaluation, the scoring rules of each
//! architecture, the result files of a scored list, the map-folder format that
//! `eval-maps` reads and `eval --save-maps` writes, and the [`localizer::Localizer`].
//! The metrics themselves are `avsl-metrics`'; the protocol is `docs/method.md` §5–7.

pub mod checkpoint_eval;
pub mod compose;
pub mod error;
pub mod localizer;
pub mod map_folder;
pub mod maps_eval;
pub mod multi_source;
pub mod negative_audio;
pub mod results;
pub mod scoring;
pub mod test_pass;

pub use error::EvalError;
