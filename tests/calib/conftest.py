"""Fixtures of the virtual rig: known cameras, board motion and what each camera sees."""

from __future__ import annotations

import numpy as np
import pytest

from calib.virtual_rig import board_motion, make_rig


def arena_points(a2w: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` random points ``(n, 3)`` in the arena volume, in rig (camera 0) coordinates."""
    rng = np.random.default_rng(seed)
    arena = np.stack([rng.uniform(-300, 300, n), rng.uniform(-300, 300, n),
                      rng.uniform(0, 300, n)], 1)
    return arena @ a2w[:3, :3].T + a2w[:3, 3]


def cramer_rao_rmse(cameras, points: np.ndarray, sigma: np.ndarray) -> float:
    """Cramer-Rao bound of the 3D RMSE for pixel noise `sigma` ``(C, N)`` per coordinate:
    ``sqrt(mean_n trace(I_n^-1))`` with ``I_n = sum_c J_cn^T J_cn / sigma_cn^2`` and ``J``
    the projection's Jacobian (lens distortion included, central differences)."""
    info = np.zeros((len(points), 3, 3))
    h = 1e-3
    for cam, s in zip(cameras, sigma, strict=True):
        jac = np.stack([(cam.project(points + h * e) - cam.project(points - h * e)) / (2 * h)
                        for e in np.eye(3)], -1)
        info += np.einsum("nki,nkj->nij", jac, jac) / (s ** 2)[:, None, None]
    return float(np.sqrt(np.mean(np.trace(np.linalg.inv(info), axis1=1, axis2=2))))


@pytest.fixture(scope="session")
def rig4():
    return make_rig(4, seed=1)


@pytest.fixture(scope="session")
def rig3():
    return make_rig(3, seed=1)


@pytest.fixture(scope="session")
def motion4(rig4):
    return board_motion(80, rig4[1], seed=2)
