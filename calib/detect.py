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
from calib.fileio import read_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
ARUCO_THRESHOLD_CONSTANT = 3.0  # gray levels under the local mean (OpenCV's default: 7)
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


# Subpixel refinement, chosen by measurement on photo-like renders (issue 13; numbers in
# the README and tools/bench_corner_refinement.py). cornerSubPix assumes that every edge
# in its window runs through the corner; its Gaussian weights reach about the half-window.
# Blur, perspective and barrel distortion bring the next edges (and the board's outer
# edge) close to a corner, so the half-window follows the shortest distance from the corner
# to a neighbouring corner in the image, and a corner that a second, smaller window puts
# elsewhere is dropped: one of the two windows reached an edge it must not see. On ChArUco
# the window also stays within the white rim around the markers, measured in the corner's
# own squares (their mean side: the rim is there in both directions).
# Both run on the image smoothed by a small Gaussian: a junction of two straight edges is
# point symmetric, and a symmetric blur keeps its center where it is, while it spreads
# sharp (aliased) edges, pixel noise and JPEG blocks over more pixels of the window.
# Last, a corner around which the image is not point symmetric is dropped: the finder put
# it on an edge away from the junction (grazing views) and no window brought it back.
HALF_WINDOW_PER_SIDE = 0.35
MAX_HALF_WINDOW = 9
MIN_HALF_WINDOW = 2
CHECK_WINDOW_RATIO = 0.6
MIN_CHECK_WINDOW = 3  # smaller windows see too few edge pixels to tell a pulled corner
MAX_DISAGREEMENT_PX = 0.3
PRE_BLUR_SIGMA = 1.0
MAX_ASYMMETRY = 0.1  # ~0.01 at good corners, 0.2-0.7 at corners off by over 0.5 px
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
# The final position of a corner is the center of point symmetry of the image around it
# (issue 13, measured against cornerSubPix's: README): two straight edges crossing at the
# corner are point symmetric about it under any perspective and any symmetric blur, and
# the fit uses every pixel of a board-aligned square around the corner (``reach`` squares
# each way), where cornerSubPix's window must stay clear of every other edge. On a
# checkerboard the image is symmetric to the next squares' edges, on ChArUco to the inner
# edge of the markers' black border (rim + one bit): the reach is a share of that, the
# rest left to blur and perspective.
# Used on ChArUco only: on checkerboards it also halves the error on the renders, but on
# OpenCV's real photographs it moves the focal length away from cornerSubPix's by up to
# 0.15% (more the farther it reaches), which the renders do not explain (README).
SYMMETRY_KINDS = ("charuco",)
SYMMETRY_REACH = 0.3  # squares; checkerboard
SYMMETRY_SHARE_CHARUCO = 0.6  # of the symmetric extent, 0.25 squares on the default board
SYMMETRY_ITERATIONS = 10


def local_sides(board: Board, det: Detection) -> tuple[np.ndarray, np.ndarray]:
    """Per corner, the shortest and the mean distance (px) to its neighbours along the
    board's rows and columns, each ``(M,)``; ``inf`` for a corner without a detected
    neighbour."""
    grid = board.corner_grid(det.ids)
    lookup = {(int(c), int(r)): i for i, (c, r) in enumerate(grid)}
    shortest, mean = np.full(len(grid), np.inf), np.full(len(grid), np.inf)
    for i, (c, r) in enumerate(grid):
        near = [float(np.linalg.norm(det.corners[i] - det.corners[j]))
                for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1))
                if (j := lookup.get((int(c) + dc, int(r) + dr))) is not None]
        if near:
            shortest[i], mean[i] = min(near), float(np.mean(near))
    return shortest, mean


def half_windows(board: Board, det: Detection) -> np.ndarray | None:
    """The ``cornerSubPix`` half-window of each corner ``(M,)`` int: ``HALF_WINDOW_PER_SIDE``
    of the shortest of its :func:`local_sides`; on a ChArUco board at most the white rim
    between the corner and the markers, in its mean local side; within
    ``MIN_HALF_WINDOW``..``MAX_HALF_WINDOW``. A corner without a neighbour takes the median
    of the others; None when no corner has one."""
    shortest, mean = local_sides(board, det)
    finite = np.isfinite(shortest)
    if not finite.any():
        return None
    shortest[~finite] = np.median(shortest[finite])
    mean[~finite] = np.median(mean[finite])
    limit = HALF_WINDOW_PER_SIDE * shortest
    if board.kind == "charuco":
        rim = 0.5 * (board.square_length - board.marker_length) / board.square_length
        limit = np.minimum(limit, rim * mean)
    return np.clip(np.round(limit), MIN_HALF_WINDOW, MAX_HALF_WINDOW).astype(int)


def subpixel(gray: np.ndarray, corners: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """``cornerSubPix`` of `corners` ``(M, 2)``, each with its own half-window ``(M,)``."""
    pts = corners.astype(np.float32).reshape(-1, 1, 2)
    out = pts.copy()
    for half in np.unique(halves):
        sel = np.flatnonzero(halves == half)
        out[sel] = cv2.cornerSubPix(gray, np.ascontiguousarray(pts[sel]), (int(half), int(half)),
                                    (-1, -1), _SUBPIX_CRITERIA)
    return out.reshape(-1, 2).astype(np.float64)


def asymmetry(gray: np.ndarray, corners: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """How far the image is from point symmetry about each corner ``(M,)``: the RMS
    difference between the disc of radius `halves` around the corner and its half-turn,
    over the disc's contrast (its 10th to 90th percentile). A junction of straight edges
    gives about 0; a point on an edge away from the junction up to 1."""
    image = np.asarray(gray, np.float32)
    out = np.empty(len(corners))
    for i, ((x, y), half) in enumerate(zip(corners, halves, strict=True)):
        size = 2 * int(half) + 1
        patch = cv2.getRectSubPix(image, (size, size), (float(x), float(y)))
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
        disc = xx ** 2 + yy ** 2 <= half ** 2
        low, high = np.percentile(patch[disc], [10, 90])
        diff = (patch - patch[::-1, ::-1])[disc]
        out[i] = np.sqrt(np.mean(diff ** 2)) / max(high - low, 1.0)
    return out


def local_axes(board: Board, det: Detection) -> np.ndarray | None:
    """Per corner the image of one square along the board's x and y ``(M, 2, 2)`` (as
    columns): the derivative of the homography from the board to the image that the
    corners fit; None when there is none."""
    obj = board.object_points()[det.ids, :2] / board.square_length
    hom, _ = cv2.findHomography(obj, det.corners)
    if hom is None or not np.isfinite(hom).all():
        return None
    q = np.c_[obj, np.ones(len(obj))] @ hom.T
    w = q[:, 2:]
    return np.stack([(hom[:2, a][None] * w - q[:, :2] * hom[2, a]) / w ** 2 for a in (0, 1)], -1)


def symmetry_reach(board: Board) -> float:
    """How far (squares, each way along the board's axes) :func:`symmetry_centers` looks."""
    if board.kind == "checkerboard":
        return SYMMETRY_REACH
    bits = board.charuco().getDictionary().markerSize + 2  # with its one-bit black border
    rim = 0.5 * (board.square_length - board.marker_length)
    extent = (rim + board.marker_length / bits) / board.square_length
    return min(SYMMETRY_REACH, SYMMETRY_SHARE_CHARUCO * extent)


def _sample(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` at `pts` ``(N, 2)`` ``(N,)``, edge pixels repeated
    outside (exact here: cv2.remap rounds sample positions to 1/32 px)."""
    height, width = image.shape
    x = np.clip(pts[:, 0], 0, width - 1.001)
    y = np.clip(pts[:, 1], 0, height - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def symmetry_centers(image: np.ndarray, corners: np.ndarray, axes: np.ndarray,
                     reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Centers of point symmetry near `corners` ``(M, 2)`` and whether each converged
    ``(M,)``: per corner, Gauss-Newton on the sum over offsets ``d`` in the parallelogram
    ``axes @ [-reach, reach]^2`` of ``(I(c + d) - I(c - d) - g.d (I(c + d) + I(c - d)))^2``,
    with ``g`` the local relative gradient of the light (vignetting, uneven light: it
    multiplies the image and breaks the symmetry linearly)."""
    img = np.asarray(image, np.float64)
    grad = [cv2.Sobel(img, cv2.CV_64F, *order, ksize=1, scale=0.5) for order in ((1, 0), (0, 1))]
    radius = int(np.ceil(reach * np.abs(axes).sum(-1).max())) + 1
    yy, xx = np.mgrid[0:radius + 1, -radius:radius + 1]  # half the plane: each pair once
    grid = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float64)
    grid = grid[(grid[:, 1] > 0) | (grid[:, 0] > 0)]
    inverse = np.linalg.inv(axes)  # (M, 2, 2)
    inside = np.abs(np.einsum("mij,nj->mni", inverse, grid)).max(-1) <= reach  # (M, N)
    idx, which = np.nonzero(inside)
    offsets = grid[which]
    centers = corners.astype(np.float64).copy()
    step = np.full((len(corners), 4), np.inf)
    for _ in range(SYMMETRY_ITERATIONS):
        plus, minus = centers[idx] + offsets, centers[idx] - offsets
        bright, dark = _sample(img, plus), _sample(img, minus)
        res = bright - dark
        # the light multiplies: I(c +- d) ~ (1 +- g.d) I
        light = (bright + dark)[:, None] * offsets
        jac = np.stack([_sample(g, plus) - _sample(g, minus) for g in grad]
                       + [-light[:, 0], -light[:, 1]], 1)
        normal = np.zeros((len(corners), 16))
        rhs = np.zeros((len(corners), 4))
        np.add.at(normal, idx, np.einsum("ni,nj->nij", jac, jac).reshape(-1, 16))
        np.add.at(rhs, idx, -jac * res[:, None])
        normal = normal.reshape(-1, 4, 4) + 1e-9 * np.eye(4)
        step = np.linalg.solve(normal, rhs[..., None])[..., 0]
        centers += step[:, :2]
        if np.abs(step[:, :2]).max() < 1e-4:
            break
    return centers, np.abs(step[:, :2]).max(1) < 1e-2


def refine_corners(gray: np.ndarray, board: Board, det: Detection,
                   pre_blur: float = PRE_BLUR_SIGMA,
                   max_asymmetry: float = MAX_ASYMMETRY,
                   symmetric: bool | None = None) -> Detection:
    """Subpixel corners on `gray` smoothed by a Gaussian of sigma `pre_blur` (px; 0 =
    none), with windows sized to the local squares (:func:`half_windows`); corners where a
    window of ``CHECK_WINDOW_RATIO`` times the size (at least ``MIN_CHECK_WINDOW``, and
    smaller than the first) lands more than ``MAX_DISAGREEMENT_PX`` away, or whose
    :func:`asymmetry` is over `max_asymmetry`, are dropped. With `symmetric` (default: on
    the boards of ``SYMMETRY_KINDS``), the corners kept then move to their
    :func:`symmetry_centers`; one that does not converge, or lands over
    ``MAX_DISAGREEMENT_PX`` from cornerSubPix's position, is dropped."""
    halves = half_windows(board, det)
    if halves is None:
        return det
    if pre_blur > 0:
        gray = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), pre_blur)
    refined = subpixel(gray, det.corners, halves)
    small = np.maximum(np.round(CHECK_WINDOW_RATIO * halves), MIN_CHECK_WINDOW).astype(int)
    checked = small < halves  # a window this small cannot reach another edge: no check
    check = subpixel(gray, det.corners[checked], small[checked])
    keep = asymmetry(gray, refined, halves) <= max_asymmetry
    keep[checked] &= np.linalg.norm(refined[checked] - check, axis=1) <= MAX_DISAGREEMENT_PX
    out = Detection(det.ids[keep], refined[keep])
    if symmetric is None:
        symmetric = board.kind in SYMMETRY_KINDS
    axes = local_axes(board, out) if symmetric and len(out.ids) >= 4 else None
    if axes is None:
        return out
    # The homography of a few nearly collinear corners can be wild: fit where it gives
    # squares of at least a pixel and under half the image.
    norms = np.linalg.norm(axes, axis=1).max(1)
    fit = (np.abs(np.linalg.det(axes)) >= 1.0) & (norms <= min(gray.shape) / 2)
    if not fit.any():
        return out
    centers, converged = symmetry_centers(gray, out.corners[fit], axes[fit],
                                          symmetry_reach(board))
    good = converged & (np.linalg.norm(centers - out.corners[fit], axis=1)
                        <= MAX_DISAGREEMENT_PX)
    out.corners[np.flatnonzero(fit)[good]] = centers[good]
    keep = np.ones(len(out.ids), bool)
    keep[np.flatnonzero(fit)[~good]] = False
    return Detection(out.ids[keep], out.corners[keep])


class BoardDetector:
    """Finds `board` in grayscale frames (checkerboard: whole board only; ChArUco: partial
    views with at least ``MIN_CORNERS`` corners)."""

    def __init__(self, board: Board):
        self.board = board
        if board.kind == "charuco":
            # Measured on photo-like renders (issue 13): under a 1-1.5 px blur the marker
            # finder alone reads half the views. Looking again for the markers the board
            # layout predicts, and an adaptive threshold closer to the local mean (blur
            # lowers the contrast of a marker's bits), read 15-16 of 16.
            markers = cv2.aruco.DetectorParameters()
            markers.adaptiveThreshConstant = ARUCO_THRESHOLD_CONSTANT
            charuco = cv2.aruco.CharucoParameters()
            charuco.tryRefineMarkers = True
            self._charuco = cv2.aruco.CharucoDetector(board.charuco(), charuco, markers)

    def detect(self, gray: np.ndarray) -> Detection | None:
        """The board's corners in `gray`, refined to subpixel (:func:`refine_corners`)."""
        det = self.find(gray)
        if det is None:
            return None
        det = refine_corners(gray, self.board, det)
        if len(det.ids) < MIN_CORNERS or _collinear(self.board, det.ids):
            return None  # the check dropped so many corners that the pose is undetermined
        return det

    def find(self, gray: np.ndarray) -> Detection | None:
        """The board's corners as OpenCV's finder gives them, before our refinement."""
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
        return det


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
                img = read_image(path, color=False)
                if img is None:
                    log.warning("%s: missing, cut off or not an image: skipped", path)
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
