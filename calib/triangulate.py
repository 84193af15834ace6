"""Triangulation of 2D keypoints seen by several calibrated cameras, vectorized over points.

Arrays are camera-first: pixels ``(C, ..., 2)``, likelihoods ``(C, ...)``; any number of
trailing axes (frames x bodyparts) is handled at once.

The linear solver is a weighted DLT whose rows are scaled so that its algebraic error is
the reprojection error in pixels divided by the 2D noise: each view's weight is
``likelihood * focal / depth`` (depth from the previous pass). This assumes the 2D noise
standard deviation falls as ``1 / likelihood``; with equal likelihoods it is plain
pixel-error least squares. The normal equations of all points come from one matrix
product, so there is no loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from calib.camera import Camera, UndistortTable
from calib.errors import CalibrationError

REWEIGHT_PASSES = 1  # depth re-weighting passes after the first solve
BLOCK = 1 << 15  # points per block


@dataclass
class Triangulation:
    """3D points ``xyz (..., 3)`` (NaN where fewer than two views were usable), the mean
    pixel reprojection error and the mean likelihood over the views used ``(...)``, and
    which cameras were used ``(C, ...)``."""

    xyz: np.ndarray
    reprojection_error: np.ndarray
    score: np.ndarray
    used: np.ndarray

    @property
    def n_cameras(self) -> np.ndarray:
        return self.used.sum(0)


class Triangulator:
    """Triangulates with a fixed list of cameras (order = the first axis of the inputs)."""

    def __init__(self, cameras: list[Camera]):
        if len(cameras) < 2:
            raise CalibrationError(f"triangulation needs at least 2 cameras, got {len(cameras)}")
        self.cameras = cameras
        self.proj = np.array([c.extrinsic for c in cameras])  # (C, 3, 4)
        self.focal = np.array([c.focal for c in cameras])
        self._quad = self._quadratic_forms()
        self._tables: list[UndistortTable] | None = None

    def _quadratic_forms(self) -> np.ndarray:
        """``(4C, 12)``: per camera the constant parts of the 4x4 normal matrix, flattened to
        the 3x3 block (9) and the last column (3), for the coefficients
        ``(x^2 + y^2, x, y, 1) * w^2`` of one view."""
        out = []
        for p in self.proj:
            p1, p2, p3 = p
            forms = (np.outer(p3, p3), -(np.outer(p3, p1) + np.outer(p1, p3)),
                     -(np.outer(p3, p2) + np.outer(p2, p3)), np.outer(p1, p1) + np.outer(p2, p2))
            out += [np.concatenate([f[:3, :3].ravel(), f[:3, 3]]) for f in forms]
        return np.array(out)

    # ----------------------------------------------------------------- building blocks

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels ``(C, N, 2)`` -> undistorted normalized coordinates ``(C, N, 2)``; large
        batches go through per-camera lookup tables (built once)."""
        if pixels.shape[1] < 4096:
            return np.stack([cam.undistort(p) for cam, p in zip(self.cameras, pixels, strict=True)])
        if self._tables is None:
            self._tables = [UndistortTable(cam) for cam in self.cameras]
        return np.stack([table(p) for table, p in zip(self._tables, pixels, strict=True)])

    def solve(self, norm: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Weighted linear solve ``(N, 3)``; `weights` ``(C, N)`` (0 leaves a view out)."""
        n_cams, n = weights.shape
        coeff = np.empty((4 * n_cams, n))
        for c in range(n_cams):
            w2 = weights[c] * weights[c]
            x, y = norm[c, :, 0], norm[c, :, 1]
            np.multiply(w2, x * x + y * y, out=coeff[4 * c])
            np.multiply(w2, x, out=coeff[4 * c + 1])
            np.multiply(w2, y, out=coeff[4 * c + 2])
            coeff[4 * c + 3] = w2
        m = self._quad.T @ coeff  # (12, N): A (3x3, row-major) and b (last column)
        return _solve_sym3(m)

    def depths(self, xyz: np.ndarray) -> np.ndarray:
        """Depth of each point in each camera ``(C, N)``."""
        return self.proj[:, 2, :3] @ xyz.T + self.proj[:, 2, 3][:, None]

    def normalized_errors(self, xyz: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """Reprojection error ``(C, N)`` on the undistorted image plane, scaled to pixels by
        each camera's focal length (inf behind a camera)."""
        cam = self.proj[:, :, :3] @ xyz.T + self.proj[:, :, 3:]  # (C, 3, N)
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.hypot(cam[:, 0] / z - norm[..., 0], cam[:, 1] / z - norm[..., 1])
        err[~(z > 0)] = np.inf
        err *= self.focal[:, None]
        return err

    def weighted_dlt(self, norm: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Depth-reweighted DLT: `base` ``(C, N)`` = likelihood (0 = view not used)."""
        weights = base * self.focal[:, None]
        xyz = self.solve(norm, weights)
        for _ in range(REWEIGHT_PASSES):
            z = self.depths(xyz)
            ok = np.isfinite(z) & (z > 0)
            xyz = self.solve(norm, np.where(ok, weights / np.where(ok, z, 1.0), 0.0))
        return xyz

    def refine(self, xyz: np.ndarray, pixels: np.ndarray, base: np.ndarray,
               iterations: int = 5) -> np.ndarray:
        """Gauss-Newton on the distorted pixel reprojection error, weighted by `base`;
        Jacobians by central differences, all points at once."""
        xyz = xyz.copy()
        step = 1e-4 * max(1.0, float(np.nanmedian(np.abs(xyz))) if np.isfinite(xyz).any() else 1)
        pix = np.nan_to_num(pixels)
        for _ in range(iterations):
            jtj = np.zeros((len(xyz), 3, 3))
            jtr = np.zeros((len(xyz), 3))
            for c, cam in enumerate(self.cameras):
                w2 = (base[c] ** 2)[:, None]
                r = cam.project(xyz) - pix[c]
                jac = np.stack([(cam.project(xyz + step * e) - cam.project(xyz - step * e))
                                / (2 * step) for e in np.eye(3)], -1)  # (N, 2, 3)
                jtj += np.einsum("nki,nkj->nij", jac, jac) * w2[..., None]
                jtr += np.einsum("nki,nk->ni", jac, r) * w2
            delta = _solve3(jtj, -jtr)
            good = np.isfinite(delta).all(1)
            xyz[good] += delta[good]
        return xyz

    # ----------------------------------------------------------------- full methods

    def triangulate(self, pixels: np.ndarray, likelihood: np.ndarray | None = None,
                    pcutoff: float = 0.0, robust: bool = False, threshold: float = 10.0,
                    refine: bool = False) -> Triangulation:
        """Triangulate pixels ``(C, ..., 2)`` with likelihoods ``(C, ...)`` (all 1 if None).

        Views with a NaN coordinate or a likelihood under `pcutoff` are left out. With
        `robust`, every pair of views proposes a point, the one whose views agree best
        (truncated squared error, `threshold` in px) wins, views farther than `threshold`
        from it are left out, and the rest are solved together again.
        """
        pixels = np.asarray(pixels, dtype=np.float64)
        n_cams = len(self.cameras)
        if pixels.ndim < 2 or pixels.shape[0] != n_cams or pixels.shape[-1] != 2:
            raise CalibrationError(f"pixels must be ({n_cams}, ..., 2), got {pixels.shape}")
        shape = pixels.shape[1:-1]
        pixels = pixels.reshape(n_cams, -1, 2)
        if likelihood is None:
            lik = np.ones(pixels.shape[:2])
        else:
            lik = np.asarray(likelihood, dtype=np.float64)
            if lik.shape != (n_cams, *shape):
                raise CalibrationError(f"likelihood must be {(n_cams, *shape)}, got {lik.shape}")
            lik = lik.reshape(n_cams, -1)
        n = pixels.shape[1]
        xyz, err, score = np.empty((n, 3)), np.empty(n), np.empty(n)
        used = np.empty((n_cams, n), bool)
        # Blocks keep the temporaries in cache: fresh multi-megabyte arrays per operation
        # cost more in page faults than the arithmetic.
        for s in range(0, n, BLOCK):
            e = min(s + BLOCK, n)
            xyz[s:e], err[s:e], score[s:e], used[:, s:e] = self._block(
                pixels[:, s:e], lik[:, s:e], pcutoff, robust, threshold, refine)
        return Triangulation(xyz.reshape(*shape, 3), err.reshape(shape), score.reshape(shape),
                             used.reshape(n_cams, *shape))

    def _block(self, pixels: np.ndarray, lik: np.ndarray, pcutoff: float, robust: bool,
               threshold: float, refine: bool) -> tuple[np.ndarray, ...]:
        valid = (np.isfinite(pixels[..., 0]) & np.isfinite(pixels[..., 1]) & (lik >= pcutoff)
                 & (lik > 0))  # NaN likelihoods compare False
        base = np.where(valid, lik, 0.0)
        norm = self.normalize(np.where(valid[..., None], pixels, 0.0))
        if robust:
            used = self._consensus(norm, base, valid, threshold)
            base = np.where(used, base, 0.0)
        else:
            used = valid
        xyz = self.weighted_dlt(norm, base)
        if robust:  # views that disagree with the joint solution leave, once
            used &= self.normalized_errors(xyz, norm) < threshold
            base = np.where(used, base, 0.0)
            xyz = self.weighted_dlt(norm, base)
        if refine:
            xyz = self.refine(xyz, pixels, base)
        return self._finish(xyz, pixels, lik, used)

    def _consensus(self, norm: np.ndarray, base: np.ndarray, valid: np.ndarray,
                   threshold: float) -> np.ndarray:
        """Views that agree with the best pair hypothesis ``(C, N)``."""
        n = norm.shape[1]
        best_cost = np.full(n, np.inf)
        best_err = np.full(norm.shape[:2], np.inf)
        cap = threshold * threshold
        for i, j in combinations(range(len(self.cameras)), 2):
            pair = np.zeros_like(base)
            pair[[i, j]] = base[[i, j]]
            xyz = self.weighted_dlt(norm, pair)
            err = self.normalized_errors(xyz, norm)
            ok = valid[i] & valid[j] & np.isfinite(err[i]) & np.isfinite(err[j])
            # MSAC cost: outliers and missing views cost the threshold, inliers their error.
            capped = np.minimum(np.nan_to_num(err, nan=threshold, posinf=threshold), threshold)
            cost = np.where(valid, capped * capped, cap)
            cost = np.where(ok, cost.sum(0), np.inf)
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best_err = np.where(better, err, best_err)
        return valid & (best_err < threshold)

    def _finish(self, xyz: np.ndarray, pixels: np.ndarray, lik: np.ndarray,
                used: np.ndarray) -> tuple[np.ndarray, ...]:
        n_used = used.sum(0)
        enough = n_used >= 2
        used = used & enough
        xyz[~enough] = np.nan
        err = np.stack([np.hypot(*(cam.project(xyz) - p).T)
                        for cam, p in zip(self.cameras, pixels, strict=True)])
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_err = np.where(used, err, 0).sum(0) / n_used
            score = np.where(used, lik, 0).sum(0) / n_used
        mean_err[~enough] = np.nan
        score[~enough] = np.nan
        return xyz, mean_err, score, used


def _solve_sym3(m: np.ndarray) -> np.ndarray:
    """Solve ``A x = -b`` for many symmetric 3x3 systems given as columns ``m (12, N)``
    (A row-major, then b), by the adjugate (NaN where singular): much faster than
    ``np.linalg.solve`` for millions of tiny systems. Returns ``(N, 3)``."""
    a00, a01, a02, a11, a12, a22 = (m[k] for k in (0, 1, 2, 4, 5, 8))
    b0, b1, b2 = -m[9], -m[10], -m[11]
    c00 = a11 * a22 - a12 * a12
    c01 = a02 * a12 - a01 * a22
    c02 = a01 * a12 - a02 * a11
    c11 = a00 * a22 - a02 * a02
    c12 = a01 * a02 - a00 * a12
    c22 = a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(det != 0, 1.0 / det, np.nan)
    out = np.empty((m.shape[1], 3))
    out[:, 0] = (c00 * b0 + c01 * b1 + c02 * b2) * inv
    out[:, 1] = (c01 * b0 + c11 * b1 + c12 * b2) * inv
    out[:, 2] = (c02 * b0 + c12 * b1 + c22 * b2) * inv
    return out


def _solve3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve many general 3x3 systems ``a (N, 3, 3) x = b (N, 3)`` (NaN if singular)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        det = np.linalg.det(a)
        out = np.full(b.shape, np.nan)
        ok = np.isfinite(det) & (np.abs(det) > 0)
        out[ok] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    return out


def triangulate(cameras: list[Camera], pixels: np.ndarray, likelihood: np.ndarray | None = None,
                **kwargs) -> Triangulation:
    """Shortcut for ``Triangulator(cameras).triangulate(pixels, likelihood, **kwargs)``."""
    return Triangulator(cameras).triangulate(pixels, likelihood, **kwargs)


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
