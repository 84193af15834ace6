"""OpenCV's plain calibration pipeline on the same images, to check poseloop against it.

The plain pipeline is the one of OpenCV's calibration samples: the board finder
(``findChessboardCorners``, or the ChArUco detector), ``cornerSubPix`` with one fixed
half-window for every corner, ``calibrateCamera`` per camera (k1, k2, p1, p2, k3 free),
then ``stereoCalibrate`` of every camera with the first with the intrinsics fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from calib.boards import Board
from calib.detect import BoardDetector, CameraDetections, Detection, iter_frames
from calib.errors import CalibrationError

HALF_WINDOWS = (5, 7, 11)
MIN_VIEWS = 3
_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3)


@dataclass
class ReferenceCamera:
    """One camera as OpenCV calibrates it: RMS reprojection error (px) over ``n_views``."""

    name: str
    matrix: np.ndarray
    dist: np.ndarray
    rms: float
    n_views: int


@dataclass
class ReferenceResult:
    """OpenCV's calibration with ``cornerSubPix`` at ``half_window``; ``stereo`` maps each
    camera after the first to (stereo RMS px, baseline to the first camera, shared views)."""

    half_window: int
    cameras: list[ReferenceCamera]
    stereo: dict[str, tuple[float, float, int]] = field(default_factory=dict)


def detect_for_opencv(board: Board, sources: Sequence[str | Path], names: Sequence[str],
                      half_windows: Sequence[int] = HALF_WINDOWS,
                      every: int = 1) -> dict[int, list[CameraDetections]]:
    """Per half-window, every camera's corners from the finder refined by ``cornerSubPix``
    at that half-window (one pass over each source)."""
    detector = BoardDetector(board)
    out = {h: [] for h in half_windows}
    for source, name in zip(sources, names, strict=True):
        per_window = {h: CameraDetections(name, (0, 0)) for h in half_windows}
        for k, gray in iter_frames(source, every):
            found = detector.find(gray)
            for h, dets in per_window.items():
                dets.size = (gray.shape[1], gray.shape[0])
                dets.n_frames += 1
                if found is None:
                    dets.n_failed += 1
                    continue
                pts = found.corners.astype(np.float32).reshape(-1, 1, 2)
                refined = cv2.cornerSubPix(gray, pts, (h, h), (-1, -1), _CRITERIA)
                dets.frames[k] = Detection(found.ids, refined.reshape(-1, 2).astype(np.float64))
        for h in half_windows:
            out[h].append(per_window[h])
    return out


def stereo_views(first: CameraDetections, other: CameraDetections, board: Board,
                 min_shared: int = 6) -> tuple[list, list, list]:
    """``stereoCalibrate``'s inputs for two cameras: per frame both saw the board with at
    least `min_shared` corners in common, those corners' board points and both cameras'
    pixels (float32)."""
    objp = board.object_points().astype(np.float32)
    obj, img0, img1 = [], [], []
    for k in sorted(first.frames.keys() & other.frames.keys()):
        a, b = first.frames[k], other.frames[k]
        ids, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        if len(ids) >= min_shared:
            obj.append(objp[ids])
            img0.append(a.corners[ia].astype(np.float32))
            img1.append(b.corners[ib].astype(np.float32))
    return obj, img0, img1


def opencv_calibrate(dets: list[CameraDetections], board: Board,
                     half_window: int) -> ReferenceResult:
    """``calibrateCamera`` per camera, ``stereoCalibrate`` of each camera with the first."""
    objp = board.object_points().astype(np.float32)
    cameras = []
    for det in dets:
        frames = sorted(det.frames)
        if len(frames) < MIN_VIEWS:
            raise CalibrationError(f"camera {det.name}: board found in {len(frames)} frames; "
                                   f"OpenCV needs at least {MIN_VIEWS}")
        obj = [objp[det.frames[k].ids] for k in frames]
        img = [det.frames[k].corners.astype(np.float32) for k in frames]
        rms, k_mat, dist, _, _ = cv2.calibrateCamera(obj, img, det.size, None, None)
        cameras.append(ReferenceCamera(det.name, k_mat, dist.ravel(), float(rms), len(frames)))
    out = ReferenceResult(half_window, cameras)
    first = dets[0]
    for det, cam in zip(dets[1:], cameras[1:], strict=True):
        obj, img0, img1 = stereo_views(first, det, board)
        if len(obj) < MIN_VIEWS:
            continue
        ref = cameras[0]
        rms, *_, rot, trans, _, _ = cv2.stereoCalibrate(
            obj, img0, img1, ref.matrix, ref.dist, cam.matrix, cam.dist, first.size,
            flags=cv2.CALIB_FIX_INTRINSIC)
        out.stereo[cam.name] = (float(rms), float(np.linalg.norm(trans)), len(obj))
    return out


def comparison_table(result, references: list[ReferenceResult]) -> str:
    """poseloop's calibration (a :class:`calib.calibrate_rig.CalibrationResult`) beside
    OpenCV's: per camera views, RMS reprojection error, fx, fy, cx, cy, k1, k2; per camera
    after the first, the baseline to the first camera (and OpenCV's stereo RMS)."""
    lines = [f"{'pipeline':<22}{'camera':<10}{'views':>6}{'rms_px':>8}{'fx':>9}{'fy':>9}"
             f"{'cx':>8}{'cy':>8}{'k1':>8}{'k2':>8}{'baseline':>10}{'stereo_rms':>11}"]
    rig = result.rig
    first = rig.cameras[0]
    for cam, intr in zip(rig.cameras, result.intrinsics, strict=True):
        k, meta = cam.matrix, rig.metadata.get(cam.name, {})
        base = (f"{np.linalg.norm(cam.center - first.center):>10.4f}"
                if cam is not first else f"{'':>10}")
        lines.append(f"{'poseloop':<22}{cam.name:<10}{len(intr.view_errors):>6}"
                     f"{meta.get('rms_px', intr.rms):>8.3f}{k[0, 0]:>9.2f}{k[1, 1]:>9.2f}"
                     f"{k[0, 2]:>8.2f}{k[1, 2]:>8.2f}{cam.dist[0]:>8.4f}{cam.dist[1]:>8.4f}"
                     f"{base}")
    if result.bundle is not None:  # the per-camera fits before it, as OpenCV's rows are
        for intr in result.intrinsics:
            cam, k = intr.camera, intr.camera.matrix
            lines.append(f"{'poseloop intrinsics':<22}{cam.name:<10}{len(intr.view_errors):>6}"
                         f"{intr.rms:>8.3f}{k[0, 0]:>9.2f}{k[1, 1]:>9.2f}{k[0, 2]:>8.2f}"
                         f"{k[1, 2]:>8.2f}{cam.dist[0]:>8.4f}{cam.dist[1]:>8.4f}")
    for ref in references:
        label = f"opencv subpix {ref.half_window}x{ref.half_window}"
        for cam in ref.cameras:
            k = cam.matrix
            stereo = ref.stereo.get(cam.name)
            tail = "" if stereo is None else f"{stereo[1]:>10.4f}{stereo[0]:>11.3f}"
            lines.append(f"{label:<22}{cam.name:<10}{cam.n_views:>6}{cam.rms:>8.3f}"
                         f"{k[0, 0]:>9.2f}{k[1, 1]:>9.2f}{k[0, 2]:>8.2f}{k[1, 2]:>8.2f}"
                         f"{cam.dist[0]:>8.4f}{cam.dist[1]:>8.4f}{tail}")
    lines.append("rms_px: poseloop's after its bundle adjustment (one camera: its intrinsic "
                 "fit), 'poseloop intrinsics' and OpenCV's from one camera's fit. baseline in "
                 "board units.")
    return "\n".join(lines) + "\n"


def compare_with_opencv(result, board: Board, sources: Sequence[str | Path],
                        every: int = 1, half_windows: Sequence[int] = HALF_WINDOWS) -> str:
    """:func:`comparison_table` of `result` and OpenCV's pipeline on the same `sources`."""
    names = [d.name for d in result.detections]
    dets = detect_for_opencv(board, sources, names, half_windows, every)
    return comparison_table(result, [opencv_calibrate(dets[h], board, h) for h in half_windows])
