//! The host tensor type of the kernels: one NCHW float32 activation in host memory.

/// An NCHW float32 activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}
