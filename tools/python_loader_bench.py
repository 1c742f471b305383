#!/usr/bin/env python3
"""avsl's Python loader (`avsl.Loader`) against the PyTorch-side twin of tools/loader_bench.py,
in one run, on the same files: samples per second over epochs 2-4 (median), both with the
test pipeline (no augmentation: the twin's work), and ours with the training augmentation.

    avsl bench loader --data-dir /tmp/loader-data          # makes the files once
    pip install ./crates/avsl-py                           # into the reference venv
    python tools/python_loader_bench.py /tmp/loader-data --threads 2
"""
import argparse
import glob
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loader_bench  # noqa: E402

import avsl  # noqa: E402


def avsl_rate(data, ids, threads, augment, batch_size=16):
    with tempfile.TemporaryDirectory() as tmp:
        listed = os.path.join(tmp, "list.txt")
        with open(listed, "w") as f:
            f.write("\n".join(ids) + "\n")
        loader = avsl.Loader(data, train_list=listed, batch_size=batch_size, threads=threads, augment=augment,
                             shuffle=False, drop_last=False)
        rates = []
        for epoch in range(4):
            start = time.perf_counter()
            n = sum(len(batch.ids) for batch in loader.epoch(epoch))
            if epoch > 0:
                rates.append(n / (time.perf_counter() - start))
        return float(np.median(rates))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    frames = sorted(glob.glob(os.path.join(args.data, "frames", "*.jpg")))
    ids = [os.path.basename(f)[:-4] for f in frames]
    pairs = [(f, os.path.join(args.data, "audio", i + ".wav")) for f, i in zip(frames, ids)]
    twin = loader_bench.rate(pairs, args.threads)
    test = avsl_rate(args.data, ids, args.threads, augment=False)
    train = avsl_rate(args.data, ids, args.threads, augment=True)
    print(json.dumps({"threads": args.threads, "samples": len(ids), "torch_twin_samples_per_s": twin,
                      "avsl_python_samples_per_s": test, "avsl_python_train_augment_samples_per_s": train,
                      "ratio_avsl_over_twin": test / twin}))


if __name__ == "__main__":
    main()
