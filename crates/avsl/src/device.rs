//! `--device`: which burn backend runs the model.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// `cpu` (or `flex`): burn's pure-Rust CPU backend, the one this build has.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        other => bail!("--device {other}: this build of avsl has the CPU backend only (--device cpu)"),
    }
}
