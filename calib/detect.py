"""Board detection in videos or image folders, one camera at a time.

Frames of different cameras are matched by index: frame ``k`` of every video (or the
``k``-th image of every folder in sorted name order) shows the board at the same instant.
A frame where the board is not found is skipped and counted, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from calib.boards import Board
from calib.errors import CalibrationError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
MIN_CORNERS = 6  # fewer corners of a partial ChArUco view cannot fix a pose reliably


@dataclass
class Detection:
    """Board corners found in one frame: ids ``(M,)`` and pixels ``(M, 2)`` float64."""

    ids: np.ndarray
    corners: np.ndarray


@dataclass
class CameraDetections:
    """All detections of one camera; ``size`` is ``(width, height)``."""

    name: str
    size: tuple[int, int]
    frames: dict[int, Detection] = field(default_factory=dict)
    n_frames: int = 0
    n_failed: int = 0


def square_size_px(board: Board, det: Detection) -> float:
    """Median side of one board square in pixels, from neighboring corners."""
    grid = board.corner_grid(det.ids)
    lookup = {tuple(g): i for i, g in enumerate(grid)}
    sides = [np.linalg.norm(det.corners[i] - det.corners[lookup[(c + dc, r + dr)]])
             for i, (c, r) in enumerate(grid) for dc, dr in ((1, 0), (0, 1))
             if (c + dc, r + dr) in lookup]
    return float(np.median(sides)) if sides else 0.0


def refine_corners(gray: np.ndarray, board: Board, det: Detection) -> Detection:
    """Subpixel corner refinement with a window sized to the squares in pixels.

    The half-window is a third of a square side on a checkerboard; on a ChArUco board it
    must also stay inside the white rim between the corner and the nearest marker, so it
    is at most 80% of that rim. At least 2 px, at most 15 px.
    """
    side = square_size_px(board, det)
    if side <= 0:
        return det
    limit = side / 3.0
    if board.kind == "charuco":
        rim = 0.5 * (board.square_length - board.marker_length) / board.square_length * side
        limit = min(limit, 0.8 * rim)
    half = int(np.clip(round(limit), 2, 15))
    pts = det.corners.astype(np.float32).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
    refined = cv2.cornerSubPix(gray, pts, (half, half), (-1, -1), criteria)
    return Detection(det.ids, refined.reshape(-1, 2).astype(np.float64))


class BoardDetector:
    """Finds `board` in grayscale frames (checkerboard: whole board only; ChArUco: partial
    views with at least ``MIN_CORNERS`` corners)."""

    def __init__(self, board: Board):
        self.board = board
        if board.kind == "charuco":
            self._charuco = cv2.aruco.CharucoDetector(board.charuco())

    def detect(self, gray: np.ndarray) -> Detection | None:
        if self.board.kind == "charuco":
            corners, ids, _, _ = self._charuco.detectBoard(gray)
            if ids is None or len(ids) < MIN_CORNERS:
                return None
            det = Detection(ids.ravel().astype(np.int64), corners.reshape(-1, 2).astype(float))
            if len(np.unique(det.ids)) != len(det.ids) or _collinear(self.board, det.ids):
                return None
        else:
            flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
            found, corners = cv2.findChessboardCorners(gray, self.board.inner_shape, flags=flags)
            if not found:
                return None
            det = Detection(np.arange(self.board.n_corners), corners.reshape(-1, 2).astype(float))
        return refine_corners(gray, self.board, det)


def _collinear(board: Board, ids: np.ndarray) -> bool:
    grid = board.corner_grid(ids).astype(float)
    return np.linalg.matrix_rank(grid - grid.mean(0), tol=1e-6) < 2


def iter_frames(source: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, grayscale frame)`` of a video file or a folder of images."""
    source = Path(source)
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise CalibrationError(f"no images ({sorted(IMAGE_SUFFIXES)}) in folder {source}")
        for k, path in enumerate(images):
            if k % every == 0:
                img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if img is None:
                    log.warning("cannot read image %s: skipped", path)
                    continue
                yield k, img
        return
    if not source.is_file():
        raise CalibrationError(f"board video or image folder not found: {source}")
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise CalibrationError(f"cannot open video {source}")
    try:
        k = 0
        while True:
            if k % every:
                ok, frame = cap.grab(), None
            else:
                ok, frame = cap.read()
            if not ok:
                break
            if frame is not None:
                yield k, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            k += 1
    finally:
        cap.release()


def frame_count(source: str | Path) -> int | None:
    source = Path(source)
    if source.is_dir():
        return sum(1 for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    cap = cv2.VideoCapture(str(source))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n if n > 0 else None


def detect_source(board: Board, source: str | Path, name: str | None = None,
                  every: int = 1, progress: bool = True) -> CameraDetections:
    """Detect `board` in every `every`-th frame of one camera's video or image folder."""
    from tqdm import tqdm

    source = Path(source)
    detector = BoardDetector(board)
    out = CameraDetections(name or source.stem, (0, 0))
    total = frame_count(source)
    frames = tqdm(iter_frames(source, every), total=None if total is None else -(-total // every),
                  desc=f"detect {out.name}", unit="frame", disable=not progress, leave=False)
    for k, gray in frames:
        out.size = (gray.shape[1], gray.shape[0])
        out.n_frames += 1
        det = detector.detect(gray)
        if det is None:
            out.n_failed += 1
        else:
            out.frames[k] = det
    if out.n_frames == 0:
        raise CalibrationError(f"no frames could be read from {source}")
    log.info("%s: board found in %d of %d frames (%d skipped)", out.name, len(out.frames),
             out.n_frames, out.n_failed)
    return out
