#!/usr/bin/env python3
"""Golden values of SSL-align's loss ("Aligning Sight and Sound", eq. 5) in PyTorch, for
avsl-train's `ssl_align_loss` (crates/avsl-train/tests/ssl_align_loss.rs).

Written from the paper (the authors have not released their training code): for each of
the 9 (image view, audio view) pairs, cross-entropy over the batch of s_L / tau (mean over
positions of the cosine between each image position and the audio vector, eq. 3) plus
cross-entropy of s_A / tau (cosine of the projections, eq. 4), rows = images, summed over
the pairs; views 0 = the sample, 1 = augmented, 2 = mined neighbour. Random float32
inputs; the loss and the gradient of every input, and the loss without the s_A terms (the
ablation `alignment_loss = false`).

    ~/.venvs/avsl-ref/bin/python tools/make_ssl_align_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model", "ssl_align_loss.json")
B, C, H, W, D, TAU = 5, 8, 3, 3, 6, 0.07


def loss_of(images, audios, image_proj, audio_proj, alignment=True):
    total = 0.0
    labels = torch.arange(B)
    for v, pv in zip(images, image_proj):
        vn = F.normalize(v, dim=1)
        pvn = F.normalize(pv, dim=1)
        for a, pa in zip(audios, audio_proj):
            an = F.normalize(a, dim=1)
            s_l = torch.einsum("nchw,mc->nmhw", vn, an).flatten(2).mean(2) / TAU
            s_a = pvn @ F.normalize(pa, dim=1).t() / TAU
            total = total + F.cross_entropy(s_l, labels)
            if alignment:
                total = total + F.cross_entropy(s_a, labels)
    return total


def main():
    g = torch.Generator().manual_seed(11)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float32).requires_grad_(True)
    images = [make(B, C, H, W) for _ in range(3)]
    audios = [make(B, C) for _ in range(3)]
    image_proj = [make(B, D) for _ in range(3)]
    audio_proj = [make(B, D) for _ in range(3)]
    loss = loss_of(images, audios, image_proj, audio_proj)
    loss.backward()
    inputs = {"images": images, "audios": audios, "image_proj": image_proj, "audio_proj": audio_proj}
    fixture = {
        "shapes": {"B": B, "C": C, "H": H, "W": W, "D": D},
        "tau": TAU,
        "inputs": {k: [t.detach().flatten().tolist() for t in v] for k, v in inputs.items()},
        "grads": {k: [t.grad.flatten().tolist() for t in v] for k, v in inputs.items()},
        "loss": loss.item(),
        "loss_without_alignment": loss_of(images, audios, image_proj, audio_proj, alignment=False).item(),
        "torch": torch.__version__,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f)
    print(OUT, loss.item())


if __name__ == "__main__":
    main()
