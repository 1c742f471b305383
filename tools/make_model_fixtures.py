#!/usr/bin/env python3
"""Golden outputs of the authors' SLAVC network (PyTorch + torchvision), for avsl-model.

The network is built exactly as the authors' model.py builds it (torchvision resnet18
trunks, 1-channel audio conv1, adaptive max pool, 1x1-conv and linear heads, momentum
copies), so the parameter names are theirs. Its weights are not random: every tensor is
filled by an integer formula (`formula_values`, mirrored in crates/avsl-model/tests), so
no checkpoint needs to be stored, only the names and shapes and the outputs.

    ~/.venvs/avsl-ref/bin/pip install numpy torch torchvision
    ~/.venvs/avsl-ref/bin/python tools/make_model_fixtures.py
"""
import json
import os

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet18

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model")


def formula_values(index, name, shape):
    """Deterministic weights: an integer hash per element, scaled per kind of tensor."""
    n = int(np.prod(shape)) if shape else 1
    m32 = np.uint64((1 << 32) - 1)
    k = np.arange(n, dtype=np.uint64) + np.uint64(index * 1000003)
    h = (k * np.uint64(2654435761)) & m32
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m32
    h ^= h >> np.uint64(13)
    u = (h >> np.uint64(8)).astype(np.float64) / float(1 << 24)  # [0, 1), exact
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        v = 0.5 + u
    elif leaf in ("running_mean", "bias") or (leaf == "weight" and len(shape) == 1):
        v = (u - 0.5) * 0.2 + (1.0 if leaf == "weight" else 0.0)
    else:
        fan_in = int(np.prod(shape[1:]))
        v = (u - 0.5) * (2.0 * np.sqrt(3.0 / fan_in))
    return v.astype(np.float32).reshape(shape)


def build_slavc(dim):
    class SLAVC(nn.Module):
        def __init__(self):
            super().__init__()
            self.imgnet = resnet18()
            self.imgnet.avgpool = nn.Identity()
            self.imgnet.fc = nn.Identity()
            self.img_proj1 = nn.Conv2d(512, dim, kernel_size=(1, 1))
            self.img_proj2 = nn.Conv2d(512, dim, kernel_size=(1, 1))
            self.audnet = resnet18()
            self.audnet.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
            self.audnet.avgpool = nn.AdaptiveMaxPool2d((1, 1))
            self.audnet.fc = nn.Identity()
            self.aud_proj1 = nn.Linear(512, dim)
            self.aud_proj2 = nn.Linear(512, dim)

    return SLAVC()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    dim, tau = 64, 0.03
    model = build_slavc(dim).eval()
    state = model.state_dict()
    names = []
    with torch.no_grad():
        for index, (name, tensor) in enumerate(state.items()):
            if name.endswith("num_batches_tracked"):
                continue
            tensor.copy_(torch.from_numpy(formula_values(index, name, list(tensor.shape))))
            names.append([index, name, list(tensor.shape)])
        image = torch.from_numpy(formula_values(9001, "input.image", [2, 3, 224, 224]) * 8.0)
        audio = torch.from_numpy(formula_values(9002, "input.audio", [2, 1, 257, 200]) * 8.0)
        feat = model.imgnet(image).unflatten(1, (512, 7, 7))
        v1 = nn.functional.normalize(model.img_proj1(feat), dim=1)
        v2 = nn.functional.normalize(model.img_proj2(feat), dim=1)
        aud = model.audnet(audio)
        a1 = nn.functional.normalize(model.aud_proj1(aud), dim=1)
        a2 = nn.functional.normalize(model.aud_proj2(aud), dim=1)
        s = (torch.einsum("nchw,nc->nhw", v1, a1) / tau + torch.einsum("nchw,nc->nhw", v2, a2) / tau) / 2
    # The object-saliency network: a plain torchvision resnet18 (fc kept in the state dict,
    # unused), the authors' head: mean over channels of |layer4|.
    ogl = resnet18().eval()
    ogl_names = []
    with torch.no_grad():
        for index, (name, tensor) in enumerate(ogl.state_dict().items()):
            if name.endswith("num_batches_tracked"):
                continue
            tensor.copy_(torch.from_numpy(formula_values(5000 + index, name, list(tensor.shape))))
            ogl_names.append([5000 + index, name, list(tensor.shape)])
        ogl.avgpool = nn.Identity()
        ogl.fc = nn.Identity()
        obj = ogl(image).unflatten(1, (512, 7, 7)).abs().mean(1)
    np.save(os.path.join(OUT, "object_maps.npy"), obj.numpy().astype(np.float32))
    with open(os.path.join(OUT, "ogl_tensors.json"), "w") as f:
        json.dump(dict(tensors=ogl_names), f)
    np.save(os.path.join(OUT, "image_features.npy"), feat[:, :8].numpy().astype(np.float32))
    np.save(os.path.join(OUT, "audio_features.npy"), aud.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "maps.npy"), s.numpy().astype(np.float32))
    with open(os.path.join(OUT, "slavc_tensors.json"), "w") as f:
        json.dump(dict(dim=dim, tau=tau, tensors=names, torch=torch.__version__), f)


def save_small_checkpoint():
    """A checkpoint in the authors' format (`{'model': {'module.<name>': tensor}, …}`), small:
    a few tensors of the real layout, a strided (transposed) one, an int64 counter."""
    g = torch.Generator().manual_seed(5)
    model = {
        "module.img_proj1.bias": torch.randn(8, generator=g),
        "module.imgnet.bn1.running_var": torch.rand(4, generator=g) + 0.5,
        "module.imgnet.bn1.num_batches_tracked": torch.tensor(1234),
        "module.aud_proj1.weight": torch.randn(6, 3, generator=g).t(),  # non-contiguous view
        "module.momentum_imgnet.conv1.weight": torch.randn(2, 3, 2, 2, generator=g),
    }
    ckpt = {"model": model, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}, "epoch": 3, "best_cIoU": 0.5}
    torch.save(ckpt, os.path.join(OUT, "small_checkpoint.pth"))
    expected = {k[len("module."):]: dict(shape=list(v.shape), values=v.contiguous().flatten().tolist())
                for k, v in model.items() if v.is_floating_point()}
    with open(os.path.join(OUT, "small_checkpoint.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    save_small_checkpoint()
    main()
