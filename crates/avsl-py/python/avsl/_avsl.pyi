"""Type stubs of the compiled module (`avsl/__init__.py` wraps it with numpy arrays)."""
from typing import Iterator, Optional

Shape2 = tuple[int, int]
Shape3 = tuple[int, int, int]
Shape4 = tuple[int, int, int, int]
KeyedMap = tuple[list[str], bytes, int, int]

def spectrogram(path: str, seconds: float = 3.0) -> tuple[bytearray, Shape2]: ...
def frame(path: str) -> tuple[bytearray, Shape3]: ...
def evaluate(
    *,
    data: str,
    testset: str,
    maps: Optional[str] = None,
    map_list: Optional[list[KeyedMap]] = None,
    map_kind: str = "logits",
    metadata: Optional[str] = None,
    gt: Optional[str] = None,
    object_maps: Optional[str] = None,
    object_list: Optional[list[KeyedMap]] = None,
    relative_prediction: bool = False,
    pred_thr: Optional[float] = None,
    alpha: Optional[float] = None,
    tau: float = 0.03,
    plus_silent_csv: Optional[str] = None,
    protocol: Optional[str] = None,
    allow_outside_paths: bool = False,
) -> str: ...

class Localizer:
    def __init__(
        self,
        checkpoint: str,
        *,
        object_weights: Optional[str] = None,
        alpha: Optional[float] = None,
        calibration: Optional[str] = None,
        encoders: Optional[str] = None,
        tau: float = 0.03,
        relative_prediction: bool = False,
        pred_thr: Optional[float] = None,
        device: str = "cpu",
    ) -> None: ...
    @property
    def audio_seconds(self) -> float: ...
    @property
    def undecided(self) -> Optional[str]: ...
    def locate(
        self,
        audio: Optional[str] = None,
        audio_pcm: Optional[tuple[bytes, int, int]] = None,
        frame: Optional[str] = None,
        frame_rgb: Optional[tuple[bytes, int, int]] = None,
    ) -> tuple[str, bytearray]: ...

Batch = tuple[bytearray, Shape4, bytearray, Shape4, list[str], list[tuple[str, str]]]

class Epoch:
    def __iter__(self) -> Iterator[Batch]: ...
    def __next__(self) -> Batch: ...

class Loader:
    def __init__(
        self,
        data: str,
        *,
        train_list: Optional[str] = None,
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
    ) -> None: ...
    def __len__(self) -> int: ...
    @property
    def batches_per_epoch(self) -> int: ...
    def epoch(self, epoch: int) -> Epoch: ...
    def next_epoch(self) -> Epoch: ...
