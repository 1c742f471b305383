//! Object guidance (OGL, docs/method.md §5 and §7 item 15): an ImageNet ResNet-18 that never saw
//! audio; its object-saliency map is the mean over channels of |layer4 features|.

use std::path::Path;

use burn::tensor::{Device, Tensor};

use crate::arch::{RESNET18_WIDTH, TrunkSpec};
use crate::checkpoint::{CheckpointError, read_torchvision_resnet18};
use crate::kernels::Kernels;
use crate::resnet::ResNet18;
use crate::weights::{ModelError, Weights};

pub struct ObjectSaliency {
    trunk: ResNet18,
}

/// torchvision's ResNet-18 file (`resnet18-*.pth`) as a trunk (conv1 … layer4) on
/// `device`: the object network's, and an image encoder for neighbour mining.
pub fn torchvision_trunk(path: &Path, device: &Device) -> Result<ResNet18, CheckpointError> {
    let mut weights = read_torchvision_resnet18(path)?;
    trunk_of(&mut weights, device, Kernels::for_device(device)).map_err(|e| CheckpointError::new(path, e.to_string()))
}

/// torchvision's names (`conv1.weight`, `layer1.0.…`) as a trunk; the classifier (`fc.*`),
/// which no map uses, is dropped.
fn trunk_of(w: &mut Weights, device: &Device, kernels: Kernels) -> Result<ResNet18, ModelError> {
    w.remove("fc.weight");
    w.remove("fc.bias");
    ResNet18::load(w, &TrunkSpec::resnet18("", 3, RESNET18_WIDTH), kernels, device)
}

impl ObjectSaliency {
    /// torchvision's ResNet-18 file as the object network on `device`.
    pub fn open(path: &Path, device: &Device) -> Result<ObjectSaliency, CheckpointError> {
        Ok(ObjectSaliency { trunk: torchvision_trunk(path, device)? })
    }

    /// torchvision's ResNet-18 weights, taken from `w`; the trunk runs on the kernels for
    /// `device`.
    pub fn load(w: &mut Weights, device: &Device) -> Result<ObjectSaliency, ModelError> {
        ObjectSaliency::load_with_kernels(w, device, Kernels::for_device(device))
    }

    /// As [`ObjectSaliency::load`], with the trunk's kernels chosen by the caller.
    pub fn load_with_kernels(w: &mut Weights, device: &Device, kernels: Kernels) -> Result<ObjectSaliency, ModelError> {
        Ok(ObjectSaliency { trunk: trunk_of(w, device, kernels)? })
    }

    /// `[B, 3, 224, 224]` → the object-saliency maps `[B, 7, 7]`.
    pub fn maps(&self, image: Tensor<4>) -> Tensor<3> {
        let m = self.trunk.forward(image).abs().mean_dim(1);
        let [b, _, h, w] = m.dims();
        m.reshape([b, h, w])
    }
}
