#!/usr/bin/env python3
"""Golden outputs of the authors' SLAVC network (PyTorch + torchvision), for avsl-model and avsl-train.

The network is built exactly as the authors' model.py builds it (torchvision resnet18
trunks, 1-channel audio conv1, adaptive max pool, 1x1-conv and linear heads, momentum
copies), so the parameter names are theirs. Its weights are not random: every tensor is
filled by an integer formula (`formula_values`, mirrored in avsl-model/src/formula.rs), so
no checkpoint needs to be stored, only the names and shapes and the outputs.

    ~/.venvs/avsl-ref/bin/pip install numpy torch torchvision
    ~/.venvs/avsl-ref/bin/python tools/make_model_fixtures.py
    # check that torch reads the .pth avsl writes (the test leaves it in target/):
    ~/.venvs/avsl-ref/bin/python tools/make_model_fixtures.py --check-pth target/avsl-written.pth
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
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


def resnet_trunk(audio):
    net = resnet18()
    if audio:
        net.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
        net.avgpool = nn.AdaptiveMaxPool2d((1, 1))
    else:
        net.avgpool = nn.Identity()
    net.fc = nn.Identity()
    return net


def build_model(dim, heads, momentum):
    """The authors' module layout (docs/method.md section 2-4): SLAVC has heads "1", "2" and
    momentum_ copies of every encoder and head; EZ-VSL one head "" and no copies."""
    model = nn.Module()
    for prefix in ["", "momentum_"] if momentum else [""]:
        setattr(model, prefix + "imgnet", resnet_trunk(audio=False))
        for h in heads:
            setattr(model, f"{prefix}img_proj{h}", nn.Conv2d(512, dim, kernel_size=(1, 1)))
        setattr(model, prefix + "audnet", resnet_trunk(audio=True))
        for h in heads:
            setattr(model, f"{prefix}aud_proj{h}", nn.Linear(512, dim))
    return model


def fill_with_formula(model, first_index):
    """Every float tensor from formula_values; returns [index, name, shape] of each."""
    names = []
    with torch.no_grad():
        for k, (name, tensor) in enumerate(model.state_dict().items()):
            if name.endswith("num_batches_tracked"):
                continue
            index = first_index + k
            tensor.copy_(torch.from_numpy(formula_values(index, name, list(tensor.shape))))
            names.append([index, name, list(tensor.shape)])
    return names


def embeddings(model, prefix, heads, image, audio, reduction=32):
    """`reduction`: the image trunk's stride (16 without the stem's max-pool)."""
    r = reduction
    h, w = (image.shape[2] + r - 1) // r, (image.shape[3] + r - 1) // r
    feat = getattr(model, prefix + "imgnet")(image).unflatten(1, (512, h, w))
    aud = getattr(model, prefix + "audnet")(audio)
    v = [nn.functional.normalize(getattr(model, f"{prefix}img_proj{h}")(feat), dim=1) for h in heads]
    a = [nn.functional.normalize(getattr(model, f"{prefix}aud_proj{h}")(aud), dim=1) for h in heads]
    return feat, aud, v, a


def paired_map(v, a, tau):
    maps = [torch.einsum("nchw,nc->nhw", vk, ak) / tau for vk, ak in zip(v, a)]
    return maps[0] if len(maps) == 1 else (maps[0] + maps[1]) / 2


def slavc_loss(v, a, vt, at, tau):
    """docs/method.md section 3: i2a with online image and target audio, a2i the other way."""
    def direction(img, aud):
        s1 = torch.einsum("nchw,mc->nmhw", img[0], aud[0]).flatten(-2, -1) / tau
        s2 = torch.einsum("nchw,mc->nmhw", img[1], aud[1]).flatten(-2, -1) / tau
        return torch.log((F.softmax(s1, dim=1) * F.softmax(s2, dim=2)).sum(2))
    labels = torch.arange(v[0].shape[0])
    return F.cross_entropy(direction(vt, a), labels) + F.cross_entropy(direction(v, at), labels)


def ezvsl_loss(v, a, tau):
    logits = (torch.einsum("nchw,mc->nmhw", v, a) / tau).flatten(-2, -1).max(dim=-1)[0]
    labels = torch.arange(v.shape[0])
    return F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    dim, tau, batch = 64, 0.03, 3
    image = torch.from_numpy(formula_values(9001, "input.image", [batch, 3, 224, 224]) * 8.0)
    audio = torch.from_numpy(formula_values(9002, "input.audio", [batch, 1, 257, 200]) * 8.0)

    slavc = build_model(dim, ["1", "2"], momentum=True).eval()
    names = fill_with_formula(slavc, 0)
    # The key list of the authors' checkpoint, in state-dict order (496 at d = 512).
    keys = ["module." + k for k in slavc.state_dict().keys()]
    outputs = {}
    with torch.no_grad():
        feat, aud, v, a = embeddings(slavc, "", ["1", "2"], image, audio)
        _, _, vt, at = embeddings(slavc, "momentum_", ["1", "2"], image, audio)
        outputs["slavc_maps_online"] = paired_map(v, a, tau)
        outputs["slavc_maps_momentum"] = paired_map(vt, at, tau)
        slavc_loss_value = slavc_loss(v, a, vt, at, tau).item()

    ezvsl = build_model(dim, [""], momentum=False).eval()
    ez_names = fill_with_formula(ezvsl, 3000)
    with torch.no_grad():
        _, _, ev, ea = embeddings(ezvsl, "", [""], image, audio)
        outputs["ezvsl_maps"] = paired_map(ev, ea, tau)
        ezvsl_loss_value = ezvsl_loss(ev[0], ea[0], tau).item()

    # The object-saliency network: a plain torchvision resnet18 (fc kept in the state dict,
    # unused), the authors' head: mean over channels of |layer4|.
    ogl = resnet18().eval()
    ogl_names = fill_with_formula(ogl, 5000)
    with torch.no_grad():
        ogl.avgpool = nn.Identity()
        ogl.fc = nn.Identity()
        outputs["object_maps"] = ogl(image).unflatten(1, (512, 7, 7)).abs().mean(1)
    with open(os.path.join(OUT, "ogl_tensors.json"), "w") as f:
        json.dump(dict(tensors=ogl_names), f)
    outputs["image_features"] = feat[:, :8]
    outputs["audio_features"] = aud
    for name, t in outputs.items():
        np.save(os.path.join(OUT, name + ".npy"), t.numpy().astype(np.float32))
    with open(os.path.join(OUT, "slavc_tensors.json"), "w") as f:
        json.dump(dict(dim=dim, tau=tau, batch=batch, tensors=names, checkpoint_keys=keys,
                       loss=slavc_loss_value, torch=torch.__version__), f)
    with open(os.path.join(OUT, "ezvsl_tensors.json"), "w") as f:
        json.dump(dict(dim=dim, tau=tau, tensors=ez_names, loss=ezvsl_loss_value), f)


def check_written_pth(path):
    """Loads a .pth that avsl wrote (`cargo test ... -- --ignored writes_pth_for_torch`
    leaves one) with torch's safe loader and compares it with the formula weights."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(64, ["1", "2"], momentum=True)
    fill_with_formula(model, 0)
    state = {k.replace("module.", ""): v for k, v in ckpt["model"].items()}
    model.load_state_dict(state, strict=True)
    for name, t in build_reference_state().items():
        assert torch.equal(state[name], t), name
    print(f"{path}: {len(ckpt['model'])} keys, torch.load(weights_only=True) and strict load_state_dict accept it")


def build_reference_state():
    model = build_model(64, ["1", "2"], momentum=True)
    fill_with_formula(model, 0)
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


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


class RunsCode:
    """Unpickles as a call of os.system (a harmless `true`): what a checkpoint must never be."""

    def __reduce__(self):
        return (os.system, ("true",))


def save_hostile_checkpoints():
    """`.pth` files for the pickle check: one with data the authors' checkpoints may carry
    besides tensors (a numpy float, an argparse.Namespace), which must load; two (zip and
    legacy format) whose pickle calls os.system, which must be refused by name."""
    import argparse

    tensor = {"module.img_proj1.bias": torch.arange(4, dtype=torch.float32)}
    extras = {"model": tensor, "best_AP": np.float64(0.25), "args": argparse.Namespace(lr=1e-4, epochs=20)}
    torch.save(extras, os.path.join(OUT, "with_numpy_and_args.pth"))
    hostile = {"model": tensor, "payload": RunsCode()}
    torch.save(hostile, os.path.join(OUT, "calls_os_system.pth"))
    torch.save(hostile, os.path.join(OUT, "calls_os_system_legacy.pth"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-pth":
        check_written_pth(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--hostile":
        save_hostile_checkpoints()
    else:
        save_small_checkpoint()
        save_hostile_checkpoints()
        main()
