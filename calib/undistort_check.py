"""Undistorted board views: a calibration is good when the board's rows and columns of
corners come out on straight lines."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from calib.boards import Board
from calib.camera import Camera
from calib.detect import BoardDetector, iter_frames
from calib.errors import CalibrationError


def undistort_image(cam: Camera, image: np.ndarray) -> np.ndarray:
    """The image as a distortion-free pinhole camera with the same camera matrix sees it."""
    if cam.fisheye:
        return cv2.fisheye.undistortImage(image, cam.matrix, cam.dist, Knew=cam.matrix)
    return cv2.undistort(image, cam.matrix, cam.dist)


def straightness(cam: Camera, board: Board, ids: np.ndarray, corners: np.ndarray) -> float:
    """RMS distance (px) of undistorted corners from the best line through each board row
    and column with at least 3 corners: 0 for a perfect lens model."""
    und = cam.undistort(corners) * cam.focal
    grid = board.corner_grid(ids)
    dists = []
    for axis in (0, 1):
        for value in np.unique(grid[:, axis]):
            pts = und[grid[:, axis] == value]
            if len(pts) >= 3:
                centered = pts - pts.mean(0)
                normal = np.linalg.svd(centered)[2][1]
                dists.append(centered @ normal)
    return float(np.sqrt(np.mean(np.concatenate(dists) ** 2))) if dists else float("nan")


def draw_check(cam: Camera, board: Board, gray: np.ndarray, ids: np.ndarray,
               corners: np.ndarray) -> np.ndarray:
    """Side by side: the frame with its corners, and the undistorted frame with the
    undistorted corners joined along board rows and columns (they should be straight)."""
    left = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    right = cv2.cvtColor(undistort_image(cam, gray), cv2.COLOR_GRAY2BGR)
    for p in corners:
        cv2.circle(left, tuple(int(round(v)) for v in p), 3, (0, 0, 255), 1, cv2.LINE_AA)
    norm = cam.undistort(corners)
    und = norm * [cam.matrix[0, 0], cam.matrix[1, 1]] + cam.matrix[:2, 2]
    grid = board.corner_grid(ids)
    for axis, color in ((0, (0, 200, 0)), (1, (255, 128, 0))):
        for value in np.unique(grid[:, axis]):
            sel = np.flatnonzero(grid[:, axis] == value)
            sel = sel[np.argsort(grid[sel, 1 - axis])]
            if len(sel) >= 2:
                pts = np.round(und[sel]).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(right, [pts], False, color, 1, cv2.LINE_AA)
    err = straightness(cam, board, ids, corners)
    cv2.putText(right, f"{cam.name}: line RMS {err:.2f} px", (10, 24),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 1, cv2.LINE_AA)
    return np.hstack([left, right])


def write_undistort_checks(cam: Camera, board: Board, source: str | Path, out_dir: str | Path,
                           n_views: int = 4) -> list[tuple[Path, float]]:
    """Draw up to `n_views` board views of one camera's video or image folder, spread over
    the recording, into ``out_dir/<camera>_undistort_<frame>.png``; returns each picture
    with its line-straightness RMS (px)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    detector = BoardDetector(board)
    found = [(k, det) for k, gray in iter_frames(source)
             if (det := detector.detect(gray)) is not None]
    if not found:
        return []
    picks = {found[i][0]: found[i][1] for i in
             np.unique(np.linspace(0, len(found) - 1, n_views).round().astype(int))}
    out = []
    for k, gray in iter_frames(source):  # second pass: keep only the frames drawn in memory
        if k in picks:
            det = picks[k]
            path = out_dir / f"{cam.name}_undistort_{k:05d}.png"
            cv2.imwrite(str(path), draw_check(cam, board, gray, det.ids, det.corners))
            out.append((path, straightness(cam, board, det.ids, det.corners)))
    return out


def undistort_checks(calibration: str | Path, sources: list[str | Path], out_dir: str | Path,
                     n_views: int = 4, kind: str | None = None, squares_x: int | None = None,
                     squares_y: int | None = None, square_length: float | None = None,
                     marker_length: float | None = None,
                     dictionary: str | None = None) -> list[tuple[Path, float]]:
    """:func:`write_undistort_checks` for every camera of the `calibration` file, one
    board video or image folder per camera in the calibration's order. Board options not
    given (None) come from the board the calibration recorded, then from the defaults."""
    from calib.calibration import load_calibration

    rig = load_calibration(calibration)
    board = Board.from_options(rig.metadata.get("board"), kind=kind, squares_x=squares_x,
                               squares_y=squares_y, square_length=square_length,
                               marker_length=marker_length, dictionary=dictionary)
    if len(sources) > len(rig.cameras):
        raise CalibrationError(f"{len(sources)} sources for {len(rig.cameras)} cameras "
                               f"in {calibration}")
    out = []
    for cam, source in zip(rig.cameras, sources, strict=False):
        out += write_undistort_checks(cam, board, source, out_dir, n_views)
    return out
