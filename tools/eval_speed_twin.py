#!/usr/bin/env python3
"""The work of the authors' SLAVC test.py, timed, for comparison with `avsl eval`.

What their test loop does per sample (batch 1, the default): decode and preprocess the
frame (Pillow) and the audio window (scipy spectrogram), run BOTH encoder sets (online and
momentum: image and audio trunks and heads) and the loss, the object network, upsample the
maps (PyTorch bicubic) and score the three variants; plus loading the checkpoint and the
object weights. Written from docs/method.md with PyTorch + torchvision (no code of theirs).

    ~/.venvs/avsl-ref/bin/python tools/eval_speed_twin.py --data DIR --checkpoint F \\
        --object-weights F [--threads 2] [--testset vggss_plus_silent]

Prints the wall time; run `avsl eval` on the same files with the same thread count and
report the ratio.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
from torchvision.models import resnet18

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_eval_fixtures import audio_input, image_input, test_list  # noqa: E402
from make_metric_fixtures import gt_map, score_sample, to_range, upsample  # noqa: E402
from make_model_fixtures import build_model, embeddings, paired_map, slavc_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--object-weights", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=True)["model"]
    state = {k.replace("module.", ""): v for k, v in ckpt.items()}
    dim = state["img_proj1.weight"].shape[0]
    model = build_model(dim, ["1", "2"], momentum=True).eval()
    model.load_state_dict(state)
    ogl = resnet18().eval()
    ogl.load_state_dict(torch.load(args.object_weights, map_location="cpu", weights_only=True))
    ogl.avgpool = torch.nn.Identity()
    ogl.fc = torch.nn.Identity()
    samples = test_list(args.data)
    tau = 0.03
    with torch.no_grad():
        for name, video, audio, boxes in samples:
            image = image_input(os.path.join(args.data, "frames", video + ".jpg"))
            spec = audio_input(os.path.join(args.data, "audio", audio + ".wav"))
            _, _, v, a = embeddings(model, "", ["1", "2"], image, spec)
            _, _, vt, at = embeddings(model, "momentum_", ["1", "2"], image, spec)
            slavc_loss(v, a, vt, at, tau)
            s = paired_map(v, a, tau)[0].numpy()
            o = ogl(image).unflatten(1, (512, 7, 7)).abs().mean(1)[0].numpy()
            gt = gt_map(boxes, "vggss") if boxes else np.zeros((224, 224))
            av = to_range(upsample(s[None])[0], -1 / tau, 1 / tau)
            obj = to_range(upsample(o[None])[0], 0, 2.5)
            for scores in (av, obj, av * 0.9 + obj * 0.1):
                score_sample(scores, gt, ("fixed", 0.5))
    print(f"{len(samples)} samples in {time.time() - start:.1f} s on {args.threads} threads (torch {torch.__version__})")


if __name__ == "__main__":
    main()
