"""Initial rig: checked board poses per view, then camera poses along a spanning tree of
the camera pairs that saw the board together.

The world frame is the first camera's frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from calib.boards import Board
from calib.camera import Camera, project_camera_frame, rotation_to_rvec
from calib.detect import CameraDetections
from calib.errors import CalibrationError

log = logging.getLogger(__name__)


@dataclass
class BoardPose:
    """Board -> camera transform of one view, with its RMS reprojection error (px)."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    error: float
    n_corners: int


def checked_pnp(camera: Camera, board: Board, ids: np.ndarray, corners: np.ndarray,
                max_error: float, ambiguity_ratio: float = 1.5) -> BoardPose | None:
    """Board pose from a plain planar PnP (IPPE), kept only if it passes three checks:
    RMS reprojection error under `max_error` px, the board in front of the camera, and no
    mirror ambiguity (the second IPPE solution must fit `ambiguity_ratio` times worse).
    """
    obj = board.object_points()[ids]
    img = camera.undistort(corners)  # normalized: identity camera matrix below
    try:
        n, rvecs, tvecs, errs = cv2.solvePnPGeneric(obj, img, np.eye(3), None,
                                                    flags=cv2.SOLVEPNP_IPPE)
    except cv2.error:
        return None
    if n == 0:
        return None
    errs = np.ravel(errs) * camera.focal  # normalized -> pixels
    if n > 1 and errs[1] < ambiguity_ratio * errs[0] and errs[1] > 0.5:
        return None  # both flips explain the corners: the pose is not determined
    rot = cv2.Rodrigues(rvecs[0])[0]
    t = np.ravel(tvecs[0])
    cam_pts = obj @ rot.T + t
    if np.any(cam_pts[:, 2] <= 0):
        return None
    proj = project_camera_frame(cam_pts, camera.matrix, camera.dist, camera.fisheye)
    err = float(np.sqrt(np.mean(np.sum((proj - corners) ** 2, -1))))
    if not err <= max_error:  # also rejects NaN from a degenerate solve
        return None
    return BoardPose(rot, t, err, len(ids))


def board_poses(camera: Camera, det: CameraDetections, board: Board,
                max_error: float) -> dict[int, BoardPose]:
    """Checked board poses of every frame of one camera; failures are counted and logged."""
    out = {}
    for k, d in det.frames.items():
        pose = checked_pnp(camera, board, d.ids, d.corners, max_error)
        if pose is not None:
            out[k] = pose
    log.info("camera %s: %d of %d board poses passed the PnP checks", camera.name, len(out),
             len(det.frames))
    return out


def _average_transform(rots: np.ndarray, trans: np.ndarray,
                       max_angle_deg: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Robust mean of rigid transforms: the medoid rotation, then the chordal mean of the
    rotations within `max_angle_deg` of it and the median of their translations."""
    rel = np.einsum("aij,bkj->abik", rots, rots)  # R_a R_b^T
    cos = np.clip((np.trace(rel, axis1=2, axis2=3) - 1) / 2, -1, 1)
    angles = np.degrees(np.arccos(cos))
    medoid = int(np.argmin(angles.sum(1)))
    keep = angles[medoid] <= max_angle_deg
    u, _, vt = np.linalg.svd(rots[keep].sum(0))
    rot = u @ np.diag([1, 1, np.linalg.det(u @ vt)]) @ vt
    return rot, np.median(trans[keep], axis=0)


def spanning_tree_rig(poses: list[dict[int, BoardPose]],
                      names: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """World -> camera ``(R, t)`` per camera, world = camera 0.

    Cameras join the tree one at a time through the pair with the most shared views (a
    maximum spanning tree grown from camera 0); each pair's relative pose is the robust
    mean over its shared views.
    """
    n = len(poses)
    shared = np.zeros((n, n), int)
    for i in range(n):
        for j in range(n):
            if i != j:
                shared[i, j] = len(poses[i].keys() & poses[j].keys())
    placed = {0: (np.eye(3), np.zeros(3))}
    while len(placed) < n:
        candidates = [(shared[i, j], i, j) for i in placed for j in range(n) if j not in placed]
        count, i, j = max(candidates)
        if count < 2:
            missing = [names[j] for j in range(n) if j not in placed]
            raise CalibrationError(
                f"cameras {missing} share fewer than 2 board views with the other cameras: "
                "record views where the board is seen by them and a calibrated camera together")
        frames = sorted(poses[i].keys() & poses[j].keys())
        rots = np.array([poses[j][k].rotation @ poses[i][k].rotation.T for k in frames])
        trans = np.array([poses[j][k].translation - rots[m] @ poses[i][k].translation
                          for m, k in enumerate(frames)])
        r_ij, t_ij = _average_transform(rots, trans)
        r_i, t_i = placed[i]
        placed[j] = (r_ij @ r_i, r_ij @ t_i + t_ij)
        log.info("camera %s placed from %s over %d shared views", names[j], names[i], count)
    return [placed[i] for i in range(n)]


def world_board_poses(poses: list[dict[int, BoardPose]],
                      rig: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, np.ndarray]:
    """Board -> world pose ``(6,)`` (rvec, tvec) per frame, from the camera whose checked
    PnP pose fit best."""
    best: dict[int, tuple[float, int]] = {}
    for c, cam_poses in enumerate(poses):
        for k, p in cam_poses.items():
            if k not in best or p.error < best[k][0]:
                best[k] = (p.error, c)
    out = {}
    for k, (_, c) in sorted(best.items()):
        r_c, t_c = rig[c]
        p = poses[c][k]
        rot = r_c.T @ p.rotation
        out[k] = np.concatenate([rotation_to_rvec(rot), r_c.T @ (p.translation - t_c)])
    return out
