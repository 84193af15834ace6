"""Epipolar geometry between calibrated cameras, and matching several animals across
cameras by it before triangulation.

Two views of one point lie on each other's epipolar lines; the distance of a point in
camera b to the epipolar line of its partner in camera a, in pixels of b, says how well
the two fit. Animals (each a set of bodyparts) are matched to a reference camera's
animals by the Hungarian method on the mean of that distance over the parts both views
have (and both way round), so the parts of one animal are triangulated together.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from calib.camera import Camera

UNMATCHED = -1


def _cross(t: np.ndarray) -> np.ndarray:
    return np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])


def essential(a: Camera, b: Camera) -> np.ndarray:
    """``E`` with ``x_b^T E x_a = 0`` for normalized (undistorted) image points of one
    world point seen by `a` and `b`."""
    rot = b.rotation @ a.rotation.T
    trans = b.tvec - rot @ a.tvec
    return _cross(trans) @ rot


def epipolar_distance(a: Camera, b: Camera, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Distance ``(...)`` in pixels of `b` from points `pb` ``(..., 2)`` to the epipolar
    lines of their partners `pa` ``(..., 2)`` in `a` (NaN where either is NaN)."""
    xa = np.concatenate([a.undistort(pa), np.ones(pa.shape[:-1] + (1,))], -1)
    xb = np.concatenate([b.undistort(pb), np.ones(pb.shape[:-1] + (1,))], -1)
    line = xa @ essential(a, b).T  # (..., 3) lines in b's normalized plane
    norm = np.linalg.norm(line[..., :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs((line * xb).sum(-1)) / norm * b.focal


def match_animals(cameras: list[Camera], pixels: np.ndarray, visible: np.ndarray,
                  max_px: float, reference: int = 0) -> np.ndarray:
    """Match animals across cameras: `pixels` ``(C, I, K, 2)`` with `visible` ``(C, I, K)``
    (parts usable for matching) -> ``(C, I)``: row ``order[c, i]`` of camera c is the
    animal seen as row i of camera `reference`, or -1. Pairs whose mean symmetric
    epipolar distance exceeds `max_px` px (or with no part in common) are not matched."""
    n_cam, n_ind = pixels.shape[:2]
    order = np.full((n_cam, n_ind), UNMATCHED)
    order[reference] = np.arange(n_ind)
    ref = cameras[reference]
    for c in range(n_cam):
        if c == reference:
            continue
        cost = np.full((n_ind, n_ind), np.inf)
        for i in range(n_ind):
            for j in range(n_ind):
                both = visible[reference, i] & visible[c, j]
                if not both.any():
                    continue
                pa, pb = pixels[reference, i][both], pixels[c, j][both]
                d = 0.5 * (epipolar_distance(ref, cameras[c], pa, pb)
                           + epipolar_distance(cameras[c], ref, pb, pa))
                cost[i, j] = float(np.mean(d))
        finite = np.where(np.isfinite(cost), cost, 1e12)
        rows, cols = linear_sum_assignment(finite)
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] <= max_px:
                order[c, i] = j
    return order
