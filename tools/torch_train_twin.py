#!/usr/bin/env python3
"""PyTorch twin of `avsl train` for comparing learning curves on the same data: the same
network (ResNet-18 layout of any base width, SLAVC's two heads and momentum encoders or
EZ-VSL's single head), losses, initialisation scheme, augmentation and Adam, on a
dataset in the authors' layout (frames/<id>.jpg, audio/<id>.wav, a training list).
Batches, augmentation draws and initial weights are PyTorch's own (not avsl's), so the
curves agree in behaviour, not step for step.

    ~/.venvs/avsl-ref/bin/python tools/torch_train_twin.py DATA --model ezvsl --width 8 \\
        --dim 16 --batch-size 8 --lr 1e-3 --epochs 40 [--train-list F] [--dropout 0.0]

Prints the mean loss of every epoch and the median time of a step (forward, momentum
update, loss, backward, Adam; data loading excluded, as avsl's log "seconds"), and writes
every step as a JSON line with --log F. With --argmax-eval it then runs the test list
(`metadata/vggss_test.csv`, boxes from `metadata/vggss.json`) through the trained model
(eval mode, the test resize) and prints where each map's largest cell lies and how many
of those cells fall inside the sounding object's box: the check that tells localisation
from a positional shortcut (avsl's maps can be read the same way with `eval --save-maps`).
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.io import wavfile
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import reference_spectrogram  # noqa: E402
from make_model_fixtures import ezvsl_loss, slavc_loss  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class Trunk(nn.Module):
    """torchvision's ResNet-18 layout with base width `w` (conv1 … layer4)."""

    def __init__(self, cin, w, audio, stem_pool=True):
        super().__init__()
        self.stem_pool = stem_pool
        self.conv1 = nn.Conv2d(cin, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        layers, c = [], w
        for i in range(4):
            out = w << i
            layers += [Block(c, out, 1 if i == 0 else 2), Block(out, out, 1)]
            c = out
        self.blocks = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if isinstance(m, nn.BatchNorm2d) and audio:
                nn.init.normal_(m.weight, 1.0, 0.02)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.blocks(F.max_pool2d(x, 3, 2, 1) if self.stem_pool else x)


class Model(nn.Module):
    def __init__(self, width, dim, heads, stem_pool=True):
        super().__init__()
        self.imgnet, self.audnet = Trunk(3, width, False, stem_pool), Trunk(1, width, True)
        self.img_proj = nn.ModuleList([nn.Conv2d(8 * width, dim, 1) for _ in heads])
        self.aud_proj = nn.ModuleList([nn.Linear(8 * width, dim) for _ in heads])
        for p in self.aud_proj:
            nn.init.trunc_normal_(p.weight, mean=0.0, std=0.01)
        for p in self.img_proj:
            nn.init.kaiming_normal_(p.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, image, audio, dropout):
        f = F.dropout(self.imgnet(image), dropout, self.training)
        a = self.audnet(audio).amax(dim=(2, 3))
        v = [F.normalize(p(f), dim=1) for p in self.img_proj]
        a = [F.normalize(p(a), dim=1) for p in self.aud_proj]
        return v, a


def train_image(path, rng, side=224):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short = int(side * 1.1)
    if w <= h:
        size = (short, int(short * h / w))
    else:
        size = (int(short * w / h), short)
    img = img.resize(size, Image.BICUBIC)
    left, top = rng.randint(0, size[0] - side), rng.randint(0, size[1] - side)
    img = img.crop((left, top, left + side, top + side))
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    x = (np.asarray(img, np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def spectrogram(path, seconds=3.0):
    """The authors' 3 s spectrogram, cut to its first `seconds` (the synthetic tones are
    stationary, so which part is kept does not matter here)."""
    sr, pcm = wavfile.read(path)
    spec = reference_spectrogram(pcm.reshape(len(pcm), -1), sr)
    frames = (int(sr * seconds) - 512) // 238 + 1
    return torch.from_numpy(np.ascontiguousarray(spec[:, :frames]))[None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--train-list")
    ap.add_argument("--model", default="slavc", choices=["slavc", "ezvsl"])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--momentum", type=float, default=0.99)
    ap.add_argument("--dropout", type=float, default=None)
    ap.add_argument("--tau", type=float, default=0.03)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--no-stem-pool", action="store_true", help="drop the stem's max-pool (112² gives 7×7)")
    ap.add_argument("--log")
    ap.add_argument("--argmax-eval", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    ids = [l.strip() for l in open(args.train_list or os.path.join(args.data, "metadata", "train.txt")) if l.strip()]
    audio = {i: spectrogram(os.path.join(args.data, "audio", i + ".wav"), args.seconds) for i in ids}
    heads = ["1", "2"] if args.model == "slavc" else [""]
    dropout = args.dropout if args.dropout is not None else (0.9 if args.model == "slavc" else 0.0)
    pool = not args.no_stem_pool
    model = Model(args.width, args.dim, heads, pool)
    target = Model(args.width, args.dim, heads, pool) if args.model == "slavc" else None
    if target is not None:
        target.load_state_dict(model.state_dict())
        for p in target.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    log = open(args.log, "w") if args.log else None
    step, seconds = 0, []
    for epoch in range(args.epochs):
        order = ids[:]
        rng.shuffle(order)
        losses = []
        for b in range(len(order) // args.batch_size):
            batch = order[b * args.batch_size:(b + 1) * args.batch_size]
            images = torch.stack([train_image(os.path.join(args.data, "frames", i + ".jpg"), rng, args.image_size) for i in batch])
            specs = torch.stack([audio[i] for i in batch])
            start = time.perf_counter()
            model.train()
            v, a = model(images, specs, dropout)
            if target is None:
                loss = ezvsl_loss(v[0], a[0], args.tau)
            else:
                with torch.no_grad():
                    for pt, po in zip(target.parameters(), model.parameters()):
                        pt.mul_(args.momentum).add_(po.detach(), alpha=1 - args.momentum)
                    target.train()
                    vt, at = target(images, specs, dropout)
                loss = slavc_loss(v, a, vt, at, args.tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seconds.append(time.perf_counter() - start)
            step += 1
            losses.append(loss.item())
            if log:
                log.write(json.dumps({"step": step, "epoch": epoch + 1, "loss": loss.item(), "seconds": seconds[-1]}) + "\n")
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f} ({len(losses)} steps, median step "
              f"{np.median(seconds):.3f} s without loading)", flush=True)
        if args.argmax_eval:
            argmax_eval(target or model, args.data, args.image_size, args.seconds)


def argmax_eval(model, data, side, seconds):
    """Where the test maps peak, and how often the peak cell's centre is in the box."""
    boxes = {e["file"]: e["bbox"][0] for e in json.load(open(os.path.join(data, "metadata", "vggss.json")))}
    ids = [l.split(",")[0].strip() for l in open(os.path.join(data, "metadata", "vggss_test.csv")) if l.strip()]
    model.eval()
    cells, inside, located = {}, 0, 0
    with torch.no_grad():
        for i in ids:
            img = Image.open(os.path.join(data, "frames", i + ".jpg")).convert("RGB").resize((side, side), Image.BICUBIC)
            x = torch.from_numpy(((np.asarray(img, np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy())[None]
            v, a = model(x, spectrogram(os.path.join(data, "audio", i + ".wav"), seconds)[None], 0.0)
            s = sum((vh[0] * ah[0][:, None, None]).sum(0) for vh, ah in zip(v, a))
            h, w = s.shape
            r, c = divmod(int(s.argmax()), w)
            cells[(r, c)] = cells.get((r, c), 0) + 1
            b = boxes[i]
            inside += b[0] <= (c + 0.5) / w <= b[2] and b[1] <= (r + 0.5) / h <= b[3]
            located += ciou_top_half(s, b) >= 0.5
    top = sorted(cells.items(), key=lambda kv: -kv[1])[:8]
    model.train()
    print(f"test maps ({h}x{w}): LocAcc@50 ~{located / len(ids):.2f}; peak cell in the box for {inside} of "
          f"{len(ids)}; peak cells {top}", flush=True)


def ciou_top_half(cell_map, box):
    """An approximate cIoU: the map upsampled bilinearly to 224², its top half of pixels
    against the box (the exact protocol is `avsl eval`'s; this is a quick learning check)."""
    m = F.interpolate(cell_map[None, None], size=(224, 224), mode="bilinear", align_corners=False)[0, 0]
    pred = m >= m.flatten().median()
    gt = torch.zeros(224, 224, dtype=torch.bool)
    x0, y0, x1, y1 = (int(round(v * 224)) for v in box)
    gt[y0:y1, x0:x1] = True
    return float((pred & gt).sum()) / float(gt.sum() + (pred & ~gt).sum())


if __name__ == "__main__":
    main()
