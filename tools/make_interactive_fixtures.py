#!/usr/bin/env python3
"""Golden fixture for avsl's multi-source (IS3) scoring: `avsl eval-maps --testset is3`.

An independent numpy implementation of the SSL-align authors' per-pair scoring and
interactive metrics (docs/commands.md, "Multi-source sets"), with PyTorch's own
`F.interpolate(mode='bilinear', align_corners=True)` for the upsampling:

    ~/.venvs/avsl-ref/bin/python tools/make_interactive_fixtures.py

Writes tests/fixtures/metrics/is3.json: pair names, 7x7 float32 maps, 224-pixel boxes,
and the expected cIoU / adaptive cIoU per pair and the summary metrics.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics", "is3.json")
THRESHOLDS = [0.05 * i for i in range(21)]


def upsample(m7):
    t = torch.from_numpy(m7.astype(np.float32))[None, None]
    return F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=True)[0, 0].numpy()


def normalise(x):
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi - lo != 0 else x


def ciou(pred, gt):
    return float(np.sum(pred * gt) / (np.sum(gt) + np.sum(pred * (gt == 0))))


def score(m7, box):
    p = normalise(upsample(m7))
    flat = np.sort(p.flatten())
    gt = np.zeros((224, 224))
    x0, y0, x1, y1 = box
    gt[y0:y1, x0:x1] = 1
    plain = ciou((p > flat[int(p.size * 0.5)]).astype(float), gt)
    budget = int((gt != 0).sum()) or p.size // 2
    adaptive = ciou((p > flat[p.size - budget]).astype(float), gt)
    return plain, adaptive


def summary(names, values):
    groups = {}
    for n, v in zip(names, values):
        groups.setdefault(n.rsplit("_", 1)[0], []).append(v)
    v = np.array(values)
    frac = lambda t: float(np.mean(v >= t))
    inter = lambda t: float(np.mean([min(1.0 if c >= t else 0.0 for c in g) for g in groups.values()]))
    return dict(
        ciou50=frac(0.5),
        auc=float(np.trapezoid([frac(t) for t in THRESHOLDS], THRESHOLDS)),
        iiou50=inter(0.5),
        iauc=float(np.trapezoid([inter(t) for t in THRESHOLDS], THRESHOLDS)),
    )


def main():
    rng = np.random.default_rng(2026)
    names, maps, boxes = [], [], []
    for scene in range(9):
        sources = 3 if scene == 8 else 2
        for k in range(sources):
            names.append(f"synth_mix_{scene}_src{k}")
            # Large sources (the median threshold keeps half the frame) and a few small.
            w, h = (int(v) for v in (rng.integers(100, 200, 2) if k < 2 else rng.integers(30, 80, 2)))
            x0, y0 = int(rng.integers(0, 225 - w)), int(rng.integers(0, 225 - h))
            boxes.append([x0, y0, x0 + w, y0 + h])
            m = rng.normal(size=(7, 7)).astype(np.float32)
            # A bump where the box is, of varying strength: some pairs pass, some fail.
            cx, cy = (x0 + w / 2) / 224 * 6, (y0 + h / 2) / 224 * 6
            yy, xx = np.mgrid[0:7, 0:7]
            m += (rng.uniform(0, 6) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 4)).astype(np.float32)
            if scene % 4 == 3:
                m = np.round(m * 2) / 2  # ties
            maps.append(m.astype(np.float32))
    scored = [score(m, b) for m, b in zip(maps, boxes)]
    plain = [s[0] for s in scored]
    adaptive = [s[1] for s in scored]
    s, a = summary(names, plain), summary(names, adaptive)
    fixture = dict(
        names=names,
        maps=[m.flatten().tolist() for m in maps],
        boxes=boxes,
        ciou=plain,
        adaptive_ciou=adaptive,
        metrics={
            "cIoU@50": s["ciou50"], "AUC": s["auc"], "IIoU@50": s["iiou50"], "IAUC": s["iauc"],
            "adaptive_cIoU@50": a["ciou50"], "adaptive_AUC": a["auc"],
            "adaptive_IIoU@50": a["iiou50"], "adaptive_IAUC": a["iauc"],
        },
        versions=dict(numpy=np.__version__, torch=torch.__version__),
    )
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
    print(OUT, fixture["metrics"])


if __name__ == "__main__":
    main()
