#!/usr/bin/env python3
"""PyTorch twin of `avsl bench --json`: the same work, sizes and thread count, the same
JSON keys, so `tools/compare_bench.sh` can print the ratios side by side.

- train_step_ms_b8: one SLAVC training step (online forward with visual dropout 0.9,
  momentum update, target forward, loss, backward, Adam) at batch 8, d = 512, ResNet-18
  trunks, 224x224 images and 257x200 spectrograms; median of 3 after one warm-up.
- train_step_ms_demo: the same at the demo's sizes (width 16, d = 64, batch 32).
- eval_forward_ms_b1 / _b8: one encoder set (image and audio embeddings, d = 512) plus the
  object network (torchvision ResNet-18 layer4 maps), no_grad, eval mode; median of 5.
- loader_samples_per_s_1thread / loader_samples_per_s: tools/loader_bench.py's per-sample
  work on the files `avsl bench loader --data-dir DIR` wrote (only with --data DIR).
- peak_rss_mb: the process's peak resident memory.

    ~/.venvs/avsl-ref/bin/python tools/torch_bench.py --threads 2 [--data DIR]
"""
import argparse
import glob
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models import resnet18

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import slavc_loss  # noqa: E402
from torch_train_twin import Model  # noqa: E402


def median_ms(f, runs):
    f()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def train_step_ms(width, dim, batch):
    model, target = Model(width, dim, ["1", "2"]), Model(width, dim, ["1", "2"])
    target.load_state_dict(model.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    images, specs = torch.randn(batch, 3, 224, 224), torch.randn(batch, 1, 257, 200)

    def step():
        model.train()
        v, a = model(images, specs, 0.9)
        with torch.no_grad():
            for pt, po in zip(target.parameters(), model.parameters()):
                pt.mul_(0.999).add_(po.detach(), alpha=0.001)
            target.train()
            vt, at = target(images, specs, 0.9)
        loss = slavc_loss(v, a, vt, at, 0.03)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return median_ms(step, 3)


def eval_forward_ms(batch):
    model = Model(64, 512, ["1", "2"]).eval()
    ogl = resnet18().eval()
    images, specs = torch.randn(batch, 3, 224, 224), torch.randn(batch, 1, 257, 200)

    def forward():
        with torch.no_grad():
            model(images, specs, 0.0)
            x = ogl.layer4(ogl.layer3(ogl.layer2(ogl.layer1(ogl.maxpool(ogl.relu(ogl.bn1(ogl.conv1(images))))))))
            x.abs().mean(1)

    return median_ms(forward, 5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", help="files of `avsl bench loader --data-dir DIR`, for the loader figures")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    report = {"threads": args.threads, "device": "cpu", "torch": torch.__version__}
    report["train_step_ms_b8"] = train_step_ms(64, 512, 8)
    report["train_step_ms_demo"] = train_step_ms(16, 64, 32)
    for b in (1, 8):
        report[f"eval_forward_ms_b{b}"] = eval_forward_ms(b)
    if args.data:
        from loader_bench import rate  # noqa: E402

        frames = sorted(glob.glob(os.path.join(args.data, "frames", "*.jpg")))
        pairs = [(f, os.path.join(args.data, "audio", os.path.basename(f)[:-4] + ".wav")) for f in frames]
        report["loader_samples_per_s_1thread"] = rate(pairs, 1)
        report["loader_samples_per_s"] = rate(pairs, args.threads)
        torch.set_num_threads(args.threads)
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(report))


if __name__ == "__main__":
    main()
