#!/usr/bin/env python3
"""Golden values of one SLAVC training step (docs/method.md section 3) in PyTorch, for the
training code of avsl-train (crates/avsl-train/tests/train_fixture.rs).

The network is the authors' layout (make_model_fixtures.build_model) at d = 16 with the
formula weights (online and momentum copies differ: each tensor's formula index is its
state-dict position). One step in the authors' order, in train mode (BatchNorm batch
statistics, running statistics updated), visual dropout off (p = 0, so the step is
deterministic): online features, momentum update (m = 0.99 here, so the change is
visible), target features, the loss, its gradients, one Adam step (lr 1e-3).
`slavc_step_no_pool.json` is the same step with both image trunks' stem max-pool
removed (`image_stem_pool = false`) on 32×32 frames, which still give a 2×2 map.

    ~/.venvs/avsl-ref/bin/python tools/make_train_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import (  # noqa: E402
    build_model, embeddings, fill_with_formula, formula_values, paired_map, slavc_loss)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "train")
DIM, TAU, M, LR, BATCH = 16, 0.03, 0.99, 1e-3, 3
IMAGE, AUDIO = [BATCH, 3, 64, 64], [BATCH, 1, 257, 40]
WATCHED = ["img_proj1.weight", "img_proj2.bias", "aud_proj2.weight", "aud_proj1.bias", "imgnet.bn1.weight",
           "imgnet.conv1.weight", "audnet.conv1.weight", "imgnet.layer4.1.conv2.weight",
           "audnet.layer3.0.downsample.1.bias", "imgnet.layer1.0.conv1.weight", "imgnet.layer2.0.conv1.weight",
           "imgnet.layer3.0.conv1.weight", "imgnet.layer4.0.conv1.weight", "imgnet.layer4.0.bn1.weight",
           "imgnet.layer3.1.bn2.weight", "imgnet.layer2.1.bn2.weight", "imgnet.layer1.1.bn2.weight"]
BUFFERS = ["imgnet.bn1.running_mean", "imgnet.bn1.running_var", "momentum_audnet.layer4.1.bn2.running_var",
           "momentum_imgnet.layer2.0.downsample.1.running_mean"]
MOMENTUM = ["momentum_img_proj1.weight", "momentum_audnet.conv1.weight", "momentum_imgnet.bn1.bias"]


def summary(t):
    """First 256 values (row-major), the sum and the sum of |x|: enough to compare."""
    flat = t.detach().reshape(-1).double()
    return {"shape": list(t.shape), "head": flat[:256].tolist(), "sum": flat.sum().item(), "abs_sum": flat.abs().sum().item()}


def momentum_update(model, m):
    """theta_m <- m * theta_m + (1 - m) * theta for every momentum_ parameter."""
    with torch.no_grad():
        params = dict(model.named_parameters())
        for n, p in params.items():
            if n.startswith("momentum_"):
                p.data = p.data * m + params[n[len("momentum_"):]].data * (1.0 - m)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    write_step("slavc_step.json", IMAGE, stem_pool=True)
    write_step("slavc_step_no_pool.json", [BATCH, 3, 32, 32], stem_pool=False)


def write_step(name, image_shape, stem_pool):
    model = build_model(DIM, ["1", "2"], momentum=True)
    if not stem_pool:
        model.imgnet.maxpool = torch.nn.Identity()
        model.momentum_imgnet.maxpool = torch.nn.Identity()
    reduction = 32 if stem_pool else 16
    names = fill_with_formula(model, 0)
    image = torch.from_numpy(formula_values(9001, "input.image", image_shape) * 8.0)
    audio = torch.from_numpy(formula_values(9002, "input.audio", AUDIO) * 8.0)
    inference = None
    if not stem_pool:
        # The maps of the online encoders in eval mode (running statistics), before the step.
        model.eval()
        with torch.no_grad():
            _, _, v, a = embeddings(model, "", ["1", "2"], image, audio, reduction)
            inference = {"maps": summary(paired_map(v, a, TAU))}
    model.train()
    online = {n: p for n, p in model.named_parameters() if not n.startswith("momentum_")}
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("momentum_"))

    _, _, v, a = embeddings(model, "", ["1", "2"], image, audio, reduction)
    momentum_update(model, M)
    with torch.no_grad():
        _, _, vt, at = embeddings(model, "momentum_", ["1", "2"], image, audio, reduction)
    loss = slavc_loss(v, a, vt, at, TAU)
    loss.backward()
    grads = {n: summary(online[n].grad) for n in WATCHED}
    opt = torch.optim.Adam(list(online.values()), lr=LR)
    opt.step()
    state = model.state_dict()
    out = {
        "dim": DIM, "tau": TAU, "momentum": M, "lr": LR, "image": image_shape, "audio": AUDIO,
        "image_stem_pool": stem_pool,
        **({"inference": inference} if inference else {}),
        "tensors": names, "loss": loss.item(), "grads": grads,
        "after_step": {n: summary(state[n]) for n in WATCHED},
        "buffers": {n: summary(state[n]) for n in BUFFERS},
        "momentum_params": {n: summary(state[n]) for n in MOMENTUM},
        "torch": torch.__version__,
    }
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(out, f)
    print(f"{name}: loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
