//! Object guidance (OGL, docs/method.md §5 and §7 item 15): an ImageNet ResNet-18 that never saw
//! audio; its object-saliency map is the mean over channels of |layer4 features|.

use burn::tensor::{Device, Tensor};

use crate::arch::{RESNET18_WIDTH, TrunkSpec};
use crate::kernels::Kernels;
use crate::resnet::ResNet18;
use crate::weights::{ModelError, Weights};

pub struct ObjectSaliency {
    trunk: ResNet18,
}

impl ObjectSaliency {
    /// Loads torchvision's ResNet-18 names (`conv1.weight`, `layer1.0.…`); the classifier
    /// (`fc.*`), which the map does not use, is dropped.
    /// The trunk runs on the kernels for `device`.
    pub fn load(w: &mut Weights, device: &Device) -> Result<ObjectSaliency, ModelError> {
        ObjectSaliency::load_with_kernels(w, device, Kernels::for_device(device))
    }

    /// As [`ObjectSaliency::load`], with the trunk's kernels chosen by the caller.
    pub fn load_with_kernels(w: &mut Weights, device: &Device, kernels: Kernels) -> Result<ObjectSaliency, ModelError> {
        w.remove("fc.weight");
        w.remove("fc.bias");
        let spec = TrunkSpec::resnet18("", 3, RESNET18_WIDTH);
        Ok(ObjectSaliency { trunk: ResNet18::load(w, &spec, kernels, device)? })
    }

    /// `[B, 3, 224, 224]` → the object-saliency maps `[B, 7, 7]`.
    pub fn maps(&self, image: Tensor<4>) -> Tensor<3> {
        let m = self.trunk.forward(image).abs().mean_dim(1);
        let [b, _, h, w] = m.dims();
        m.reshape([b, h, w])
    }
}
