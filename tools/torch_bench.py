#!/usr/bin/env python3
"""PyTorch twin of `avsl bench --json`: the same work, sizes and thread count, the same
JSON keys, so `tools/compare_bench.sh` can print the ratios side by side.

- train_step_ms_b8: one SLAVC training step (online forward with visual dropout 0.9,
  momentum update, target forward, loss, backward, Adam) at batch 8, d = 512, ResNet-18
  trunks, 224x224 images and 257x200 spectrograms; median of 3 after one warm-up.
- train_step_ms_demo: the same at the demo's sizes (width 16, d = 64, batch 8, 112x112 frames
  through an image trunk without its stem max-pool, 257x66 spectrograms: 1 s).
- eval_forward_ms_b1 / _b8: one encoder set (image and audio embeddings, d = 512) plus the
  object network (torchvision ResNet-18 layer4 maps), no_grad, eval mode; median of 5.
- loader_samples_per_s_1thread / loader_samples_per_s: tools/loader_bench.py's per-sample
  work on the files `avsl bench loader --data-dir DIR` wrote (only with --data DIR).
- peak_rss_mb: the process's peak resident memory.

On a GPU (`--device cuda`) the same keys, timed with the device synchronised, plus
`train_step_ms_b{B}` / `train_samples_per_s_b{B}` at `--train-batch` and
`eval_forward_ms_b{B}` at each `--eval-batch`; `--precision bf16` runs under bf16
autocast and `--channels-last` in that memory format (issue #9's PyTorch anchors).

    ~/.venvs/avsl-ref/bin/python tools/torch_bench.py --threads 2 [--data DIR]
    python3 tools/torch_bench.py --device cuda --train-batch 128 --eval-batch 1,8,128 [--precision bf16] [--channels-last]
"""
import argparse
import contextlib
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


class Setup:
    """Where and how the twin runs: device, autocast dtype (None: fp32), memory format."""

    def __init__(self, device, precision, channels_last):
        self.device = torch.device(device)
        self.dtype = torch.bfloat16 if precision == "bf16" else None
        self.format = torch.channels_last if channels_last else torch.contiguous_format

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def module(self, m):
        return m.to(self.device, memory_format=self.format)

    def inputs(self, batch, side=224, frames=200):
        images = torch.randn(batch, 3, side, side, device=self.device).to(memory_format=self.format)
        specs = torch.randn(batch, 1, 257, frames, device=self.device).to(memory_format=self.format)
        return images, specs


def median_ms(setup, f, runs):
    f()
    setup.sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        setup.sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def train_step_ms(setup, width, dim, batch, side=224, frames=200, stem_pool=True):
    model = setup.module(Model(width, dim, ["1", "2"], stem_pool))
    target = setup.module(Model(width, dim, ["1", "2"], stem_pool))
    target.load_state_dict(model.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    images, specs = setup.inputs(batch, side, frames)

    def step():
        model.train()
        with setup.autocast():
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

    return median_ms(setup, step, 3 if setup.device.type == "cpu" else 10)


def eval_forward_ms(setup, batch):
    model = setup.module(Model(64, 512, ["1", "2"])).eval()
    ogl = setup.module(resnet18()).eval()
    images, specs = setup.inputs(batch)

    def forward():
        with torch.no_grad(), setup.autocast():
            model(images, specs, 0.0)
            x = ogl.layer4(ogl.layer3(ogl.layer2(ogl.layer1(ogl.maxpool(ogl.relu(ogl.bn1(ogl.conv1(images))))))))
            x.abs().mean(1)

    return median_ms(setup, forward, 5 if setup.device.type == "cpu" else 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", help="files of `avsl bench loader --data-dir DIR`, for the loader figures")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--eval-batch", default="1,8", help="comma-separated batches")
    ap.add_argument("--loader-only", action="store_true", help="only the loader figures (needs --data)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    setup = Setup(args.device, args.precision, args.channels_last)
    report = {"threads": args.threads, "device": args.device, "torch": torch.__version__}
    report["precision"] = args.precision + ("+channels_last" if args.channels_last else "")
    if not args.loader_only:
        b = args.train_batch
        report[f"train_step_ms_b{b}"] = train_step_ms(setup, 64, 512, b)
        report[f"train_samples_per_s_b{b}"] = b * 1000.0 / report[f"train_step_ms_b{b}"]
        report["train_step_ms_demo"] = train_step_ms(setup, 16, 64, 8, side=112, frames=66, stem_pool=False)
        for b in map(int, args.eval_batch.split(",")):
            report[f"eval_forward_ms_b{b}"] = eval_forward_ms(setup, b)
    if setup.device.type == "cuda":
        report["peak_gpu_mb"] = torch.cuda.max_memory_allocated(setup.device) / 2**20
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
