"""The deployable model: one ``.pt2`` file that the runtime loads with torch alone.

It holds a ``torch.export`` program mapping a normalized float batch
``(B, 3, h, w)`` to poses ``(B, K, 3)`` (x, y in input pixels, likelihood), or for a
multi-animal model ``(B, I, K, 3)`` (NaN: no animal in that slot), with decoding (and
assembly of parts into animals) inside, plus ``poseloop.json`` metadata: bodyparts, skeleton, input
normalization, color order, stride, input scale and size range, training set and
test error, the poseloop version.

:class:`PoseModel` wraps it: ``uint8`` frames in (as OpenCV reads them, BGR),
kornia preprocessing on the model's device, poses in frame pixels out. Offline
evaluation and the streaming runtime both call it, so they produce the same numbers.
No training code is imported here.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from calib.errors import ModelError
from calib.fileio import atomic_path
from train.model.pt2safe import checked_archive

META_FILE = "poseloop.json"
FORMAT_VERSION = 1


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("poseloop")
    except Exception:  # running from a source tree without installing
        return "0+unknown"


@dataclass
class ModelMeta:
    bodyparts: list[str]
    scorer: str
    stride: int
    skeleton: list[list[str]] = field(default_factory=list)
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    color: str = "RGB"  # channel order the network expects
    input_scale: float = 1.0  # frames are resized by this factor before the network
    min_size: int = 32  # smallest network input side, in pixels
    max_size: int = 4096
    net_type: str = ""
    pcutoff: float = 0.6
    train_error: float | None = None
    test_error: float | None = None
    training_set: dict = field(default_factory=dict)
    # multi-animal models: output (B, len(individuals), K, 3); with identity slot i is
    # individual i, else the slots are unordered animals (tracking names them)
    individuals: list[str] = field(default_factory=list)
    identity: bool = False
    poseloop_version: str = field(default_factory=_version)
    format_version: int = FORMAT_VERSION

    def check(self, source: Path) -> None:
        """Raise :class:`ModelError` naming `source` and the field for a wrong-typed value."""

        def bad(key: str, why: str) -> ModelError:
            return ModelError(f"{source}: {META_FILE} field {key} {why}, "
                              f"got {getattr(self, key)!r}")

        def is_number(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)

        def is_int(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        names = self.bodyparts
        if (not isinstance(names, list) or not names or len(set(names)) != len(names)
                or not all(isinstance(b, str) and b for b in names)):
            raise bad("bodyparts", "must be a list of distinct non-empty names")
        for key in ("scorer", "net_type", "poseloop_version"):
            if not isinstance(getattr(self, key), str):
                raise bad(key, "must be a string")
        if not (isinstance(self.skeleton, list) and all(
                isinstance(p, list) and len(p) == 2 and all(b in names for b in p)
                for p in self.skeleton)):
            raise bad("skeleton", "must be a list of pairs of bodyparts")
        for key in ("mean", "std"):
            v = getattr(self, key)
            if not (isinstance(v, list) and len(v) == 3 and all(is_number(x) for x in v)):
                raise bad(key, "must be 3 numbers")
        if not all(x > 0 for x in self.std):
            raise bad("std", "must be > 0")
        if self.color not in ("RGB", "BGR"):
            raise bad("color", "must be RGB or BGR")
        for key in ("stride", "min_size", "max_size", "format_version"):
            if not is_int(getattr(self, key)) or getattr(self, key) < 1:
                raise bad(key, "must be an integer >= 1")
        if self.min_size > self.max_size:
            raise bad("min_size", f"must be <= max_size {self.max_size}")
        if not is_number(self.input_scale) or self.input_scale <= 0:
            raise bad("input_scale", "must be a number > 0")
        if not is_number(self.pcutoff) or not 0 <= self.pcutoff <= 1:
            raise bad("pcutoff", "must be a number in [0, 1]")
        for key in ("train_error", "test_error"):
            if getattr(self, key) is not None and not is_number(getattr(self, key)):
                raise bad(key, "must be a number or null")
        if not isinstance(self.training_set, dict):
            raise bad("training_set", "must be a map")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str, source: Path) -> ModelMeta:
        try:
            data = json.loads(text)
            meta = cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelError(f"{source}: bad {META_FILE} ({exc})") from exc
        meta.check(source)
        if meta.format_version > FORMAT_VERSION:
            raise ModelError(
                f"{source}: model format {meta.format_version} is newer than this poseloop "
                f"reads ({FORMAT_VERSION}); upgrade poseloop"
            )
        return meta


def export_model(net: nn.Module, meta: ModelMeta, path: str | Path, example_hw=(256, 256)) -> Path:
    """Export `net` (normalized ``(B, 3, h, w)`` -> ``(B, K, 3)``) with `meta` to `path`.

    Batch size, height and width stay dynamic within ``meta.min_size..max_size``.
    """
    path = Path(path)
    net = net.eval().cpu()
    h, w = example_hw
    example = torch.zeros(2, 3, h, w)
    dims = {
        0: torch.export.Dim("batch", min=1, max=1024),
        2: torch.export.Dim("height", min=meta.min_size, max=meta.max_size),
        3: torch.export.Dim("width", min=meta.min_size, max=meta.max_size),
    }
    with torch.no_grad():
        program = torch.export.export(net, (example,), dynamic_shapes=({**dims},))
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp, extra_files={META_FILE: meta.to_json()})
    return path


def read_meta(path: str | Path) -> ModelMeta:
    """Only the metadata of an artifact (cheap: no graph is deserialized)."""
    path = Path(path)
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith(f"extra/{META_FILE}"))
            return ModelMeta.from_json(zf.read(name).decode(), path)
    except (zipfile.BadZipFile, StopIteration, OSError) as exc:
        raise ModelError(f"{path}: not a poseloop model (truncated or wrong file: {exc})") from exc


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a poseloop model (truncated or wrong file)")


def frame_batch(frames: np.ndarray) -> np.ndarray:
    """``(B, H, W, 3)`` or ``(H, W, 3)`` uint8 frames as a ``(B, H, W, 3)`` array, or a
    ModelError naming what came instead."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise ModelError(f"frames must be (B, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    return frames


class PoseModel:
    """An exported model ready for inference on `device`.

    With `amp` on CUDA the network runs in float16 autocast on channels_last input
    (faster; poses then differ from float32 by a small fraction of a pixel).
    """

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", amp: bool = False):
        self.path = Path(path)
        _check_file(self.path)
        extra = {META_FILE: ""}
        try:
            program = torch.export.load(checked_archive(self.path, {META_FILE}), extra_files=extra)
        except ModelError:
            raise
        except Exception as exc:  # torch raises RuntimeError/KeyError/... for broken archives
            raise ModelError(
                f"{self.path}: cannot load model ({type(exc).__name__}: {exc})"
            ) from exc
        self.meta = ModelMeta.from_json(extra[META_FILE], self.path)
        self.device = torch.device(device)
        if self.device.type != "cpu":
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, self.device)
        self.net = program.module()
        self._mean = torch.tensor(self.meta.mean, device=self.device)
        self._std = torch.tensor(self.meta.std, device=self.device)
        self.amp = bool(amp) and self.device.type == "cuda"
        self._staging: torch.Tensor | None = None  # reusable (pinned on CUDA) host batch

    @property
    def bodyparts(self) -> tuple[str, ...]:
        return tuple(self.meta.bodyparts)

    @property
    def individuals(self) -> tuple[str, ...]:
        """The individual axis of the output (empty for a single-animal model)."""
        return tuple(self.meta.individuals)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """Network input ``(h, w)`` for frames of ``(height, width)``."""
        s = self.meta.input_scale
        return max(self.meta.min_size, round(height * s)), max(self.meta.min_size, round(width * s))

    def preprocess(self, frames: torch.Tensor, bgr: bool = True) -> torch.Tensor:
        """``(B, H, W, 3) uint8`` on the device -> normalized ``(B, 3, h, w)`` float."""
        import kornia

        x = frames.permute(0, 3, 1, 2).float().div_(255.0)
        if bgr and self.meta.color == "RGB":
            x = x.flip(1)
        h, w = self.input_size(frames.shape[1], frames.shape[2])
        if (h, w) != tuple(frames.shape[1:3]):
            x = kornia.geometry.transform.resize(
                x, (h, w), interpolation="bilinear", align_corners=False, antialias=True
            )
        return kornia.enhance.normalize(x, self._mean, self._std)

    def to_frame_pixels(self, poses: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Map network-input pixel coordinates back to frame pixels (pixel centers)."""
        h, w = self.input_size(height, width)
        if (h, w) == (height, width):
            return poses
        sx, sy = width / w, height / h
        out = poses.clone()
        out[..., 0] = (poses[..., 0] + 0.5) * sx - 0.5
        out[..., 1] = (poses[..., 1] + 0.5) * sy - 0.5
        return out

    @torch.inference_mode()
    def predict_tensor(self, frames: torch.Tensor, bgr: bool = True) -> torch.Tensor:
        """``(B, H, W, 3) uint8`` tensor (any device) -> ``(B, K, 3)`` float32 on the device."""
        frames = frames.to(self.device, non_blocking=True)
        x = self.preprocess(frames, bgr=bgr)
        if self.amp:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            poses = self.net(x)
        return self.to_frame_pixels(poses.float(), frames.shape[1], frames.shape[2])

    def predict_frames(self, frames: Sequence[np.ndarray], bgr: bool = True) -> np.ndarray:
        """Same-size ``(H, W, 3)`` uint8 frames -> ``(B, K, 3)`` float32 numpy.

        The frames are gathered into one reusable host buffer, pinned on CUDA so that
        the copy to the device is asynchronous (reading the result waits for it).
        """
        n = len(frames)
        h, w = frames[0].shape[:2]
        buf = self._staging
        if buf is None or buf.shape[0] < n or tuple(buf.shape[1:]) != (h, w, 3):
            pinned = self.device.type == "cuda"
            buf = torch.empty((n, h, w, 3), dtype=torch.uint8, pin_memory=pinned)
            self._staging = buf
        batch = buf[:n]
        try:
            np.stack(frames, out=batch.numpy())
        except ValueError as exc:
            raise ModelError(f"frames must all be ({h}, {w}, 3) uint8: {exc}") from exc
        return self.predict_tensor(batch, bgr=bgr).cpu().numpy()

    def __call__(self, frames: np.ndarray, bgr: bool = True) -> np.ndarray:
        """``(B, H, W, 3)`` or ``(H, W, 3)`` uint8 frames -> ``(B, K, 3)`` float32 numpy."""
        frames = frame_batch(frames)
        out = self.predict_tensor(torch.from_numpy(np.ascontiguousarray(frames)), bgr=bgr)
        return out.cpu().numpy()


BACKENDS = ("torch", "onnxruntime")


def load_model(
    path: str | Path, device: str | torch.device = "cpu", amp: bool = False,
    backend: str = "torch", threads: int = 0,
):
    """The artifact at `path` behind :class:`PoseModel`'s interface, run by PyTorch or by
    ONNX Runtime (:class:`train.model.onnx_backend.OnnxPoseModel`, with `threads` intra-op
    threads; 0: its default)."""
    if backend == "onnxruntime":
        from train.model.onnx_backend import OnnxPoseModel

        return OnnxPoseModel(path, str(device), threads)
    if backend != "torch":
        raise ModelError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    return PoseModel(path, device, amp)
