#!/usr/bin/env python3
"""Golden fixtures for the SSL-align authors' test input pipeline (`TestPipeline::SslAlign`,
docs/method.md §4c): frames through torchvision's own `ToTensor()`, tensor
`Resize((size, size), BICUBIC)` (antialias on, torchvision's default) and `Normalize`;
clips through an independent numpy rewrite of their loader from its definition (read
int(min(dur, d)·sr) samples from the start, clip, tile, cut, `np.roll` to centre),
`scipy.signal.spectrogram`, and torchvision's `ToTensor()`, `CenterCrop((257, W))`,
`Normalize(0, 12)`.

    ~/.venvs/avsl-ref/bin/python tools/make_ssl_align_pipeline_fixtures.py

Writes tests/fixtures/ssl_align_pipeline/: the input frames (PNG), the expected frames
(float32 .npy), cases.json (the clips, defined by `pcm_signal` of make_fixtures.py so no
WAV is stored) and the expected spectrograms (float32 .npy).
"""
import json
import os
import sys
from fractions import Fraction

import numpy as np
import torch
import torchvision
from PIL import Image
from scipy import signal
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import pcm_signal, synthetic_rgb  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "ssl_align_pipeline")

# name, width, height, output side
FRAMES = [("shrink_320x240", 320, 240, 224), ("grow_48x40", 48, 40, 64), ("tall_90x200", 90, 200, 112)]

# name, sample rate, channels, frames, seed, clip seconds, crop columns
CLIPS = [
    ("long_16k_10s", 16000, 1, 163211, 11, 10.0, 200),
    ("short_16k_2s", 16000, 1, 37001, 12, 10.0, 200),
    ("stereo_16k_5s", 16000, 2, 80000, 13, 5.0, 200),
    ("short_22k_5s", 22050, 1, 51123, 14, 5.0, 200),
    ("one_second_window", 16000, 1, 90001, 15, 10.0, 66),
]


def frame_input(w, h, seed):
    return Image.fromarray(synthetic_rgb(w, h, seed), "RGB")


def expected_frame(img, side):
    t = transforms.Compose([
        transforms.ToTensor(),
        transforms.Resize((side, side), transforms.InterpolationMode.BICUBIC),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    return t(img).numpy().astype(np.float32)


def loader_signal(mono, sr, dur):
    """Their `load_spectrogram` up to the spectrogram, step by step."""
    n = len(mono)
    stream_end = 0.0 + Fraction(n, sr)  # `_ss + _dur`, _ss the float 0.
    duration = min(dur, stream_end - 0)
    t = int(duration * sr)
    audio = mono[:t] / np.iinfo(np.int16).max
    audio = np.clip(audio, -1.0, 1.0)
    if audio.shape[0] < sr * dur:
        k = int(sr * dur / audio.shape[0]) + 1
        audio = np.tile(audio, k)
    audio = audio[: int(sr * dur)]
    audio_dur = Fraction(n, sr)  # stream.duration * time_base
    centre = int(float(audio_dur) / 2 * sr)
    shift = int(sr * dur / 2) - centre
    return np.roll(audio, shift)


def expected_spectrogram(pcm, sr, dur, columns):
    if pcm.shape[1] == 2:
        mono = ((pcm[:, 0].astype(np.int32) + pcm[:, 1].astype(np.int32) + 1) >> 1).astype(np.int16)
    else:
        mono = pcm[:, 0]
    _, _, spec = signal.spectrogram(loader_signal(mono, sr, dur), sr, nperseg=512, noverlap=274)
    spec = np.log(spec + 1e-7)
    t = transforms.Compose([
        transforms.ToTensor(),
        transforms.CenterCrop((257, columns)),
        transforms.Normalize(mean=[0.0], std=[12.0]),
    ])
    return t(spec)[0].numpy().astype(np.float32), spec.shape[1]


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = dict(frames=[], clips=[], torch=torch.__version__, torchvision=torchvision.__version__)
    for i, (name, w, h, side) in enumerate(FRAMES):
        img = frame_input(w, h, 40 + i)
        img.save(os.path.join(OUT, f"{name}.png"))
        np.save(os.path.join(OUT, f"{name}.expected.npy"), expected_frame(img, side))
        cases["frames"].append(dict(name=name, side=side))
    for name, sr, ch, frames, seed, dur, columns in CLIPS:
        spec, full = expected_spectrogram(pcm_signal(frames, ch, seed, "mix"), sr, dur, columns)
        np.save(os.path.join(OUT, f"{name}.expected.npy"), spec)
        cases["clips"].append(dict(name=name, sample_rate=sr, channels=ch, frames=frames, seed=seed,
                                   clip_seconds=dur, columns=columns, full_frames=full))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
