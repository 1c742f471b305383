#!/usr/bin/env python3
"""Golden values of AVSBench's mask metrics (Zhou et al., ECCV 2022, utility.py:
mask_iou and Eval_Fmeasure), written here from their definitions in PyTorch float32, for
avsl-metrics' segmentation module (crates/avsl-metrics/tests/segmentation_fixture.rs).

Differences from AVSBench's code, as avsl applies the metrics to localisation maps: the
binary predictions are given (AVSBench binarises sigmoid(logits) > 0.5) and the F-measure
takes the [0, 1] maps as they are (AVSBench applies a sigmoid to logits first).

Samples: 16x16 maps (min-max normalised smooth random fields), masks of blobs, one sample
with an empty mask (its IoU counts the true negatives; the F-measure leaves it out), one
map equal to its mask.

    ~/.venvs/avsl-ref/bin/python tools/make_segmentation_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics", "segmentation.json")
N, S, LEVELS, BETA2 = 7, 16, 255, 0.3


def mask_iou(pred, target, eps=1e-7):
    n, pixels = pred.shape[0], pred.shape[1] * pred.shape[2]
    empty = target.sum((1, 2)) == 0
    inter = (pred * target).sum((1, 2))
    union = torch.maximum(pred, target).sum((1, 2))
    inter[empty] = ((1 - target) * (1 - pred)).sum((1, 2))[empty]
    union[empty] = pixels
    return inter / (union + eps)


def f_curves(maps, masks):
    levels = torch.linspace(0, 1 - 1e-10, LEVELS)
    total, count = torch.zeros(LEVELS), 0
    for m, g in zip(maps, masks):
        if torch.mean(g) == 0.0:
            continue
        prec, recall = torch.zeros(LEVELS), torch.zeros(LEVELS)
        for i in range(LEVELS):
            y = (m >= levels[i]).float()
            tp = (y * g).sum()
            prec[i], recall[i] = tp / (y.sum() + 1e-20), tp / (g.sum() + 1e-20)
        f = (1 + BETA2) * prec * recall / (BETA2 * prec + recall)
        f[f != f] = 0
        total += f
        count += 1
    return total / count, levels


def main():
    g = torch.Generator().manual_seed(5)
    raw = F.interpolate(torch.rand(N, 1, 4, 4, generator=g), size=(S, S), mode="bilinear", align_corners=True)[:, 0]
    lo, hi = raw.amin((1, 2), keepdim=True), raw.amax((1, 2), keepdim=True)
    maps = (raw - lo) / (hi - lo)
    masks = (F.interpolate(torch.rand(N, 1, 4, 4, generator=g), size=(S, S), mode="nearest")[:, 0] > 0.6).float()
    masks[2] = 0.0
    maps[3] = masks[3]
    preds = (maps > maps.flatten(1).median(1).values[:, None, None]).float()
    curve, levels = f_curves(maps, masks)
    fixture = {
        "size": S,
        "maps": maps.flatten(1).tolist(),
        "masks": masks.flatten(1).int().tolist(),
        "preds": preds.flatten(1).int().tolist(),
        "iou": mask_iou(preds, masks).tolist(),
        "levels": levels.tolist(),
        "f_curve": curve.tolist(),
        "f_score": curve.max().item(),
        "torch": torch.__version__,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f)
    print(OUT, fixture["f_score"], fixture["iou"])


if __name__ == "__main__":
    main()
