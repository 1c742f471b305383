#!/usr/bin/env python3
"""Golden fixtures for avsl's exact evaluation (avsl-metrics, `avsl eval-maps`).

Written from docs/method.md (sections 5-7): an independent numpy implementation of
the authors' scoring and evaluator, with PyTorch's own `F.interpolate` for the bicubic
upsampling. Usage, in a venv with numpy and torch from PyPI:

    ~/.venvs/avsl-ref/bin/pip install numpy torch
    ~/.venvs/avsl-ref/bin/python tools/make_metric_fixtures.py

Writes tests/fixtures/metrics/<case>/: the inputs (metadata lists, vggss.json or Flickr
XML, `maps.npy` [N,7,7] logits, `objects.npy` [M,7,7] object maps, `pairs.csv`) and the
expected outputs (`<variant>/metrics.txt`, `<variant>/sample_cious.txt`). Rows of
sample_cious.txt are in a *stable* ascending-cIoU order here; the authors' unstable
argsort on a shuffled list leaves the order of equal cIoUs arbitrary.
"""
import csv
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics")
N_PIX = 224 * 224


# ----------------------------------------------------------------------------- gt maps
def vggss_boxes(normalised):
    return [tuple(int(v) for v in (np.clip(np.array(b), 0, 1) * 224).astype(int)) for b in normalised]


def flickr_boxes(boxes256):
    return [tuple(int(224 * v / 256) for v in b) for b in boxes256]


def gt_map(boxes, fmt):
    g = np.zeros((224, 224))
    for x0, y0, x1, y1 in boxes:
        one = np.zeros((224, 224))
        one[y0:y1, x0:x1] = 1  # numpy slicing, negative and out-of-range indices included
        g += one
    if fmt == "flickr":
        g = g / 2
        g[g > 1] = 1
    else:
        g[g > 0] = 1
    return g


# ----------------------------------------------------------------------------- scoring
def upsample(maps7):
    t = torch.from_numpy(np.ascontiguousarray(maps7, dtype=np.float32))[:, None]
    return F.interpolate(t, size=(224, 224), mode="bicubic", align_corners=True).numpy()[:, 0]


def to_range(x, lo, hi):
    return (x - lo) / (hi - lo)


def relative(pred):
    lo, hi = pred.min(), pred.max()
    return pred if (hi - lo) == 0 else (pred - lo) / (hi - lo)


def score_sample(score, gt, rule):
    conf = np.sort(score.flatten())[-N_PIX // 4:].mean()
    if rule[0] == "relative":
        pred = relative(score)
        thr = np.sort(pred.flatten())[int(N_PIX * rule[1])]
    else:
        pred, thr = score, rule[1]
    binary = np.zeros((224, 224))
    binary[pred >= thr] = 1
    with np.errstate(invalid="ignore"):
        ciou = np.sum(binary * gt) / (np.sum(gt) + np.sum(binary * (gt == 0)))
    return ciou, conf, gt.sum()


# ----------------------------------------------------------------------------- evaluator
def prec_rec(bb, ciou, conf, thr, iou):
    tp = fp = fn = 0
    for b, c, s in zip(bb, ciou, conf):
        if b == 0:
            fp += s >= thr
        elif s >= thr:
            if c >= iou:
                tp += 1
            else:
                fp += 1
        else:
            fn += 1
    p = 1.0 if tp + fp == 0 else tp / (tp + fp)
    r = 1.0 if tp + fn == 0 else tp / (tp + fn)
    return p, r


def average_precision(bb, ciou, conf, iou):
    step = max(1, len(conf) // 200)
    ps, rs = [], []
    for thr in np.sort(np.array(conf))[:-1][::-step]:
        p, r = prec_rec(bb, ciou, conf, thr, iou)
        ps.append(p)
        rs.append(r)
    pmax = [np.max(ps[i:]) for i in range(len(ps))]
    return sum([pmax[i] * (rs[i + 1] - rs[i]) for i in range(len(pmax) - 1)])


def success_auc(bb, ciou):
    vis = np.array([c for b, c in zip(bb, ciou) if b > 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        y = [np.sum(vis >= 0.05 * i) / len(vis) for i in range(21)]
    x = [0.05 * i for i in range(21)]
    return np.trapezoid(y, x)


SIZES = {"small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 144 ** 2), "huge": (144 ** 2, 10000 ** 2)}


def subset_rows(subset, area, bb):
    if subset == "all":
        return [i for i in range(len(bb))]
    if subset == "visible":
        return [i for i in range(len(bb)) if bb[i] > 0]
    lo, hi = SIZES[subset]
    return [i for i in range(len(bb)) if lo <= area[i] < hi and bb[i] > 0]


def metrics_txt(area, bb, ciou, conf):
    out = {}
    for iou in (0.5, 0.75):
        for subset in ["all", "visible", "small", "medium", "large", "huge"]:
            rows = subset_rows(subset, area, bb)
            if not rows:
                continue  # the authors' NaN placeholders are not written
            b = [bb[i] for i in rows]
            c = [ciou[i] for i in rows]
            s = [conf[i] for i in rows]
            tag = f"{subset}@{int(iou * 100)}"
            out[f"Precision-{tag}"] = prec_rec(b, c, s, -1000, iou)[0]
            thrs = list(sorted(s))[:: max(1, len(s) // 10)]
            f1 = []
            for p, r in [prec_rec(b, c, s, t, iou) for t in thrs]:
                f1.append(2 * r * p / (r + p) if r + p > 0 else 0.0)
            out[f"F1-{tag}"] = " ".join(f"{f * 100:.1f}" for f in f1)
            out[f"AP-{tag}"] = average_precision(b, c, s, iou)
            out[f"AUC-{tag}"] = success_auc(b, c)
    return "\n".join(f"{k}: {out[k]}" for k in sorted(out))


def write_variant(d, names, area, bb, ciou, conf):
    """A variant's expected `metrics.txt` and `sample_cious.txt` in folder `d`."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.txt"), "w") as f:
        f.write(metrics_txt(area, bb, ciou, conf))
    with open(os.path.join(d, "sample_cious.txt"), "w") as f:
        f.write(sample_cious_txt(names, area, bb, ciou, conf))


def sample_cious_txt(names, area, bb, ciou, conf):
    lines = ["name,area,bb,ciou,conf"]
    for i in np.argsort(np.array(ciou), kind="stable"):
        lines.append(f"{names[i]},{area[i]},{bb[i]},{ciou[i]},{conf[i]}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- cases
def random_maps(rng, n, gts):
    """Logit maps in [-1/tau, 1/tau] (tau = 0.03): a bump near the source for most,
    quantised values (ties at the median), constant maps (max == min), noise."""
    tau = 0.03
    maps = np.zeros((n, 7, 7), np.float32)
    for i in range(n):
        yy, xx = np.mgrid[0:7, 0:7]
        if gts[i] is not None and gts[i].sum() > 0 and rng.random() < 0.7:
            ys, xs = np.nonzero(gts[i])
            cy, cx = ys.mean() / 32, xs.mean() / 32
        else:
            cy, cx = rng.uniform(0, 6, 2)
        cos = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(1, 8)) * rng.uniform(0.3, 1.0)
        cos = cos + rng.normal(0, rng.uniform(0.01, 0.2), (7, 7))
        kind = rng.random()
        if kind < 0.1:
            cos = np.round(cos, 1)  # ties
        elif kind < 0.13:
            cos = np.full((7, 7), rng.uniform(-0.5, 0.5))  # max == min
        maps[i] = (np.clip(cos, -1, 1) / tau).astype(np.float32)
    return maps


def write_case(name, fmt, testset, positives, negatives, rng, rules):
    """positives: list of (id, boxes in the dataset's own units); negatives: (video, audio)."""
    out = os.path.join(ROOT, name)
    os.makedirs(os.path.join(out, "metadata"), exist_ok=True)
    ids = [p[0] for p in positives]
    if fmt == "vggss":
        with open(os.path.join(out, "metadata", "vggss.json"), "w") as f:
            json.dump([{"file": i, "class": "synthetic", "bbox": b} for i, b in positives], f)
        boxes = {i: vggss_boxes(b) for i, b in positives}
        listname = "vggss_test.csv"
    else:
        ann = os.path.join(out, "Annotations")
        os.makedirs(ann, exist_ok=True)
        for i, b in positives:
            objs = "".join(f"<object><bbox><label>1</label><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
                           f"<ymax>{y1}</ymax></bbox></object>" for x0, y0, x1, y1 in b)
            with open(os.path.join(ann, f"{i}.xml"), "w") as f:
                f.write(f"<annotation><filename>{i}.jpg</filename>{objs}</annotation>")
        boxes = {i: flickr_boxes(b) for i, b in positives}
        listname = "flickr_test.csv"
    with open(os.path.join(out, "metadata", listname), "w", newline="") as f:
        f.write("".join(f"{i},{k}\r\n" for k, i in enumerate(ids)))
    if negatives:
        with open(os.path.join(out, "metadata", f"{fmt}_test_plus_silent.csv"), "w", newline="") as f:
            f.write("video,audio,label\r\n" + "".join(f"{v},{a},non-sounding\r\n" for v, a in negatives))

    # The evaluation list: positives sorted, negatives appended (docs/method.md §7 items 1-3).
    rows = [(i, i, boxes[i]) for i in sorted(ids)] + [(v, a, []) for v, a in negatives]
    gts = [gt_map(b, fmt) if b else np.zeros((224, 224)) for _, _, b in rows]
    pairs = sorted({(v, a) for v, a, _ in rows})
    frames = sorted({v for v, _ in pairs})
    maps = random_maps(rng, len(pairs), [gts[[(r[0], r[1]) for r in rows].index(p)] for p in pairs])
    objects = (np.abs(rng.normal(0.8, 0.6, (len(frames), 7, 7)))).astype(np.float32)
    np.save(os.path.join(out, "maps.npy"), maps)
    np.save(os.path.join(out, "objects.npy"), objects)
    with open(os.path.join(out, "pairs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "audio", "index"])
        for k, (v, a) in enumerate(pairs):
            w.writerow([v, a, k])
    with open(os.path.join(out, "frames.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "index"])
        for k, v in enumerate(frames):
            w.writerow([v, k])

    heat_av = upsample(maps)
    heat_obj = upsample(objects)
    tau, alpha = 0.03, 0.9
    # `--map-kind scores`: maps already in score units (here the logits scored at 7×7),
    # upsampled and used as they are.
    scores7 = to_range(maps, -1 / tau, 1 / tau).astype(np.float32)
    heat_scores = upsample(scores7)
    if any(kind == "scores" for _, (_, _, kind) in rules):
        np.save(os.path.join(out, "scores.npy"), scores7)
    cases = []
    for rule_name, (rule_kind, rule_value, map_kind) in rules:
        rule = (rule_kind, rule_value)
        per_variant = {"av": [], "obj": [], "av_obj": []}
        for (v, a, b), gt in zip(rows, gts):
            k = pairs.index((v, a))
            s_av = heat_scores[k] if map_kind == "scores" else to_range(heat_av[k], -1 / tau, 1 / tau)
            s_obj = to_range(heat_obj[frames.index(v)], 0.0, 2.5)
            s_both = s_av * alpha + s_obj * (1 - alpha)
            for variant, s in (("av", s_av), ("obj", s_obj), ("av_obj", s_both)):
                per_variant[variant].append(score_sample(s, gt, rule) + (len(b),))
        names = [r[0] for r in rows]
        for variant, res in per_variant.items():
            ciou, conf, area, bb = map(list, zip(*res))
            write_variant(os.path.join(out, rule_name, variant), names, area, bb, ciou, conf)
        cases.append(dict(rule=rule_name, kind=rule[0], value=rule[1], map_kind=map_kind))
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(dict(testset=testset, format=fmt, rules=cases, tau=tau, alpha=alpha, rows=len(rows)), f, indent=1)

    # Upsampling alone, both corner rules, on a few maps (every 7th output row kept):
    # bicubic (SLAVC's protocol) and bilinear (EZ-VSL's).
    if name == "vggss_extended":
        for mode, prefix in (("bicubic", "upsample"), ("bilinear", "bilinear")):
            for ac in (True, False):
                t = torch.from_numpy(maps[:3])[:, None]
                up = F.interpolate(t, size=(224, 224), mode=mode, align_corners=ac).numpy()[:, 0, ::7, :]
                np.save(os.path.join(out, f"{prefix}_align_{str(ac).lower()}.npy"), np.ascontiguousarray(up))


def vggss_positive(rng, k):
    n = rng.integers(1, 4)
    boxes = []
    for _ in range(n):
        x0, y0 = rng.uniform(-0.1, 0.8, 2)
        w, h = rng.uniform(0.05, 0.9, 2)
        if rng.random() < 0.05:
            w = 0.0  # degenerate
        boxes.append([float(x0), float(y0), float(x0 + w), float(y0 + h)])
    return (f"vid{k:05d}_{rng.integers(0, 999):06d}", boxes)


def flickr_positive(rng, k):
    boxes = []
    for _ in range(rng.integers(1, 6)):  # several annotators
        x0, y0 = rng.integers(0, 200, 2)
        boxes.append([int(x0), int(y0), int(x0 + rng.integers(10, 256 - x0 + 20)), int(y0 + rng.integers(10, 256 - y0 + 20))])
    return (str(10000000000 + k * 7919), boxes)


def main():
    rng = np.random.default_rng(2022)
    # Extended VGG-SS-like: 230 positives + 220 negatives = 450 rows (AP step 2); most
    # negatives are mismatched pairs sharing a positive's name, some silent clips.
    pos = [vggss_positive(rng, k) for k in range(230)]
    ids = [p[0] for p in pos]
    neg = [(ids[i], ids[(i * 7 + 3) % len(ids)]) for i in range(200)] + [(f"silent{k:04d}", f"silent{k:04d}") for k in range(20)]
    rules = [("relative", ("relative", 0.5, "logits")), ("fixed", ("fixed", 0.5, "logits"))]
    write_case("vggss_extended", "vggss", "vggss_plus_silent", pos, neg, rng,
               rules + [("scores", ("relative", 0.5, "scores"))])
    # Plain VGG-SS-like with 630 rows (AP step 3, F1 step 63: N a multiple of 10).
    pos = [vggss_positive(rng, 1000 + k) for k in range(630)]
    write_case("vggss_plain", "vggss", "vggss", pos, [], rng, [("relative", ("relative", 0.5, "logits"))])
    # Extended Flickr-like: consensus maps with half-integer areas; 111 rows (F1 step 11).
    pos = [flickr_positive(rng, k) for k in range(71)]
    ids = [p[0] for p in pos]
    neg = [(ids[i], ids[(i + 5) % len(ids)]) for i in range(40)]
    write_case("flickr_extended", "flickr", "flickr_plus_silent", pos, neg, rng, rules)
    with open(os.path.join(ROOT, "versions.json"), "w") as f:
        json.dump(dict(numpy=np.__version__, torch=torch.__version__), f, indent=1)


if __name__ == "__main__":
    main()
