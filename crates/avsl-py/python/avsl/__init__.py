"""avsl from Python: the exact inputs, metrics, localiser and loader of the `avsl` command
line, as numpy arrays, for use inside a PyTorch (or any) training loop.

Every function runs the same Rust code as the command: `spectrogram` and `frame` give what
`avsl inspect` writes, `evaluate` what `avsl eval-maps` writes to metrics.json, `Localizer`
what `avsl localize --image --audio` reports, `Loader` the batches `avsl train` trains on.
Keyword names are the command line's flag names with `_` for `-`, with its defaults.
Problems with a file raise `ValueError` (bad content) or `OSError` (unreadable), naming it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Iterator, NamedTuple, Optional, Union

import numpy as np

from . import _avsl

__all__ = ["spectrogram", "frame", "evaluate", "Localizer", "Loader", "Batch"]

PathLike = Union[str, "os.PathLike[str]"]


def _array(data: bytearray, shape: tuple) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32).reshape(shape)


def spectrogram(path: PathLike, seconds: float = 3.0) -> np.ndarray:
    """The log-spectrogram the audio network hears of a WAV file: float32 [257, T], its
    centred window of `seconds` (tiled when the clip is shorter), as `avsl inspect`'s
    spectrogram.npy."""
    data, shape = _avsl.spectrogram(os.fspath(path), seconds)
    return _array(data, shape)


def frame(path: PathLike) -> np.ndarray:
    """A frame as the test pipeline feeds it: float32 [3, 224, 224] (Pillow-exact bicubic
    resize, ImageNet normalisation), as `avsl inspect`'s image_tensor.npy."""
    data, shape = _avsl.frame(os.fspath(path))
    return _array(data, shape)


def _map_list(maps: Mapping, what: str) -> list:
    """{key: 2-D array} as (key parts, float32 bytes, rows, columns)."""
    out = []
    for key, value in maps.items():
        parts = [str(k) for k in key] if isinstance(key, tuple) else [str(key)]
        array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        if array.ndim != 2:
            raise ValueError(f"{what} {key!r}: a 2-D map is expected, not shape {array.shape}")
        out.append((parts, array.tobytes(), array.shape[0], array.shape[1]))
    return out


def evaluate(
    maps: Union[PathLike, Mapping[tuple, Any]],
    *,
    data: PathLike,
    testset: str,
    map_kind: str = "logits",
    metadata: Optional[PathLike] = None,
    gt: Optional[PathLike] = None,
    object_maps: Union[None, PathLike, Mapping[str, Any]] = None,
    relative_prediction: bool = False,
    pred_thr: Optional[float] = None,
    alpha: Optional[float] = None,
    tau: float = 0.03,
    plus_silent_csv: Optional[PathLike] = None,
    protocol: Optional[str] = None,
    allow_outside_paths: bool = False,
) -> dict:
    """Scores a model's maps with the authors' protocol, as `avsl eval-maps`; returns the
    dict it writes to metrics.json, figure for figure.

    `maps`: a map folder (index.csv `video,audio,map` and .npy maps) or a dict
    {(video_id, audio_id): 2-D array} (7x7, any h x w, or 224x224); `object_maps` likewise,
    keyed by video id. Every pair of the test list needs its map."""
    def opt(p):
        return None if p is None else os.fspath(p)

    kwargs = {}
    if isinstance(maps, Mapping):
        kwargs["map_list"] = _map_list(maps, "map")
    else:
        kwargs["maps"] = os.fspath(maps)
    if isinstance(object_maps, Mapping):
        kwargs["object_list"] = _map_list(object_maps, "object map")
    elif object_maps is not None:
        kwargs["object_maps"] = os.fspath(object_maps)
    text = _avsl.evaluate(
        data=os.fspath(data), testset=testset, map_kind=map_kind, metadata=opt(metadata), gt=opt(gt),
        relative_prediction=relative_prediction, pred_thr=pred_thr, alpha=alpha, tau=tau,
        plus_silent_csv=opt(plus_silent_csv), protocol=protocol, allow_outside_paths=allow_outside_paths, **kwargs,
    )
    return json.loads(text)


class Localizer:
    """A checkpoint (the authors' .pth or avsl's .safetensors) ready to localise pairs, as
    `avsl localize`: where in the frame the sound is, and whether anything visible makes it
    (with a calibrated threshold: `avsl eval` on an extended set writes one into the
    checkpoint's calibration)."""

    def __init__(
        self,
        checkpoint: PathLike,
        *,
        object_weights: Optional[PathLike] = None,
        alpha: Optional[float] = None,
        calibration: Optional[PathLike] = None,
        encoders: Optional[str] = None,
        tau: float = 0.03,
        relative_prediction: bool = False,
        pred_thr: Optional[float] = None,
        device: str = "cpu",
    ) -> None:
        def opt(p):
            return None if p is None else os.fspath(p)

        self._inner = _avsl.Localizer(
            os.fspath(checkpoint), object_weights=opt(object_weights), alpha=alpha, calibration=opt(calibration),
            encoders=encoders, tau=tau, relative_prediction=relative_prediction, pred_thr=pred_thr, device=device,
        )

    @property
    def audio_seconds(self) -> float:
        """Seconds of sound the model hears (its centred window of a clip)."""
        return self._inner.audio_seconds

    @property
    def undecided(self) -> Optional[str]:
        """Why there is no sounding / not-sounding decision, or None."""
        return self._inner.undecided

    def locate(
        self, frame: Union[PathLike, np.ndarray], audio: Union[PathLike, tuple[np.ndarray, int]]
    ) -> dict:
        """Localises the sound of `audio` in `frame`. `frame`: an image file, or an
        H x W x 3 uint8 RGB array. `audio`: a WAV file, or `(samples, sample_rate)` with
        int16 samples, shape [N] (mono) or [N, 2] (stereo, down-mixed as the reference
        does): what the WAV file holds; a clip shorter than `audio_seconds` is tiled to
        fill the window. Returns result.json's fields (`confidence`, `decision`, `peak`,
        `box` in the frame's pixels with exclusive corners, `region_fraction`,
        `audio_window`, `width`, `height`, `threshold`, `model`)
        and `map`, the 224 x 224 float32 map the region is thresholded from."""
        kwargs: dict = {}
        if isinstance(frame, np.ndarray):
            pixels = np.ascontiguousarray(frame)
            if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
                raise ValueError(f"frame: an H x W x 3 uint8 RGB array is expected, not {pixels.dtype} {pixels.shape}")
            kwargs["frame_rgb"] = (pixels.tobytes(), pixels.shape[0], pixels.shape[1])
        else:
            kwargs["frame"] = os.fspath(frame)
        if isinstance(audio, tuple):
            samples, sample_rate = audio
            samples = np.ascontiguousarray(samples)
            if samples.dtype != np.int16 or samples.ndim not in (1, 2) or (samples.ndim == 2 and samples.shape[1] > 2):
                raise ValueError(f"audio: int16 samples of shape [N] or [N, 2] are expected, not {samples.dtype} {samples.shape}")
            channels = 1 if samples.ndim == 1 else samples.shape[1]
            kwargs["audio_pcm"] = (samples.tobytes(), channels, int(sample_rate))
        else:
            kwargs["audio"] = os.fspath(audio)
        text, data = self._inner.locate(**kwargs)
        result = json.loads(text)
        result["map"] = _array(data, (224, 224))
        return result


class Batch(NamedTuple):
    """One training batch: `images` float32 [B, 3, S, S] (normalised, augmented),
    `spectrograms` float32 [B, 1, 257, T], `ids` the samples' ids in the list, `skipped`
    (path, problem) of samples left out with `skip_bad`."""

    images: np.ndarray
    spectrograms: np.ndarray
    ids: list
    skipped: list


class Loader:
    """The pairs of a training list (default DATA/metadata/train.txt), batched as `avsl train`
    batches them: shuffled and augmented per (seed, epoch), decoded on `threads` threads
    ahead of the step; the same batches for the same seed whatever the thread count.
    Iterating the loader again goes on to the next epoch; `epoch(n)` gives epoch n."""

    def __init__(
        self,
        data: PathLike,
        *,
        train_list: Optional[PathLike] = None,
        batch_size: int = 128,
        threads: int = 4,
        seed: int = 0,
        shuffle: bool = True,
        augment: bool = True,
        drop_last: bool = True,
        image_size: int = 224,
        audio_seconds: float = 3.0,
        skip_bad: bool = False,
        prefetch: int = 2,
    ) -> None:
        self._inner = _avsl.Loader(
            os.fspath(data), train_list=None if train_list is None else os.fspath(train_list),
            batch_size=batch_size, threads=threads, seed=seed, shuffle=shuffle, augment=augment,
            drop_last=drop_last, image_size=image_size, audio_seconds=audio_seconds, skip_bad=skip_bad,
            prefetch=prefetch,
        )

    def __len__(self) -> int:
        return len(self._inner)

    @property
    def batches_per_epoch(self) -> int:
        return self._inner.batches_per_epoch

    def __iter__(self) -> Iterator[Batch]:
        return _batches(self._inner.next_epoch())

    def epoch(self, epoch: int) -> Iterator[Batch]:
        return _batches(self._inner.epoch(epoch))


def _batches(epoch) -> Iterator[Batch]:
    for images, image_shape, spectrograms, spectrogram_shape, ids, skipped in epoch:
        yield Batch(_array(images, image_shape), _array(spectrograms, spectrogram_shape), ids, skipped)
