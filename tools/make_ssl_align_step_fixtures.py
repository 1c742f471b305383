#!/usr/bin/env python3
"""Golden values of one SSL-align training step ("Aligning Sight and Sound", eq. 5) in
PyTorch, for avsl-train's step engines (crates/avsl-train/tests/train_fixture.rs).

The network: the two ResNet-18 trunks of make_model_fixtures (the image trunk's 7x7 map,
the audio trunk globally max-pooled) and SSL-align's alignment projections img_align and
aud_align, each nn.Sequential(Linear(512, 512), ReLU, Linear(512, d)) as avsl names them;
formula weights. The batch holds the three views of B samples one after the other (the
samples, their augmentations, their neighbours), and both trunks run once on all 3B in
train mode, as avsl does. The loss is make_ssl_align_fixtures.loss_of on the backbone
features (s_L) and the projections of the average-pooled image map and of the audio
vector (s_A); then its gradients and one Adam step. Also, from the same weights in eval
mode, the maps and alignment projections `avsl eval` computes.

The gradients of the layers near the inputs are ill-conditioned in float32 with these
weights: PyTorch's own float32 gradients differ from its float64 ones by up to 2.5% of
their largest value there (1e-5 in the heads and deep layers). Each watched gradient
therefore carries `f32_error`, max |float32 - float64| of PyTorch's, which the test uses
as the bound of |avsl - PyTorch| where it exceeds the relative tolerance, and
`f32_sum_error`, the larger of PyTorch's float32-vs-float64 differences in the sum and in
the sum of |x|, as the bound of the sums' differences.

    ~/.venvs/avsl-ref/bin/python tools/make_ssl_align_step_fixtures.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import fill_with_formula, formula_values, resnet_trunk  # noqa: E402
from make_train_fixtures import summary  # noqa: E402
import make_ssl_align_fixtures as align  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "train")
DIM, TAU, LR, B = 16, 0.07, 1e-3, 3
IMAGE, AUDIO = [3 * B, 3, 64, 64], [3 * B, 1, 257, 40]
WATCHED = ["img_align.0.weight", "img_align.2.bias", "aud_align.0.bias", "aud_align.2.weight", "imgnet.conv1.weight",
           "imgnet.bn1.weight", "audnet.conv1.weight", "imgnet.layer4.1.conv2.weight", "audnet.layer4.1.bn2.bias",
           "audnet.layer3.0.downsample.1.bias", "imgnet.layer2.0.conv1.weight"]
BUFFERS = ["imgnet.bn1.running_mean", "audnet.layer4.1.bn2.running_var"]


def build_model():
    model = nn.Module()
    model.imgnet = resnet_trunk(audio=False)
    model.audnet = resnet_trunk(audio=True)
    model.img_align = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, DIM))
    model.aud_align = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, DIM))
    return model


def step(dtype):
    """The model with formula weights in `dtype` after the loss's backward pass."""
    model = build_model()
    names = fill_with_formula(model, 0)
    model = model.to(dtype)
    model.train()
    image = torch.from_numpy(formula_values(9001, "input.image", IMAGE) * 8.0).to(dtype)
    audio = torch.from_numpy(formula_values(9002, "input.audio", AUDIO) * 8.0).to(dtype)
    h, w = (IMAGE[2] + 31) // 32, (IMAGE[3] + 31) // 32
    v = model.imgnet(image).unflatten(1, (512, h, w))
    a = model.audnet(audio)
    pv = model.img_align(v.mean(dim=(2, 3)))
    pa = model.aud_align(a)
    views = lambda t: list(t.split(B))
    align.B = B
    loss = align.loss_of(views(v), views(a), views(pv), views(pa))
    loss.backward()
    return model, names, loss


@torch.no_grad()
def inference():
    """The same weights in eval mode (running statistics): what `avsl eval` computes, the
    map cos(v(p), a) / tau and the normalised alignment projections."""
    model = build_model()
    fill_with_formula(model, 0)
    model.eval()
    image = torch.from_numpy(formula_values(9001, "input.image", IMAGE) * 8.0)
    audio = torch.from_numpy(formula_values(9002, "input.audio", AUDIO) * 8.0)
    h, w = (IMAGE[2] + 31) // 32, (IMAGE[3] + 31) // 32
    v = model.imgnet(image).unflatten(1, (512, h, w))
    a = model.audnet(audio)
    maps = torch.einsum("nchw,nc->nhw", F.normalize(v, dim=1), F.normalize(a, dim=1)) / TAU
    return {
        "maps": summary(maps),
        "image_projected": summary(F.normalize(model.img_align(v.mean(dim=(2, 3))), dim=1)),
        "audio_projected": summary(F.normalize(model.aud_align(a), dim=1)),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    evaluated = inference()
    exact = dict(step(torch.float64)[0].named_parameters())
    model, names, loss = step(torch.float32)
    params = dict(model.named_parameters())
    grads = {}
    for n in WATCHED:
        grads[n] = summary(params[n].grad)
        g32, g64 = params[n].grad.double(), exact[n].grad
        grads[n]["f32_error"] = (g32 - g64).abs().max().item()
        grads[n]["f32_sum_error"] = max(
            (g32.sum() - g64.sum()).abs().item(), (g32.abs().sum() - g64.abs().sum()).abs().item()
        )
    torch.optim.Adam(model.parameters(), lr=LR).step()
    state = model.state_dict()
    out = {
        "dim": DIM, "tau": TAU, "lr": LR, "image": IMAGE, "audio": AUDIO, "views": 3,
        "tensors": names, "loss": loss.item(), "grads": grads,
        "after_step": {n: summary(state[n]) for n in WATCHED},
        "buffers": {n: summary(state[n]) for n in BUFFERS},
        "inference": evaluated,
        "torch": torch.__version__,
    }
    with open(os.path.join(OUT, "ssl_align_step.json"), "w") as f:
        json.dump(out, f)
    print(f"loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
