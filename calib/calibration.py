"""The calibration file: one TOML per rig, laid out like anipose's ``calibration.toml``.

Per camera a table ``[cam_<i>]`` with ``name``, ``size = [width, height]``, ``matrix``
(3x3), ``distortions`` (5 values; fisheye cameras add ``fisheye = true`` and have 4),
``rotation`` (Rodrigues vector, world -> camera) and ``translation`` (calibration units,
e.g. mm). A ``[metadata]`` table holds the board, the per-camera RMS reprojection errors in
pixels and anything else the calibration recorded; anipose skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calib.camera import Camera
from calib.errors import CalibrationError
from calib.fileio import read_mapping
from calib.tomlwrite import dumps


@dataclass
class Calibration:
    """Calibrated cameras in one world frame, plus what the calibration recorded."""

    cameras: list[Camera]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise CalibrationError(f"camera names must be unique, got {names}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def camera(self, name: str) -> Camera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise CalibrationError(f"no camera named {name!r} in the rig (cameras: {self.names})")

    def size(self) -> float:
        """The rig's size: largest distance between two camera centers."""
        centers = np.array([c.center for c in self.cameras])
        return float(np.max(np.linalg.norm(centers[:, None] - centers[None], axis=-1)))


def camera_to_dict(cam: Camera) -> dict:
    out = {
        "name": cam.name,
        "size": list(cam.size),
        "matrix": cam.matrix.tolist(),
        "distortions": cam.dist.tolist(),
        "rotation": cam.rvec.tolist(),
        "translation": cam.tvec.tolist(),
    }
    if cam.fisheye:
        out["fisheye"] = True
    return out


def camera_from_dict(d: dict, key: str, where: str) -> Camera:
    missing = [k for k in ("size", "matrix", "distortions", "rotation", "translation")
               if k not in d]
    if missing:
        raise CalibrationError(f"{where}: missing field(s) {missing}")
    try:
        return Camera(str(d.get("name", key)), d["size"],
                      np.array(d["matrix"], float), np.array(d["distortions"], float),
                      np.array(d["rotation"], float), np.array(d["translation"], float),
                      bool(d.get("fisheye", False)))
    except (TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, CalibrationError):
            raise CalibrationError(f"{where}: {exc}") from exc
        raise CalibrationError(f"{where}: bad value ({exc})") from exc


def save_calibration(rig: Calibration, path: str | Path) -> Path:
    """Write the calibration TOML; the old file stays intact if writing fails."""
    path = Path(path)
    data = {f"cam_{i}": camera_to_dict(c) for i, c in enumerate(rig.cameras)}
    data["metadata"] = rig.metadata
    text = dumps(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration TOML written by poseloop or anipose."""
    data = read_mapping(path, CalibrationError, "calibration file not found")
    keys = [k for k in data if k != "metadata" and isinstance(data[k], dict)]
    if not keys:
        raise CalibrationError(f"{path}: no camera tables ([cam_0], ...)")
    # anipose numbers tables cam_0, cam_1, ...: keep that order, not the text order.
    keys.sort(key=lambda k: (int(k.split("_")[-1]) if k.split("_")[-1].isdigit() else 1 << 30, k))
    cameras = [camera_from_dict(data[k], k, f"{path} [{k}]") for k in keys]
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise CalibrationError(f"{path}: [metadata] must be a table, got {metadata!r:.80}")
    return Calibration(cameras, metadata)
