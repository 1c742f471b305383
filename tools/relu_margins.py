#!/usr/bin/env python3
"""How close a batch puts the trunks' ReLUs to their decision (docs/gpu.md, "Data-parallel
on lavapipe"): for every ReLU of both ResNet-18 trunks in training mode, the smallest
|input| over the batch relative to the spread (standard deviation) of its channel, in
float64. A margin of a few 1e-6 is decided by float32 rounding, which differs between
correct implementations (PyTorch's CPU kernels, a GPU runtime's), and one flipped ReLU
moves its channel's weight gradient by percents.

For the data-parallel SLAVC fixture's network and each shard of its first step, over
first-input indices (tools/make_ddp_fixtures.py uses 9101):

    ~/.venvs/avsl-ref/bin/python tools/relu_margins.py [FIRST [LAST]]
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ddp_fixtures import AUDIO, GLOBAL, IMAGE, WORLD  # noqa: E402
from make_model_fixtures import build_model, fill_with_formula, formula_values  # noqa: E402


def relu_margins(trunk, x):
    """{site: smallest |ReLU input| / channel std} for one forward pass of `trunk` on `x`
    (on a float64 copy; the trunk itself is untouched)."""
    trunk = copy.deepcopy(trunk).double().train()
    margins, hooks = {}, []

    def watch(name):
        def hook(_module, args):
            t = args[0].detach()
            std = t.transpose(0, 1).flatten(1).std(dim=1).clamp_min(1e-30)
            margin = (t.abs() / std[None, :, None, None]).amin().item()
            margins[name] = min(margins.get(name, float("inf")), margin)
        return hook

    hooks.append(trunk.relu.register_forward_pre_hook(watch("stem")))
    for layer in ["layer1", "layer2", "layer3", "layer4"]:
        for i, block in enumerate(getattr(trunk, layer)):
            hooks.append(block.relu.register_forward_pre_hook(watch(f"{layer}.{i}")))
    with torch.no_grad():
        trunk(x.double())
    for h in hooks:
        h.remove()
    return margins


def main():
    first = int(sys.argv[1]) if len(sys.argv) > 1 else 9101
    last = int(sys.argv[2]) if len(sys.argv) > 2 else first
    model = build_model(16, ["1", "2"], momentum=True)
    fill_with_formula(model, 0)
    per = GLOBAL // WORLD
    for index in range(first, last + 1, 2):
        image = torch.from_numpy(formula_values(index, "input.image", IMAGE) * 8.0)
        audio = torch.from_numpy(formula_values(index + 1, "input.audio", AUDIO) * 8.0)
        worst = {}
        for rank in range(WORLD):
            rows = slice(rank * per, (rank + 1) * per)
            for name, trunk, x in [("audnet", model.audnet, audio[rows]), ("imgnet", model.imgnet, image[rows])]:
                for site, margin in relu_margins(trunk, x).items():
                    key = f"{name}.{site}"
                    worst[key] = min(worst.get(key, float("inf")), margin)
        site = min(worst, key=worst.get)
        print(f"{index}: smallest margin {worst[site]:.1e} at {site}", flush=True)


if __name__ == "__main__":
    main()
