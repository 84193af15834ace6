"""Camera model: OpenCV pinhole with distortion ``(k1, k2, p1, p2, k3)`` or fisheye
``(k1, k2, k3, k4)``, plus the pose of the camera in the rig (world -> camera).

Pixel convention is OpenCV's: the center of the top-left pixel is ``(0, 0)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from calib.errors import CalibrationError

PINHOLE_DIST = 5
FISHEYE_DIST = 4
# Undistortion iterations: 10 brings OpenCV's fixed-point scheme below 1e-5 px for the
# k1 = -0.2 lenses of the tests; the default 5 leaves up to ~0.01 px.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 10, 1e-12)


def rodrigues(rvecs: np.ndarray) -> np.ndarray:
    """Rotation vectors ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (vectorized)."""
    rvecs = np.asarray(rvecs, dtype=np.float64)
    theta = np.linalg.norm(rvecs, axis=-1)[..., None, None]
    small = theta < 1e-12
    safe = np.where(small, 1.0, theta)
    k = rvecs / safe[..., 0]  # unit axes (..., 3)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    skew = np.stack([
        np.stack([zero, -kz, ky], -1),
        np.stack([kz, zero, -kx], -1),
        np.stack([-ky, kx, zero], -1),
    ], -2)
    eye = np.broadcast_to(np.eye(3), skew.shape)
    rot = eye + np.sin(safe) * skew + (1 - np.cos(safe)) * (skew @ skew)
    return np.where(small, eye, rot)


def rotation_to_rvec(rot: np.ndarray) -> np.ndarray:
    """One rotation matrix -> rotation vector ``(3,)``."""
    return cv2.Rodrigues(np.asarray(rot, dtype=np.float64))[0].ravel()


def distort_normalized(xy: np.ndarray, dist: np.ndarray, fisheye: bool) -> np.ndarray:
    """Apply lens distortion to normalized coordinates ``(..., 2)`` (x/z, y/z)."""
    x, y = xy[..., 0], xy[..., 1]
    if fisheye:
        k1, k2, k3, k4 = dist
        r = np.sqrt(x * x + y * y)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
        return xy * scale[..., None]
    k1, k2, p1, p2, k3 = dist
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xy2 = 2 * x * y
    xd = x * radial + p1 * xy2 + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + p2 * xy2
    return np.stack([xd, yd], -1)


def project_camera_frame(points: np.ndarray, matrix: np.ndarray, dist: np.ndarray,
                         fisheye: bool = False) -> np.ndarray:
    """Project points ``(..., 3)`` given in the camera frame to pixels ``(..., 2)``."""
    xy = points[..., :2] / points[..., 2:3]
    xy = distort_normalized(xy, dist, fisheye)
    return np.stack([matrix[0, 0] * xy[..., 0] + matrix[0, 1] * xy[..., 1] + matrix[0, 2],
                     matrix[1, 1] * xy[..., 1] + matrix[1, 2]], -1)


def _is_intrinsic(m: np.ndarray) -> bool:
    """Whether `m` is an upper-triangular camera matrix with positive focal lengths (the
    projection reads fx, s, cx, fy, cy only and assumes the zeros)."""
    return bool(m[0, 0] > 0 and m[1, 1] > 0
                and np.all(np.abs([m[1, 0], m[2, 0], m[2, 1]]) < 1e-9))


@dataclass
class Camera:
    """One calibrated camera. ``size`` is ``(width, height)`` in pixels; ``rvec``/``tvec``
    map world points into the camera frame: ``X_cam = R(rvec) X + tvec``."""

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    dist: np.ndarray
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False

    def __post_init__(self) -> None:
        sized = isinstance(self.size, (list, tuple, np.ndarray))
        size = tuple(self.size) if sized else (self.size,)
        if len(size) != 2 or not all(isinstance(v, (int, np.integer)) or
                                     (isinstance(v, float) and v.is_integer()) for v in size):
            raise CalibrationError(f"camera {self.name!r}: size must be [width, height] in "
                                   f"whole pixels, got {list(size)}")
        self.size = (int(size[0]), int(size[1]))
        self.matrix = np.asarray(self.matrix, dtype=np.float64)
        self.dist = np.asarray(self.dist, dtype=np.float64).ravel()
        self.rvec = np.asarray(self.rvec, dtype=np.float64).ravel()
        self.tvec = np.asarray(self.tvec, dtype=np.float64).ravel()
        n_dist = FISHEYE_DIST if self.fisheye else PINHOLE_DIST
        if self.dist.size < n_dist:  # OpenCV accepts 4 pinhole coefficients: k3 = 0
            self.dist = np.concatenate([self.dist, np.zeros(n_dist - self.dist.size)])
        problems = []
        if self.matrix.shape != (3, 3):
            problems.append(f"matrix must be 3x3, got {self.matrix.shape}")
        if self.dist.size != n_dist:
            problems.append(f"distortions must have {n_dist} values, got {self.dist.size}")
        if self.rvec.size != 3 or self.tvec.size != 3:
            problems.append("rotation and translation must have 3 values each")
        if min(self.size) <= 0:
            problems.append(f"size must be positive, got {self.size}")
        if not all(np.isfinite(a).all() for a in (self.matrix, self.dist, self.rvec, self.tvec)):
            problems.append("parameters must be finite")
        elif self.matrix.shape == (3, 3) and not _is_intrinsic(self.matrix):
            # a zero or singular matrix projects everything to one point: every 3D point
            # would be wrong, not missing
            problems.append("matrix must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with "
                            f"fx, fy > 0, got {self.matrix.tolist()}")
        if problems:
            raise CalibrationError(f"camera {self.name!r}: " + "; ".join(problems))

    @property
    def rotation(self) -> np.ndarray:
        """World -> camera rotation matrix ``(3, 3)``."""
        return rodrigues(self.rvec)

    @property
    def center(self) -> np.ndarray:
        """Camera center in world coordinates ``(3,)``."""
        return -self.rotation.T @ self.tvec

    @property
    def extrinsic(self) -> np.ndarray:
        """``[R | t]`` ``(3, 4)``."""
        return np.hstack([self.rotation, self.tvec[:, None]])

    @property
    def focal(self) -> float:
        """Mean focal length in pixels (scales normalized errors to pixels)."""
        return float(0.5 * (self.matrix[0, 0] + self.matrix[1, 1]))

    def to_camera_frame(self, points: np.ndarray) -> np.ndarray:
        return points @ self.rotation.T + self.tvec

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` -> pixels ``(..., 2)`` (NaN stays NaN)."""
        return project_camera_frame(self.to_camera_frame(np.asarray(points, np.float64)),
                                    self.matrix, self.dist, self.fisheye)

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels ``(..., 2)`` -> undistorted normalized coordinates ``(..., 2)``."""
        pixels = np.asarray(pixels, dtype=np.float64)
        flat = np.ascontiguousarray(pixels.reshape(-1, 1, 2))
        if flat.shape[0] == 0:
            return pixels.copy()
        if self.fisheye:
            out = cv2.fisheye.undistortPoints(flat, self.matrix, self.dist)
        else:
            out = cv2.undistortPoints(flat, self.matrix, self.dist, None, None,
                                      criteria=_UNDISTORT_CRITERIA)
        return out.reshape(pixels.shape)

    def copy(self) -> Camera:
        return Camera(self.name, self.size, self.matrix.copy(), self.dist.copy(),
                      self.rvec.copy(), self.tvec.copy(), self.fisheye)


class UndistortTable:
    """Fast undistortion of many pixels by a lookup table, for triangulation.

    The table holds, per pixel of the image grid, the lens's share of the undistorted
    normalized coordinates (undistorted minus the distortion-free ``(u - cx) / fx``); it is
    read with OpenCV's bilinear ``remap``. Its 1/32-pixel interpolation grid only touches
    the slowly varying lens share, so the result stays within 0.01 px of
    ``Camera.undistort`` even in the corners of a k1 = -0.25 lens (tests check this), at
    ~10x its speed. Points outside the image
    fall back to ``Camera.undistort``.
    """

    def __init__(self, camera: Camera):
        self.camera = camera
        width, height = camera.size
        u, v = np.meshgrid(np.arange(width + 1.0), np.arange(height + 1.0))
        grid = np.stack([u, v], -1)
        exact = camera.undistort(grid)
        self._table = (exact - self._linear(grid)).astype(np.float32)

    def _linear(self, pixels: np.ndarray) -> np.ndarray:
        k = self.camera.matrix
        y = (pixels[..., 1] - k[1, 2]) / k[1, 1]
        return np.stack([(pixels[..., 0] - k[0, 2] - k[0, 1] * y) / k[0, 0], y], -1)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels ``(N, 2)`` -> undistorted normalized coordinates ``(N, 2)``."""
        pixels = np.asarray(pixels, dtype=np.float64)
        n = len(pixels)
        width, height = self.camera.size
        x, y = pixels[:, 0], pixels[:, 1]
        inside = (x >= 0) & (y >= 0) & (x <= width) & (y <= height)
        all_inside = bool(inside.all())
        out = self._linear(pixels)
        if n == 0:
            return out
        # remap wants a 2D map with sides under 32767: fold the points into rows
        cols = min(n, 16384)
        rows = -(-n // cols)
        maps = np.zeros((2, rows * cols), np.float32)
        maps[0, :n], maps[1, :n] = x, y
        if not all_inside:
            maps[:, :n][:, ~inside] = 0.0
        lens = cv2.remap(self._table, maps[0].reshape(rows, cols), maps[1].reshape(rows, cols),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out += lens.reshape(-1, 2)[:n]
        if not all_inside:
            out[~inside] = self.camera.undistort(pixels[~inside])
        return out
