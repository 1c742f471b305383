#!/usr/bin/env python3
"""PyTorch-side twin of `avsl bench loader`: the authors' per-sample work on the same files.

Per sample: Pillow decode + convert('RGB') + resize((224, 224), BICUBIC), ToTensor and
ImageNet Normalize (what torchvision does, written with torch ops), and the audio path of
docs/method.md §7 (centred 3 s window, 1/32767, clip, tile, scipy.signal.spectrogram, log, /12).
WAV files are read with scipy.io.wavfile (the authors' PyAV < 9 cannot be installed
today; PyAV decoding is slower, so this favours the reference). Prints one JSON line.

    avsl bench loader --data-dir /tmp/loader-data --json
    python tools/loader_bench.py /tmp/loader-data --threads 2
"""
import argparse
import glob
import json
import multiprocessing as mp
import os
import time

import numpy as np
import torch
from PIL import Image
from scipy import signal
from scipy.io import wavfile

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def load_pair(pair):
    frame, audio = pair
    img = Image.open(frame).convert("RGB").resize((224, 224), Image.BICUBIC)
    t = torch.from_numpy(np.asarray(img)).permute(2, 0, 1).float().div(255)
    t = (t - MEAN) / STD
    sr, x = wavfile.read(audio)
    n = x.shape[0]
    ss = max(n / sr / 2 - 1.5, 0)
    start = int(ss * sr)
    x = np.clip(x[start:start + int(3 * sr)] / 32767, -1, 1)
    if x.ndim > 1:
        x = x.mean(1)
    if x.shape[0] < sr * 3:
        x = np.tile(x, int(sr * 3 / x.shape[0]) + 1)[: int(sr * 3)]
    _, _, spec = signal.spectrogram(x, sr, nperseg=512, noverlap=274)
    s = torch.from_numpy(np.log(spec + 1e-7) / 12.0).float()
    return t, s


def rate(pairs, threads):
    torch.set_num_threads(1)
    rates = []
    for epoch in range(4):
        start = time.perf_counter()
        if threads == 1:
            for p in pairs:
                load_pair(p)
        else:
            with mp.Pool(threads) as pool:
                pool.map(load_pair, pairs, chunksize=8)
        if epoch > 0:
            rates.append(len(pairs) / (time.perf_counter() - start))
    return float(np.median(rates))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    frames = sorted(glob.glob(os.path.join(args.data, "frames", "*.jpg")))
    pairs = [(f, os.path.join(args.data, "audio", os.path.basename(f)[:-4] + ".wav")) for f in frames]
    one = rate(pairs, 1)
    many = rate(pairs, args.threads)
    print(json.dumps({"threads": args.threads, "device": "cpu", "loader_samples_per_s_1thread": one,
                      "loader_samples_per_s": many, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
