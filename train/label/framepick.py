"""Choosing and saving frames for labeling: DeepLabCut's PNG names, crops, and a k-means
pick of visually diverse frames on small grayscale thumbnails.

Shared by frame extraction (:mod:`train.label.extract`) and outlier extraction
(:mod:`train.label.outliers`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np

from calib.errors import ConfigError, VideoError
from calib.fileio import atomic_path

THUMB_WIDTH = 30  # DeepLabCut clusters on frames resized to this width
_IMG_RE = re.compile(r"^img(\d+)\.png$")


def frame_name(index: int, n_frames: int) -> str:
    """DeepLabCut's file name for frame `index`: ``img`` + index zero-padded to the
    number of digits of the video's frame count (``ceil(log10(n_frames))``)."""
    digits = max(1, math.ceil(math.log10(n_frames))) if n_frames > 1 else 1
    return f"img{index:0{digits}d}.png"


def frame_index(name: str) -> int | None:
    """The frame index in a name like ``img0042.png``, or None for other files."""
    match = _IMG_RE.match(Path(name).name)
    return int(match.group(1)) if match else None


def existing_indices(folder: Path) -> set[int]:
    """Frame indices already extracted into `folder` (its ``img<N>.png`` files)."""
    if not folder.is_dir():
        return set()
    return {i for p in folder.glob("img*.png") if (i := frame_index(p.name)) is not None}


def check_crop(
    crop: tuple[int, int, int, int] | None, size: tuple[int, int], where: str
) -> tuple[int, int, int, int] | None:
    """Validate a config crop ``(x1, x2, y1, y2)`` against the frame ``(width, height)``.

    Returns None when the crop is the whole frame (nothing to do).
    """
    if crop is None:
        return None
    x1, x2, y1, y2 = crop
    w, h = size
    if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
        raise ConfigError(f"{where}: crop {crop} does not fit in the {w}x{h} frame")
    return None if crop == (0, w, 0, h) else crop


def apply_crop(frame: np.ndarray, crop: tuple[int, int, int, int] | None) -> np.ndarray:
    if crop is None:
        return frame
    x1, x2, y1, y2 = crop
    return frame[y1:y2, x1:x2]


def thumbnail(frame: np.ndarray, crop: tuple[int, int, int, int] | None = None,
              width: int = THUMB_WIDTH) -> np.ndarray:
    """A ``(width * h / w,)``-pixel grayscale float32 vector of `frame` (cropped to `crop`)
    for clustering."""
    frame = apply_crop(frame, crop)
    h, w = frame.shape[:2]
    height = max(1, round(h * width / w))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    small = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32).ravel()


class ThumbnailBuffer:
    """Thumbnails of every `stride`-th frame, never more than `capacity` of them.

    When full it keeps every other thumbnail and doubles the stride, so memory is
    bounded however long the video is (and however wrong its header's frame count).
    """

    def __init__(self, capacity: int, expected_frames: int):
        if capacity < 2:
            raise ValueError(f"capacity must be >= 2, got {capacity}")
        self.capacity = capacity
        self.stride = max(1, math.ceil(expected_frames / capacity))
        self.indices: list[int] = []
        self.vectors: list[np.ndarray] = []

    def wants(self, position: int) -> bool:
        """Whether the frame at `position` (counted from the first offered) is kept."""
        return position % self.stride == 0

    def add(self, index: int, vector: np.ndarray) -> None:
        if len(self.indices) >= self.capacity:
            self.indices = self.indices[::2]
            self.vectors = self.vectors[::2]
            self.stride *= 2
        self.indices.append(index)
        self.vectors.append(vector)


def kmeans_pick(vectors: np.ndarray, indices: list[int], k: int, seed: int = 0) -> list[int]:
    """Pick `k` of `indices` by k-means on their `vectors` (one per cluster: the
    member nearest the cluster center). Returns sorted frame indices."""
    if k >= len(indices):
        return sorted(indices)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1)
    _, labels, centers = cv2.kmeans(data, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    picked = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        dist = np.linalg.norm(data[members] - centers[c], axis=1)
        picked.append(indices[int(members[np.argmin(dist)])])
    return sorted(picked)


def save_png(path: Path, image: np.ndarray) -> None:
    """Write a BGR image as PNG atomically (a crash leaves no half-written file)."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise VideoError(f"{path}: OpenCV could not write the PNG")


def save_frame(folder: Path, index: int, n_frames: int, frame: np.ndarray,
               crop: tuple[int, int, int, int] | None) -> Path:
    """Write `frame`, cropped to `crop`, as the PNG of frame `index` in `folder` (named as
    DeepLabCut names extracted frames); returns its path."""
    path = folder / frame_name(index, n_frames)
    save_png(path, apply_crop(frame, crop))
    return path
