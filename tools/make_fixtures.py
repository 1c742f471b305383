#!/usr/bin/env python3
"""Golden fixtures for avsl's exactness tests, made with the reference libraries.

Usage (from the repository root, in a venv with numpy, scipy and Pillow from PyPI):

    python3 -m venv ~/.venvs/avsl-ref && ~/.venvs/avsl-ref/bin/pip install numpy scipy pillow
    ~/.venvs/avsl-ref/bin/python tools/make_fixtures.py

It rewrites tests/fixtures/{audio,images}. The outputs are committed, so `cargo test`
needs no Python. Versions used for the committed files are recorded in
tests/fixtures/versions.json.

Audio: the test signals are defined by integer formulas (`pcm_signal`, mirrored in
crates/avsl-data/tests/fixtures.rs), so only the expected spectrograms are stored. The
window arithmetic follows the authors' loader literally (Fractions, float `int()` casts,
the decoder's microsecond seek rounded half up, docs/method.md §7 items 5-8); the spectrogram is
`scipy.signal.spectrogram` itself.

Images: inputs are stored (PNG and Pillow-encoded JPEG); expected outputs are Pillow's
own `convert('RGB')` and `resize(..., Image.BICUBIC)`.
"""
import json
import os
from fractions import Fraction

import numpy as np
import PIL
import scipy
from PIL import Image
from scipy import signal

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


# --------------------------------------------------------------------------- audio
def pcm_signal(frames, channels, seed, kind):
    """Interleaved int16 samples from integer arithmetic only (mirrored in Rust)."""
    i = np.arange(frames * channels, dtype=np.int64)
    h = (i * 2654435761 + seed * 97) % (1 << 32)
    noise = (h >> 18) - 8192
    period = 160 + 7 * seed
    phase = i % period
    tri = np.abs(2 * phase * 40000 // period - 40000) - 20000
    v = noise + tri
    v = np.where((i // 4000) % 5 == 4, 0, v)  # silent stretches
    if kind == "fullscale":
        block = (i // 50) % 3
        v = np.where(block == 0, -32768, np.where(block == 1, 32767, v))
    return v.astype(np.int16).reshape(frames, channels)


def reference_window(n, sr, dur=3.0):
    """(start, length) the authors' PyAV loader reads: their arithmetic, step by step."""
    audio_dur = Fraction(n, sr)  # stream.duration * time_base
    audio_ss = max(float(audio_dur) / 2 - dur / 2, 0)
    seek_us = int(audio_ss * 1000000)  # container.seek(int(start_time * av.time_base))
    seek = (seek_us * sr + 500000) // 1000000  # demuxer: av_rescale_rnd(.., AV_ROUND_NEAR_INF)
    chunk_start = Fraction(seek, sr)
    # The stream end `_ss + _dur` is a float (docs/method.md §7 item 5: the length is
    # int(min(3.0, n/sr - ss) * sr) in float64, n - 1 for some short clips).
    stream_end = 0.0 + audio_dur
    duration = min(dur, stream_end - audio_ss)
    ss = int((audio_ss - chunk_start) * sr)
    t = int(duration * sr)
    start = seek + ss
    return start, max(0, min(t, n - start))


def reference_spectrogram(pcm, sr):
    """int16 [frames, channels] -> float32 [257, T] exactly as the reference pipeline."""
    if pcm.shape[1] == 2:
        mono = ((pcm[:, 0].astype(np.int32) + pcm[:, 1].astype(np.int32) + 1) >> 1).astype(np.int16)
    else:
        mono = pcm[:, 0]
    start, length = reference_window(len(mono), sr)
    audio = mono[start:start + length] / np.iinfo(np.int16).max
    audio = np.clip(audio, -1.0, 1.0)
    if audio.shape[0] < sr * 3.0:
        n = int(sr * 3.0 / audio.shape[0]) + 1
        audio = np.tile(audio, n)
    audio = audio[: int(sr * 3.0)]
    _, _, spec = signal.spectrogram(audio, sr, nperseg=512, noverlap=274)
    spec = np.log(spec + 1e-7)
    return (spec / 12.0).astype(np.float32)


AUDIO_CASES = [
    # name, sample rate, channels, frames, seed, kind
    ("mono16k_long", 16000, 1, 80000, 1, "mix"),
    ("stereo16k_odd", 16000, 2, 69919, 2, "mix"),
    ("mono16k_short", 16000, 1, 20801, 3, "mix"),
    ("mono16k_fullscale", 16000, 1, 48000, 4, "fullscale"),
    ("mono22k_odd", 22050, 1, 81811, 5, "mix"),
    ("stereo22k_short", 22050, 2, 48511, 6, "mix"),
    ("mono44k_odd", 44100, 1, 145531, 7, "mix"),
    ("stereo44k_short", 44100, 2, 74971, 8, "fullscale"),
]


def make_audio():
    out = os.path.join(ROOT, "audio")
    os.makedirs(out, exist_ok=True)
    cases = []
    for name, sr, ch, frames, seed, kind in AUDIO_CASES:
        spec = reference_spectrogram(pcm_signal(frames, ch, seed, kind), sr)
        # Every 2nd column at 16 kHz, every 4th above (and always the last), to stay small:
        # the computation is the same for every column, so a subset checks it.
        step = 2 if sr == 16000 else 4
        cols = sorted(set(range(0, spec.shape[1], step)) | {spec.shape[1] - 1})
        np.save(os.path.join(out, f"{name}.npy"), np.ascontiguousarray(spec[:, cols]))
        start, length = reference_window(frames, sr)
        cases.append(dict(name=name, sample_rate=sr, channels=ch, frames=frames, seed=seed, kind=kind,
                          window_start=start, window_len=length, spec_frames=spec.shape[1], columns=cols))
    windows = []
    rng = np.random.default_rng(0)
    for sr in (8000, 11025, 16000, 22050, 32000, 44100, 48000):
        lengths = set(int(v) for v in rng.integers(1, 12 * sr, 150))
        lengths |= {1, 2, 511, 512, 3 * sr - 1, 3 * sr, 3 * sr + 1, 3 * sr + 2}
        for n in sorted(lengths):
            start, length = reference_window(n, sr)
            windows.append([sr, n, start, length, start != int(max(n / sr / 2 - 1.5, 0) * sr)])
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(dict(cases=cases, windows=windows), f)


# --------------------------------------------------------------------------- images
def synthetic_rgb(w, h, seed):
    """Smooth gradients, hard-edged shapes and some noise: compresses, yet stresses filters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 3) % 256], -1).astype(np.int32)
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(4, max(5, w // 3)), y0 + rng.integers(4, max(5, h // 3))
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    img += rng.integers(-3, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_png(arr, path, mode=None):
    Image.fromarray(arr, mode).save(path, optimize=True)


IMAGE_CASES = [
    # name, width, height, kind (rgb / gray / rgba / palette), stored as
    ("rgb_320x240", 320, 240, "rgb", "png"),
    ("rgb_224x224", 224, 224, "rgb", "png"),
    ("rgb_100x80_upscale", 100, 80, "rgb", "png"),
    ("rgb_600x130_wide", 600, 130, "rgb", "png"),
    ("rgb_150x500_tall", 150, 500, "rgb", "png"),
    ("gray_180x260", 180, 260, "gray", "png"),
    ("rgba_250x200", 250, 200, "rgba", "png"),
    ("palette_230x170", 230, 170, "palette", "png"),
    ("rgb_480x270_q90", 480, 270, "rgb", "jpg"),
    ("rgb_224x224_q75", 224, 224, "rgb", "jpg"),
    ("gray_300x200_q90", 300, 200, "gray", "jpg"),
]


def make_images():
    out = os.path.join(ROOT, "images")
    os.makedirs(out, exist_ok=True)
    cases = []
    for k, (name, w, h, kind, fmt) in enumerate(IMAGE_CASES):
        rgb = synthetic_rgb(w, h, k)
        if kind == "gray":
            src = Image.fromarray(rgb[..., 1], "L")
        elif kind == "rgba":
            alpha = ((np.arange(w)[None, :] + np.arange(h)[:, None]) % 256).astype(np.uint8)
            src = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
        elif kind == "palette":
            src = Image.fromarray(rgb, "RGB").quantize(colors=64)
        else:
            src = Image.fromarray(rgb, "RGB")
        path = os.path.join(out, f"{name}.{fmt}")
        if fmt == "png":
            src.save(path, optimize=True)
        else:
            src.save(path, quality=90 if "q90" in name else 75)
        # What the reference does with the stored file.
        decoded = Image.open(path).convert("RGB")
        resized = decoded.resize((224, 224), Image.BICUBIC)
        save_png(np.asarray(resized), os.path.join(out, f"{name}.expected_224.png"))
        case = dict(name=name, file=f"{name}.{fmt}", width=w, height=h, kind=kind, format=fmt)
        # Pillow <= 12 (and the authors' 8.4) always resize horizontally first; Pillow 13
        # may go vertically first. Two single-axis resizes reproduce the old order exactly.
        old_order = decoded.resize((224, decoded.height), Image.BICUBIC).resize((224, 224), Image.BICUBIC)
        if np.any(np.asarray(old_order) != np.asarray(resized)):
            save_png(np.asarray(old_order), os.path.join(out, f"{name}.expected_224_hfirst.png"))
            case["hfirst_differs"] = True
        if fmt == "jpg":
            save_png(np.asarray(decoded), os.path.join(out, f"{name}.expected_decoded.png"))
        if name == "rgb_320x240":
            # torchvision Resize(246): shorter side 246, longer int(246 * long / short).
            short, long = min(w, h), max(w, h)
            size = (int(246 * long / short), 246) if w >= h else (246, int(246 * long / short))
            save_png(np.asarray(decoded.resize(size, Image.BICUBIC)), os.path.join(out, f"{name}.expected_246.png"))
            # ToTensor + Normalize in float32 (as torchvision computes it), rows 0, 111, 223.
            t = np.asarray(resized).astype(np.float32).transpose(2, 0, 1) / np.float32(255)
            mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
            std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
            t = (t - mean) / std
            np.save(os.path.join(out, f"{name}.expected_tensor_rows.npy"), np.ascontiguousarray(t[:, [0, 111, 223], :]))
        cases.append(case)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(dict(cases=cases), f, indent=1)


if __name__ == "__main__":
    make_audio()
    make_images()
    with open(os.path.join(ROOT, "versions.json"), "w") as f:
        json.dump(dict(numpy=np.__version__, scipy=scipy.__version__, pillow=PIL.__version__), f, indent=1)
