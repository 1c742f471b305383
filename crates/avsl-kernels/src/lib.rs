//! The CPU kernels under avsl's ResNet-18 trunks, with no tensor library: an NCHW
//! [`Activation`] in host memory, matrix products through `gemm`, convolution by im2col or
//! Winograd's F(2×2, 3×3), the training-mode operations (convolution backward, BatchNorm
//! with batch statistics, max-pool with argmax) and the SIMD helpers they share. Why these
//! exist beside burn, and what they measure, is in `docs/speed.md`.

pub mod activation;
pub mod conv;
pub mod matmul;
mod scratch;
pub mod simd;
#[cfg(test)]
mod testing;
pub mod train_ops;
pub mod winograd;

pub use activation::Activation;
