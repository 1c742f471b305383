#!/usr/bin/env python3
"""Golden fixture for avsl's multi-source (IS3) scoring: `avsl eval-maps --testset is3`.

An independent numpy implementation of the SSL-align authors' per-pair scoring and
interactive metrics (docs/commands.md, "Multi-source sets"), with PyTorch's own
`F.interpolate(mode='bilinear', align_corners=True)` for the upsampling:

    ~/.venvs/avsl-ref/bin/python tools/make_interactive_fixtures.py

Writes tests/fixtures/metrics/is3.json: pair names, 7x7 float32 maps, 224-pixel boxes,
and the expected cIoU / adaptive cIoU per pair and the summary metrics; and
tests/fixtures/metrics/source_sets.json, the same for pairs named as AVSBench S4 and MS3
and VPO name them (directories in the name, `.mp4_<k>`), with empty boxes [0, 0, 0, 0]
(frames where nothing sounds), grouped by the script's own rule.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics")
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


def short_name(name):
    """The image a pair belongs to, the test script's expression."""
    return "_".join(name.split("/")[-1].replace(".jpg", "").split("_")[:-1])


def summary(names, values):
    groups = {}
    for n, v in zip(names, values):
        groups.setdefault(short_name(n), []).append(v)
    v = np.array(values)
    frac = lambda t: float(np.mean(v >= t))
    inter = lambda t: float(np.mean([min(1.0 if c >= t else 0.0 for c in g) for g in groups.values()]))
    return dict(
        ciou50=frac(0.5),
        auc=float(np.trapezoid([frac(t) for t in THRESHOLDS], THRESHOLDS)),
        iiou50=inter(0.5),
        iauc=float(np.trapezoid([inter(t) for t in THRESHOLDS], THRESHOLDS)),
    )


def random_pair(rng, w, h, strength_high=6.0, ties=False):
    x0, y0 = int(rng.integers(0, 225 - w)), int(rng.integers(0, 225 - h))
    m = rng.normal(size=(7, 7)).astype(np.float32)
    # A bump where the box is, of varying strength: some pairs pass, some fail.
    cx, cy = (x0 + w / 2) / 224 * 6, (y0 + h / 2) / 224 * 6
    yy, xx = np.mgrid[0:7, 0:7]
    m += (rng.uniform(0, strength_high) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 4)).astype(np.float32)
    if ties:
        m = np.round(m * 2) / 2
    return m.astype(np.float32), [x0, y0, x0 + w, y0 + h]


def write(name, names, maps, boxes):
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
        images=len({short_name(n) for n in names}),
        metrics={
            "cIoU@50": s["ciou50"], "AUC": s["auc"], "IIoU@50": s["iiou50"], "IAUC": s["iauc"],
            "adaptive_cIoU@50": a["ciou50"], "adaptive_AUC": a["auc"],
            "adaptive_IIoU@50": a["iiou50"], "adaptive_IAUC": a["iauc"],
        },
        versions=dict(numpy=np.__version__, torch=torch.__version__),
    )
    out = os.path.join(FIXTURES, name)
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
    print(out, fixture["metrics"])


def main():
    rng = np.random.default_rng(2026)
    names, maps, boxes = [], [], []
    for scene in range(9):
        sources = 3 if scene == 8 else 2
        for k in range(sources):
            names.append(f"synth_mix_{scene}_src{k}")
            # Large sources (the median threshold keeps half the frame) and a few small.
            w, h = (int(v) for v in (rng.integers(100, 200, 2) if k < 2 else rng.integers(30, 80, 2)))
            m, b = random_pair(rng, w, h, ties=scene % 4 == 3)
            maps.append(m)
            boxes.append(b)
    write("is3.json", names, maps, boxes)

    rng = np.random.default_rng(2027)
    names, maps, boxes = [], [], []
    for clip in range(4):  # S4: five frames of a clip under <category>/<id>/<id>_<k>
        for k in range(1, 6):
            names.append(f"cat{clip % 2}/vid_{clip}x/vid_{clip}x_{k}")
            m, b = random_pair(rng, *(int(v) for v in rng.integers(60, 200, 2)))
            maps.append(m)
            boxes.append(b)
    for clip in range(3):  # MS3: <id>/<id>.mp4_<k>, some frames silent (empty box)
        for k in range(1, 6):
            names.append(f"ms{clip}_0/ms{clip}_0.mp4_{k}")
            m, b = random_pair(rng, *(int(v) for v in rng.integers(60, 200, 2)))
            maps.append(m)
            boxes.append([0, 0, 0, 0] if (clip + k) % 4 == 0 else b)
    for image in range(5):  # VPO-MS: <coco>_<instance>, one to three sources an image
        for inst in range(1 + image % 3):
            names.append(f"{image:012d}_{1000 + inst}")
            m, b = random_pair(rng, *(int(v) for v in rng.integers(40, 200, 2)), ties=image == 4)
            maps.append(m)
            boxes.append(b)
    write("source_sets.json", names, maps, boxes)


if __name__ == "__main__":
    main()
