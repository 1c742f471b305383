"""The Python package against the command line: every function's result is compared with
what the `avsl` binary writes for the same input (AVSL_BIN, default target/release/avsl).
Run by tools/test_python.sh, which builds the package into a fresh venv."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import avsl

ROOT = Path(__file__).resolve().parents[3]
AVSL = os.environ.get("AVSL_BIN", str(ROOT / "target" / "release" / "avsl"))


def run(*args):
    subprocess.run([AVSL, *map(str, args)], check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    """A synthetic dataset, a small SLAVC trained one epoch on it, its maps of the test set."""
    root = tmp_path_factory.mktemp("avsl")
    data = root / "data"
    run("synth", "--seed", 5, "--train", 16, "--test", 8, "--negatives", 4, "--out", data)
    run("train", "--data", data, "--model", "slavc", "--epochs", 1, "--batch-size", 4, "--width", 8, "--dim", 16,
        "--seed", 1, "--threads", 2, "--output", root / "run")
    run("eval", "--checkpoint", root / "run" / "latest.safetensors", "--data", data, "--testset", "vggss_plus_silent",
        "--save-maps", "--output", root / "eval")
    return root


def test_spectrogram_and_frame_are_inspects(work, tmp_path):
    data = work / "data"
    sample = sorted((data / "audio").iterdir())[0].stem
    run("inspect", "--audio", data / "audio" / f"{sample}.wav", "--image", data / "frames" / f"{sample}.jpg",
        "--out", tmp_path / "insp")
    spec = avsl.spectrogram(data / "audio" / f"{sample}.wav")
    image = avsl.frame(data / "frames" / f"{sample}.jpg")
    assert spec.dtype == np.float32 and spec.shape[0] == 257
    assert np.array_equal(spec, np.load(tmp_path / "insp" / "spectrogram.npy"))
    assert image.shape == (3, 224, 224)
    assert np.array_equal(image, np.load(tmp_path / "insp" / "image_tensor.npy"))
    assert avsl.spectrogram(data / "audio" / f"{sample}.wav", seconds=1.0).shape[1] < spec.shape[1]


def test_evaluate_gives_eval_maps_metrics(work, tmp_path):
    data, maps = work / "data", work / "eval" / "maps"
    run("eval-maps", "--maps", maps, "--data", data, "--testset", "vggss_plus_silent", "--output", tmp_path / "cli")
    cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    from_folder = avsl.evaluate(maps, data=data, testset="vggss_plus_silent")
    assert from_folder == cli
    # The same maps as arrays: every figure the same (only the maps' folder differs).
    index = [line.split(",") for line in (maps / "index.csv").read_text().splitlines()[1:]]
    arrays = {(video, audio): np.load(maps / name) for video, audio, name in index}
    from_arrays = avsl.evaluate(arrays, data=data, testset="vggss_plus_silent")
    for result in (from_arrays, cli):
        result["config"].pop("maps")
    assert from_arrays == cli
    relative = avsl.evaluate(maps, data=data, testset="vggss_plus_silent", relative_prediction=True)
    assert relative["config"]["scoring"] != cli["config"]["scoring"]


def test_evaluate_refuses_what_eval_maps_refuses(work):
    data = work / "data"
    with pytest.raises(ValueError, match="unknown testset"):
        avsl.evaluate(work / "eval" / "maps", data=data, testset="nope")
    with pytest.raises(ValueError, match="no map"):
        avsl.evaluate({("x", "y"): np.zeros((7, 7))}, data=data, testset="vggss")
    with pytest.raises(ValueError, match="2-D"):
        avsl.evaluate({("x", "y"): np.zeros(7)}, data=data, testset="vggss")


def test_localizer_reports_what_localize_writes(work, tmp_path):
    data, checkpoint = work / "data", work / "run" / "latest.safetensors"
    sample = sorted((data / "audio").iterdir())[0].stem
    frame, audio = data / "frames" / f"{sample}.jpg", data / "audio" / f"{sample}.wav"
    run("localize", "--checkpoint", checkpoint, "--image", frame, "--audio", audio, "--out", tmp_path / "loc")
    cli = json.loads((tmp_path / "loc" / "result.json").read_text())
    localizer = avsl.Localizer(checkpoint)
    result = localizer.locate(frame, audio)
    assert np.array_equal(result.pop("map"), np.load(tmp_path / "loc" / "heatmap.npy"))
    for key in ("image", "audio", "heatmap"):
        cli.pop(key)
    assert result == cli


def test_localizer_takes_pixels_and_names_bad_files(work, tmp_path):
    data, checkpoint = work / "data", work / "run" / "latest.safetensors"
    sample = sorted((data / "audio").iterdir())[0].stem
    audio = data / "audio" / f"{sample}.wav"
    localizer = avsl.Localizer(checkpoint)
    # A PNG frame decodes to exactly these pixels, so the array and the file agree.
    pixels = (np.arange(90 * 120 * 3) % 251).astype(np.uint8).reshape(90, 120, 3)
    png = tmp_path / "frame.png"
    _write_png(png, pixels)
    from_file, from_array = localizer.locate(png, audio), localizer.locate(pixels, audio)
    assert np.array_equal(from_file.pop("map"), from_array.pop("map"))
    assert from_file == from_array
    # The WAV's own samples (read with the standard library) give the file's result, mono
    # and as a stereo pair of equal channels.
    import wave

    with wave.open(str(audio)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    from_samples = localizer.locate(pixels, (samples, rate))
    assert np.array_equal(from_samples.pop("map"), localizer.locate(pixels, audio)["map"])
    assert from_samples == from_array
    stereo = localizer.locate(pixels, (np.stack([samples, samples], axis=1), rate))
    stereo.pop("map")
    assert stereo == from_array
    # Half a second: tiled to fill the window, as evaluation does, and said so.
    short = localizer.locate(pixels, (samples[: rate // 2], rate))
    assert short["audio_window"] == {"clip_seconds": 0.5, "window_seconds": 3.0, "tiled": True}
    with pytest.raises(ValueError, match="int16"):
        localizer.locate(pixels, (samples.astype(np.float32), rate))
    with pytest.raises(OSError, match="missing.wav"):
        localizer.locate(png, tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEnothing")
    with pytest.raises(ValueError, match="bad.wav"):
        localizer.locate(png, bad)
    with pytest.raises(ValueError, match="uint8"):
        localizer.locate(pixels.astype(np.float32), audio)
    with pytest.raises((OSError, ValueError), match="nothing.safetensors"):
        avsl.Localizer(tmp_path / "nothing.safetensors")


def test_loader_batches_are_deterministic_and_cover_the_list(work):
    data = work / "data"
    ids = (data / "metadata" / "train.txt").read_text().split()
    one = avsl.Loader(data, batch_size=4, threads=1, seed=3)
    two = avsl.Loader(data, batch_size=4, threads=3, seed=3)
    assert len(one) == len(ids) and one.batches_per_epoch == len(ids) // 4
    first = list(one)
    assert [b.ids for b in first] == [b.ids for b in two]
    assert sorted(i for b in first for i in b.ids) == sorted(ids)
    for a, b in zip(first, two.epoch(0)):
        assert a.images.shape == (4, 3, 224, 224) and a.spectrograms.shape[:3] == (4, 1, 257)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.spectrograms, b.spectrograms)
    second = list(one)  # iterating again: the next epoch, another order
    assert [b.ids for b in second] != [b.ids for b in first]
    assert [b.ids for b in second] == [b.ids for b in two.epoch(1)]
    with pytest.raises(OSError, match="nothing.txt"):
        avsl.Loader(data, train_list=data / "nothing.txt")


def _write_png(path, pixels):
    """An 8-bit RGB PNG with numpy and zlib only."""
    import struct
    import zlib

    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
