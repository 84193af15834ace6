"""Bundle adjustment of the whole rig: every camera's pose, focal lengths, principal point
and distortion, and every board pose, in one SciPy ``least_squares`` with a sparse Jacobian
and a robust loss. Camera 0 defines the world frame and the board defines the scale."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix

from calib.boards import Board
from calib.camera import Camera, project_camera_frame, rodrigues
from calib.detect import CameraDetections

log = logging.getLogger(__name__)

PINHOLE_DIST_NAMES = ("k1", "k2", "p1", "p2", "k3")
FISHEYE_DIST_NAMES = ("k1", "k2", "k3", "k4")


@dataclass
class Observations:
    """Flat board-corner observations: camera, view (index into the pose list), corner in
    board coordinates ``(M, 3)`` and its pixel ``(M, 2)``."""

    cam: np.ndarray
    view: np.ndarray
    obj: np.ndarray
    xy: np.ndarray
    frames: list[int]  # view index -> frame number

    @classmethod
    def gather(cls, dets: list[CameraDetections], board: Board, frames: list[int]) -> Observations:
        objp = board.object_points()
        view_of = {k: v for v, k in enumerate(frames)}
        cam, view, obj, xy = [], [], [], []
        for c, det in enumerate(dets):
            for k, d in det.frames.items():
                if k in view_of:
                    cam.append(np.full(len(d.ids), c))
                    view.append(np.full(len(d.ids), view_of[k]))
                    obj.append(objp[d.ids])
                    xy.append(d.corners)
        return cls(np.concatenate(cam), np.concatenate(view), np.concatenate(obj),
                   np.concatenate(xy), list(frames))

    def subset(self, keep: np.ndarray) -> Observations:
        return Observations(self.cam[keep], self.view[keep], self.obj[keep], self.xy[keep],
                            self.frames)


@dataclass
class BundleResult:
    """Adjusted cameras and board poses (frame -> (6,) rvec, tvec board -> world), per-camera
    RMS reprojection error (px) and observation counts, one standard deviation per camera
    parameter, the views dropped as outliers ``(camera name, frame)`` and the RMS error of
    every view kept ``(camera name, frame) -> px``."""

    cameras: list[Camera]
    board_poses: dict[int, np.ndarray]
    rms: dict[str, float]
    n_points: dict[str, int]
    std: dict[str, dict[str, float]]
    dropped_views: list[tuple[str, int]] = field(default_factory=list)
    nfev: int = 0
    view_errors: dict[tuple[str, int], float] = field(default_factory=dict)


class _Layout:
    """Where each camera's and board's parameters sit in the parameter vector."""

    def __init__(self, cameras: list[Camera], n_views: int, fix_k3: bool):
        self.n_cams = len(cameras)
        self.dist_free = [
            list(range(4)) if c.fisheye else ([0, 1, 2, 3] if fix_k3 else [0, 1, 2, 3, 4])
            for c in cameras]
        self.ext = [None] + [slice(6 * (c - 1), 6 * c) for c in range(1, self.n_cams)]
        start = 6 * (self.n_cams - 1)
        self.intr = []
        for free in self.dist_free:
            self.intr.append(slice(start, start + 4 + len(free)))
            start += 4 + len(free)
        self.boards = start
        self.size = start + 6 * n_views

    def board(self, v: int) -> slice:
        return slice(self.boards + 6 * v, self.boards + 6 * v + 6)


def _pack(cameras: list[Camera], poses: np.ndarray, lay: _Layout) -> np.ndarray:
    x = np.empty(lay.size)
    for c, cam in enumerate(cameras):
        if lay.ext[c] is not None:
            x[lay.ext[c]] = np.concatenate([cam.rvec, cam.tvec])
        k = cam.matrix
        x[lay.intr[c]] = np.concatenate([[k[0, 0], k[1, 1], k[0, 2], k[1, 2]],
                                         cam.dist[lay.dist_free[c]]])
    x[lay.boards:] = poses.ravel()
    return x


def _unpack(x: np.ndarray, template: list[Camera], lay: _Layout) -> tuple[list[Camera], np.ndarray]:
    cams = []
    for c, t in enumerate(template):
        cam = t.copy()
        if lay.ext[c] is not None:
            cam.rvec, cam.tvec = x[lay.ext[c]][:3].copy(), x[lay.ext[c]][3:].copy()
        p = x[lay.intr[c]]
        cam.matrix = np.array([[p[0], 0, p[2]], [0, p[1], p[3]], [0, 0, 1.0]])
        cam.dist = t.dist.copy()
        cam.dist[lay.dist_free[c]] = p[4:]
        cams.append(cam)
    return cams, x[lay.boards:].reshape(-1, 6)


def _residuals(x: np.ndarray, template: list[Camera], lay: _Layout, obs: Observations,
               by_cam: list[np.ndarray]) -> np.ndarray:
    cams, poses = _unpack(x, template, lay)
    rot = rodrigues(poses[:, :3])
    world = np.einsum("mij,mj->mi", rot[obs.view], obs.obj) + poses[obs.view, 3:]
    res = np.empty_like(obs.xy)
    for cam, idx in zip(cams, by_cam, strict=True):
        pts = world[idx] @ cam.rotation.T + cam.tvec
        res[idx] = project_camera_frame(pts, cam.matrix, cam.dist, cam.fisheye) - obs.xy[idx]
    return res.ravel()


def _sparsity(lay: _Layout, obs: Observations) -> coo_matrix:
    rows, cols = [], []
    m = np.arange(len(obs.cam))
    for c in range(lay.n_cams):
        sel = m[obs.cam == c]
        blocks = [lay.intr[c]] + ([lay.ext[c]] if lay.ext[c] is not None else [])
        for b in blocks:
            for col in range(b.start, b.stop):
                for r in (0, 1):
                    rows.append(2 * sel + r)
                    cols.append(np.full(len(sel), col))
    for j in range(6):
        for r in (0, 1):
            rows.append(2 * m + r)
            cols.append(lay.boards + 6 * obs.view + j)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(2 * len(m), lay.size))


def _camera_std(jac, res: np.ndarray, lay: _Layout, n_views: int) -> np.ndarray:
    """Standard deviations of the camera parameters: the camera block of (J^T J)^-1 s^2 by a
    Schur complement over the board poses (block diagonal, 6x6 per view)."""
    jtj = (jac.T @ jac).toarray() if hasattr(jac, "toarray") else jac.T @ jac
    nc = lay.boards
    a, b = jtj[:nc, :nc], jtj[:nc, nc:]
    d = jtj[nc:, nc:]
    blocks = np.array([d[6 * v:6 * v + 6, 6 * v:6 * v + 6] for v in range(n_views)])
    d_inv = np.linalg.pinv(blocks)
    b3 = b.reshape(nc, n_views, 6)
    schur = a - np.einsum("ivk,vkl,jvl->ij", b3, d_inv, b3)
    dof = max(len(res) - lay.size, 1)
    s2 = float(res @ res) / dof
    return np.sqrt(np.clip(np.diag(np.linalg.pinv(schur)) * s2, 0, None))


def bundle_adjust(cameras: list[Camera], board_poses: dict[int, np.ndarray],
                  dets: list[CameraDetections], board: Board, fix_k3: bool = True,
                  loss: str = "soft_l1", f_scale: float = 1.0,
                  outlier_factor: float = 5.0) -> BundleResult:
    """Adjust `cameras` (camera 0 stays the world frame) and the board poses to all corner
    observations of the frames in `board_poses`.

    Runs twice: after the first solve, a view (one camera, one frame) whose RMS error
    exceeds ``outlier_factor`` times the median view RMS (and 2 px) is dropped.
    """
    frames = sorted(board_poses)
    obs = Observations.gather(dets, board, frames)
    lay = _Layout(cameras, len(frames), fix_k3)
    x0 = _pack(cameras, np.array([board_poses[k] for k in frames]), lay)
    dropped: list[tuple[str, int]] = []
    nfev = 0
    for round_ in range(2):
        by_cam = [np.flatnonzero(obs.cam == c) for c in range(len(cameras))]
        sol = least_squares(_residuals, x0, jac_sparsity=_sparsity(lay, obs), loss=loss,
                            f_scale=f_scale, x_scale="jac", method="trf", ftol=1e-6,
                            xtol=1e-10, gtol=1e-10, max_nfev=200,
                            args=(cameras, lay, obs, by_cam))
        nfev += sol.nfev
        x0 = sol.x
        res = sol.fun.reshape(-1, 2)
        sq = np.sum(res ** 2, 1)
        key = obs.cam * len(frames) + obs.view
        uniq, inv = np.unique(key, return_inverse=True)
        view_rms = np.sqrt(np.bincount(inv, sq) / np.bincount(inv))
        limit = max(outlier_factor * np.median(view_rms), 2.0)
        bad = view_rms > limit
        if round_ == 1 or not bad.any():
            break
        for k in uniq[bad]:
            dropped.append((cameras[k // len(frames)].name, frames[k % len(frames)]))
        log.info("bundle: dropped %d views with RMS > %.2f px", int(bad.sum()), limit)
        obs = obs.subset(~bad[inv])
    cams, poses = _unpack(sol.x, cameras, lay)
    std_all = _camera_std(sol.jac, sol.fun, lay, len(frames))
    rms, n_points, std = {}, {}, {}
    for c, cam in enumerate(cams):
        sel = obs.cam == c
        rms[cam.name] = float(np.sqrt(np.mean(sq[sel]))) if sel.any() else float("nan")
        n_points[cam.name] = int(sel.sum())
        names = ["fx", "fy", "cx", "cy"] + [
            (FISHEYE_DIST_NAMES if cam.fisheye else PINHOLE_DIST_NAMES)[i]
            for i in lay.dist_free[c]]
        std[cam.name] = dict(zip(names, map(float, std_all[lay.intr[c]]), strict=True))
    n_views = len(frames)
    view_errors = {(cams[int(k) // n_views].name, frames[int(k) % n_views]): float(e)
                   for k, e in zip(uniq, view_rms, strict=True)}
    return BundleResult(cams, {k: poses[v] for v, k in enumerate(frames)}, rms, n_points, std,
                        dropped, nfev, view_errors)
