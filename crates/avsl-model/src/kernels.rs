//! Which kernels run the ResNet-18 trunks. On burn's pure-Rust CPU backend our own CPU
//! kernels (`avsl_kernels`; in training, avsl-train's `trunk_train`) are faster than
//! burn's convolutions (figures in `docs/speed.md`); on any other device (a GPU) the
//! trunks must stay on that device, so they run as burn operations there (inference:
//! `resnet.rs`; training: avsl-train's `device_trunk`).

use burn::tensor::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// Our CPU kernels; tensors move to host memory for the trunks.
    Host,
    /// burn's operations on the tensors' own device.
    Device,
}

impl Kernels {
    /// Host kernels for the CPU backend (plain or with autodiff), device operations
    /// elsewhere.
    pub fn for_device(device: &Device) -> Kernels {
        if device.clone().inner() == Device::flex() { Kernels::Host } else { Kernels::Device }
    }

    /// `host` or `device`, as `--kernels` names them.
    pub fn parse(name: &str) -> Option<Kernels> {
        match name {
            "host" => Some(Kernels::Host),
            "device" | "burn" => Some(Kernels::Device),
            _ => None,
        }
    }
}
