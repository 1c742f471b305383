#!/usr/bin/env python3
"""End-to-end golden outputs for `avsl eval` (crates/avsl/tests/eval.rs).

The reference pipeline of docs/method.md, built from the reference libraries: frames decoded and
resized by Pillow, audio windows and spectrograms as in make_fixtures.py (scipy), the
networks in PyTorch + torchvision with the formula weights of make_model_fixtures.py
(SLAVC at d = 64, both encoder sets; EZ-VSL; the object network), upsampling by PyTorch's
F.interpolate, and the evaluator of make_metric_fixtures.py. The input is a small dataset
that `avsl synth` writes (deterministic for a seed; the test writes the same one), so only
the expected outputs are stored.

    ~/.venvs/avsl-ref/bin/pip install numpy scipy pillow torch torchvision
    cargo build --release
    ~/.venvs/avsl-ref/bin/python tools/make_eval_fixtures.py target/release/avsl

If `avsl synth` ever changes what it writes for a seed, regenerate these fixtures.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.io import wavfile
from torchvision.models import resnet18

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import reference_spectrogram  # noqa: E402
from make_metric_fixtures import gt_map, score_sample, to_range, upsample, vggss_boxes, write_variant  # noqa: E402
from make_model_fixtures import build_model, embeddings, fill_with_formula, paired_map  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "eval")
SYNTH = ["--train", "0", "--test", "8", "--negatives", "8", "--seed", "14"]  # a seed whose clips include 22.05 and 44.1 kHz
DIM, TAU, ALPHA = 64, 0.03, 0.9
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
# (case name, encoder set, thresholding rule): the published command (online, fixed 0.5)
# and the published configuration (momentum) with relative prediction.
CASES = [("online_fixed", "", ("fixed", 0.5)), ("momentum_relative", "momentum_", ("relative", 0.5))]


def test_list(data):
    """docs/method.md section 7 items 1-3: sorted positives with files, then non-sounding rows."""
    meta = os.path.join(data, "metadata")
    have = {f[:-4] for f in os.listdir(os.path.join(data, "frames"))} & {f[:-4] for f in os.listdir(os.path.join(data, "audio"))}
    with open(os.path.join(meta, "vggss_test.csv")) as f:
        positives = sorted({r[0] for r in csv.reader(f)} & have)
    boxes = {e["file"]: e["bbox"] for e in json.load(open(os.path.join(meta, "vggss.json")))}
    samples = [(p, p, p, vggss_boxes(boxes[p])) for p in positives]
    with open(os.path.join(meta, "vggss_test_plus_silent.csv")) as f:
        for r in csv.DictReader(f):
            if r["label"] == "non-sounding":
                samples.append((r["video"], r["video"], r["audio"], []))
    return samples


def image_input(path):
    img = Image.open(path).convert("RGB").resize((224, 224), Image.BICUBIC)
    x = (np.asarray(img, np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def audio_input(path):
    sr, pcm = wavfile.read(path)
    pcm = pcm.reshape(len(pcm), -1)
    return torch.from_numpy(reference_spectrogram(pcm, sr))[None, None]


def bilinear(maps7):
    t = torch.from_numpy(np.ascontiguousarray(maps7, dtype=np.float32))[:, None]
    return F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=True).numpy()[:, 0]


def normalize_img(x):
    lo, hi = x.min(), x.max()
    return x if (hi - lo) == 0 else (x - lo) / (hi - lo)


def write_ezvsl_case(names, gts, bb, maps, objects):
    """EZ-VSL's protocol (docs/method.md section 5): bilinear upsampling, min-max normalised maps,
    blend alpha = 0.4 normalised again, threshold at sort(pred)[n/2]. Its maps have no
    absolute level; the confidence ranking samples for AP is SLAVC's (mean of the top
    quarter) on the same bilinear maps in score units: (S + 1/tau)/(2/tau), obj/2.5."""
    alpha = 0.4
    av_up, obj_up = bilinear(maps), bilinear(objects)
    av_conf = to_range(av_up, -1 / TAU, 1 / TAU)
    obj_conf = to_range(obj_up, 0, 2.5)
    for variant in ["av", "obj", "av_obj"]:
        rows = []
        for i in range(len(names)):
            pa, po = normalize_img(av_up[i]), normalize_img(obj_up[i])
            pred, conf_map = {"av": (pa, av_conf[i]), "obj": (po, obj_conf[i]),
                              "av_obj": (normalize_img(pa * alpha + po * (1 - alpha)),
                                         av_conf[i] * alpha + obj_conf[i] * (1 - alpha))}[variant]
            ciou, _, area = score_sample(pred, gts[i], ("relative", 0.5))
            conf = np.sort(conf_map.flatten())[-224 * 224 // 4:].mean()
            rows.append((ciou, conf, area))
        ciou, conf, area = zip(*rows)
        write_variant(os.path.join(OUT, "ezvsl", variant), names, area, bb, ciou, conf)


def main(avsl):
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    model = build_model(DIM, ["1", "2"], momentum=True).eval()
    fill_with_formula(model, 0)
    ezvsl = build_model(DIM, [""], momentum=False).eval()
    fill_with_formula(ezvsl, 3000)
    ogl = resnet18().eval()
    fill_with_formula(ogl, 5000)
    ogl.avgpool = torch.nn.Identity()
    ogl.fc = torch.nn.Identity()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([avsl, "synth", "--out", data] + SYNTH, check=True)
        samples = test_list(data)
        with torch.no_grad():
            maps = {prefix: [] for _, prefix, _ in CASES}
            ez_maps = []
            objects = []
            for name, video, audio, _ in samples:
                image = image_input(os.path.join(data, "frames", video + ".jpg"))
                spec = audio_input(os.path.join(data, "audio", audio + ".wav"))
                for prefix in maps:
                    _, _, v, a = embeddings(model, prefix, ["1", "2"], image, spec)
                    maps[prefix].append(paired_map(v, a, TAU)[0].numpy())
                _, _, v, a = embeddings(ezvsl, "", [""], image, spec)
                ez_maps.append(paired_map(v, a, TAU)[0].numpy())
                objects.append(ogl(image).unflatten(1, (512, 7, 7)).abs().mean(1)[0].numpy())
    names = [s[0] for s in samples]
    gts = [gt_map(s[3], "vggss") if s[3] else np.zeros((224, 224)) for s in samples]
    bb = [len(s[3]) for s in samples]
    obj_scores = to_range(upsample(np.stack(objects)), 0, 2.5)
    for case, prefix, rule in CASES:
        av_scores = to_range(upsample(np.stack(maps[prefix])), -1 / TAU, 1 / TAU)
        variants = {"av": av_scores, "obj": obj_scores, "av_obj": av_scores * ALPHA + obj_scores * (1 - ALPHA)}
        for variant, scores in variants.items():
            ciou, conf, area = zip(*[score_sample(scores[i], gts[i], rule) for i in range(len(samples))])
            write_variant(os.path.join(OUT, case, variant), names, area, bb, ciou, conf)
    write_ezvsl_case(names, gts, bb, np.stack(ez_maps), np.stack(objects))
    with open(os.path.join(OUT, "case.json"), "w") as f:
        json.dump({"synth": SYNTH, "dim": DIM, "tau": TAU, "alpha": ALPHA, "samples": len(samples),
                   "cases": {c: {"encoders": "momentum" if p else "online", "rule": r} for c, p, r in CASES},
                   "ezvsl": {"alpha": 0.4, "rule": ["relative", 0.5]}}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/release/avsl")
