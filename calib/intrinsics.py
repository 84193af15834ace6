"""Intrinsics of one camera from its board views: OpenCV calibration, per-view errors,
outlier views rejected and the fit redone, parameter standard deviations."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from calib.boards import Board
from calib.camera import Camera, project_camera_frame
from calib.detect import CameraDetections
from calib.errors import CalibrationError

log = logging.getLogger(__name__)

PINHOLE_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")
MIN_VIEWS = 4


@dataclass
class IntrinsicsResult:
    """One camera's intrinsics; ``view_errors`` maps frame -> RMS reprojection error (px) of
    the views used, ``rejected`` lists outlier frames, ``std`` one standard deviation per
    parameter name (empty where the model does not give them)."""

    camera: Camera
    rms: float
    view_errors: dict[int, float]
    rejected: list[int] = field(default_factory=list)
    std: dict[str, float] = field(default_factory=dict)


def _select_views(det: CameraDetections, min_corners: int, max_views: int) -> list[int]:
    frames = sorted(k for k, d in det.frames.items() if len(d.ids) >= min_corners)
    if len(frames) > max_views:  # evenly spread over the recording: board poses vary
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, max_views).astype(int)]
    return frames


def _homography_outliers(det: CameraDetections, board: Board, frames: list[int]) -> list[int]:
    """Views whose corners a plane-to-image homography cannot fit: its RMS residual is over
    5x the median of all views (and over 3 px), or there is none. Lens distortion leaves
    residuals of a few pixels at most, garbled detections far more; OpenCV's calibration
    fails on its first step if such a view is kept."""
    objp = board.object_points()
    errors = {}
    for k in frames:
        d = det.frames[k]
        hom, _ = cv2.findHomography(objp[d.ids, :2], d.corners)
        if hom is None or hom.shape != (3, 3):
            errors[k] = np.inf
            continue
        proj = cv2.perspectiveTransform(objp[d.ids, None, :2], hom)[:, 0]
        errors[k] = float(np.sqrt(np.mean(np.sum((proj - d.corners) ** 2, -1))))
    finite = [e for e in errors.values() if np.isfinite(e)]
    limit = max(5 * float(np.median(finite)), 3.0) if finite else np.inf
    return [k for k, e in errors.items() if not e <= limit]


def _fisheye_flag(name: str) -> int:
    """Fisheye calibration flags live in ``cv2.fisheye`` in OpenCV 4, in ``cv2`` in 5."""
    return int(getattr(cv2.fisheye, name, None) or getattr(cv2, name))


def _fit(obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int], fisheye: bool,
         fix_k3: bool) -> tuple[np.ndarray, np.ndarray, list, list, np.ndarray | None]:
    if fisheye:
        flags = _fisheye_flag("CALIB_RECOMPUTE_EXTRINSIC") | _fisheye_flag("CALIB_FIX_SKEW")
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
        _, k, d, rvecs, tvecs = cv2.fisheye.calibrate(
            [o[None].astype(np.float64) for o in obj], [i[None].astype(np.float64) for i in img],
            size, np.eye(3), np.zeros(4), flags=flags, criteria=criteria)
        return k, d.ravel(), rvecs, tvecs, None
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    out = cv2.calibrateCameraExtended(
        [o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img], size,
        None, None, flags=flags)
    _, k, d, rvecs, tvecs, std, _, _ = out
    return k, d.ravel()[:5], rvecs, tvecs, std.ravel()[:9]


def calibrate_intrinsics(det: CameraDetections, board: Board, fisheye: bool = False,
                         fix_k3: bool = True, min_corners: int = 8, max_views: int = 60,
                         reject_factor: float = 3.0) -> IntrinsicsResult:
    """Calibrate one camera from its detections.

    Views with fewer than `min_corners` corners are left out; of the rest at most
    `max_views` are used. A view whose RMS error exceeds ``median + reject_factor * MAD``
    (scaled to a standard deviation, and at least 1 px) is rejected and the fit redone,
    up to three rounds.
    """
    frames = _select_views(det, min_corners, max_views)
    if len(frames) < MIN_VIEWS:
        raise CalibrationError(
            f"camera {det.name}: board seen with >= {min_corners} corners in {len(frames)} "
            f"frames; need at least {MIN_VIEWS} for intrinsics")
    objp = board.object_points()
    rejected = _homography_outliers(det, board, frames)
    frames = [k for k in frames if k not in rejected]
    if len(frames) < MIN_VIEWS:
        raise CalibrationError(f"camera {det.name}: fewer than {MIN_VIEWS} views left after "
                               f"rejecting {len(rejected)} that no homography fits")
    for _ in range(3):
        obj = [objp[det.frames[k].ids] for k in frames]
        img = [det.frames[k].corners for k in frames]
        try:
            k_mat, dist, rvecs, tvecs, std = _fit(obj, img, det.size, fisheye, fix_k3)
        except cv2.error as exc:
            raise CalibrationError(f"camera {det.name}: OpenCV calibration failed ({exc})") from exc
        camera = Camera(det.name, det.size, k_mat, dist, fisheye=fisheye)
        errors = {}
        for k, o, i, r, t in zip(frames, obj, img, rvecs, tvecs, strict=True):
            cam_pts = o @ cv2.Rodrigues(r)[0].T + np.ravel(t)
            proj = project_camera_frame(cam_pts, camera.matrix, camera.dist, fisheye)
            errors[k] = float(np.sqrt(np.mean(np.sum((proj - i) ** 2, -1))))
        values = np.array(list(errors.values()))
        med = np.median(values)
        limit = max(med + reject_factor * 1.4826 * np.median(np.abs(values - med)), 1.0)
        bad = [k for k, e in errors.items() if e > limit]
        if not bad or len(frames) - len(bad) < MIN_VIEWS:
            break
        rejected += bad
        frames = [k for k in frames if k not in bad]
        log.info("camera %s: rejected %d outlier views (RMS > %.2f px)", det.name, len(bad), limit)
    all_err = np.concatenate([[errors[k]] * len(det.frames[k].ids) for k in frames])
    rms = float(np.sqrt(np.mean(all_err ** 2)))
    std_map = {} if std is None else dict(zip(PINHOLE_NAMES, map(float, std), strict=True))
    return IntrinsicsResult(camera, rms, errors, sorted(rejected), std_map)
