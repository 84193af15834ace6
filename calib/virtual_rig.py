"""A virtual capture rig with known calibration, for tests and benchmarks.

Cameras stand on a circle around an arena and look down at its center, each with its own
focal length, off-center principal point and lens distortion. A ChArUco board moves
smoothly through the arena (position and tilt), and each camera sees the corners that fall
in its image and face it, minus random occlusions, with Gaussian pixel noise. The same
scene can be rendered to images (with motion blur) to test detection.

The world frame of the rig is camera 0's frame, like a calibration's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calib.boards import Board
from calib.calibration import Calibration
from calib.camera import Camera, UndistortTable, rodrigues, rotation_to_rvec
from calib.detect import CameraDetections, Detection

IMAGE_SIZE = (800, 600)
ARENA_BOARD = Board("charuco", 9, 6, 60.0, 45.0, "DICT_4X4_50")
# Bigger squares and markers for rendered views: the ArUco bits must span a few pixels.
RENDER_BOARD = Board("charuco", 7, 5, 90.0, 70.0, "DICT_4X4_50")


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation for a camera at `center` looking at `target` (z up world)."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def make_rig(n_cameras: int = 4, seed: int = 0, radius: float = 900.0,
             height: float = 700.0) -> tuple[Calibration, np.ndarray]:
    """The true rig in camera-0 coordinates and the arena -> camera-0 transform ``(4, 4)``."""
    rng = np.random.default_rng(seed)
    cams_arena = []
    for c in range(n_cameras):
        azimuth = 2 * np.pi * c / n_cameras + rng.uniform(-0.2, 0.2)
        center = np.array([radius * np.cos(azimuth), radius * np.sin(azimuth),
                           height + rng.uniform(-80, 80)])
        rot = _look_at(center, np.array([0.0, 0.0, 150.0]) + rng.uniform(-40, 40, 3))
        f = rng.uniform(480, 540)
        cx = IMAGE_SIZE[0] / 2 + rng.uniform(-25, 25)  # off-center principal point
        cy = IMAGE_SIZE[1] / 2 + rng.uniform(-20, 20)
        matrix = np.array([[f * rng.uniform(0.995, 1.005), 0, cx], [0, f, cy], [0, 0, 1]])
        dist = np.array([rng.uniform(-0.25, -0.1), rng.uniform(0.02, 0.08),
                         rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3), 0.0])
        cams_arena.append((f"cam{c}", matrix, dist, rot, -rot @ center))
    r0, t0 = cams_arena[0][3], cams_arena[0][4]
    arena_to_world = np.eye(4)
    arena_to_world[:3, :3], arena_to_world[:3, 3] = r0, t0
    cameras = []
    for name, matrix, dist, rot, t in cams_arena:
        r_w = rot @ r0.T  # camera from world (= camera 0)
        cameras.append(Camera(name, IMAGE_SIZE, matrix, dist, rotation_to_rvec(r_w),
                              t - r_w @ t0))
    return Calibration(cameras, {"virtual": True}), arena_to_world


FLIP = np.diag([1.0, -1.0, -1.0])  # half a turn about x


def board_motion(n_views: int, arena_to_world: np.ndarray, board: Board = ARENA_BOARD,
                 seed: int = 0) -> np.ndarray:
    """Board -> world poses ``(n_views, 6)`` (rvec, tvec) along a smooth random path: the
    board center wanders over the arena floor and up to 400 units high, tilted up to ~35
    degrees from horizontal and turning about its normal."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n_views)

    def wave(amplitude: float) -> np.ndarray:
        freqs = rng.uniform(1.0, 4.0, 3)
        phases = rng.uniform(0, 2 * np.pi, 3)
        waves = np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])
        return amplitude * 1.6 * waves.mean(0)

    center = np.stack([wave(450), wave(450), 250 + wave(250)], -1)
    tilt = np.stack([wave(1.1), wave(1.1), np.zeros(n_views)], -1)
    yaw = 2 * np.pi * t * rng.uniform(0.5, 1.5) + rng.uniform(0, 2 * np.pi)
    half = np.array([*board.extent, 0.0]) / 2
    out = np.empty((n_views, 6))
    for v in range(n_views):
        # printed side up: the board's z axis (pointing away from its viewers) points down
        rot_arena = rodrigues(tilt[v]) @ rodrigues(np.array([0, 0, yaw[v]])) @ FLIP
        rot = arena_to_world[:3, :3] @ rot_arena
        trans = arena_to_world[:3, :3] @ (center[v] - rot_arena @ half) + arena_to_world[:3, 3]
        out[v] = np.concatenate([rotation_to_rvec(rot), trans])
    return out


@dataclass
class VirtualViews:
    """Noisy detections per camera and the noise-free corners they came from."""

    detections: list[CameraDetections]
    truth: list[dict[int, np.ndarray]]


def observe(rig: Calibration, poses: np.ndarray, board: Board = ARENA_BOARD, noise_px: float = 0.3,
            occlusion: float = 0.3, max_angle_deg: float = 70.0, margin: float = 5.0,
            seed: int = 0) -> VirtualViews:
    """What each camera detects of the board in each pose: corners inside the image (by
    `margin` px) on a board whose printed side faces the camera within `max_angle_deg`;
    with probability `occlusion` a random block of corners is hidden; views keeping fewer
    than 6 corners are failures. Gaussian noise of `noise_px` per coordinate."""
    rng = np.random.default_rng(seed)
    objp = board.object_points()
    grid = board.corner_grid(np.arange(board.n_corners))
    dets, truth = [], []
    for cam in rig.cameras:
        out = CameraDetections(cam.name, cam.size, n_frames=len(poses))
        true_views = {}
        for v, pose in enumerate(poses):
            rot = rodrigues(pose[:3])
            world = objp @ rot.T + pose[3:]
            cam_pts = cam.to_camera_frame(world)
            # the printed side faces the camera when the board's z axis points away from it
            normal = cam.rotation @ rot[:, 2]
            to_cam = -cam_pts.mean(0) / np.linalg.norm(cam_pts.mean(0))
            cos = -float(normal @ to_cam)
            px = cam.project(world)
            low, high = margin, np.array(cam.size) - 1 - margin
            inside = (cam_pts[:, 2] > 0) & np.all((px > low) & (px < high), axis=1)
            if rng.random() < occlusion:
                c0 = rng.integers(0, board.inner_shape[0])
                r0 = rng.integers(0, board.inner_shape[1])
                w, h = rng.integers(2, 5), rng.integers(2, 4)
                inside &= ~((grid[:, 0] >= c0) & (grid[:, 0] < c0 + w) & (grid[:, 1] >= r0)
                            & (grid[:, 1] < r0 + h))
            if cos < np.cos(np.radians(max_angle_deg)) or inside.sum() < 6:
                out.n_failed += 1
                continue
            ids = np.flatnonzero(inside)
            true_views[v] = px[ids]
            out.frames[v] = Detection(ids, px[ids] + rng.normal(0, noise_px, (len(ids), 2)))
        dets.append(out)
        truth.append(true_views)
    return VirtualViews(dets, truth)


class Renderer:
    """Renders `board` as `cam` sees it: every (sub)pixel's ray, through the lens model, is
    intersected with the board plane and the board texture sampled there;
    `supersample` x `supersample` rays per pixel are averaged (anti-aliasing). Around the
    board is a white rim of `rim` squares, then the `background` gray level. The rays and
    the texture (sharp down to `min_depth` units from the camera) are computed once."""

    def __init__(self, cam: Camera, board: Board = ARENA_BOARD, supersample: int = 2,
                 min_depth: float = 400.0, rim: float = 0.5, background: float = 128.0):
        self.cam, self.board, self.ss = cam, board, supersample
        self.rim, self.background = rim, background
        width, height = cam.size
        # A whole number of texels per square puts every square edge on a texel boundary,
        # where bilinear sampling places it exactly; otherwise edges snap by up to half a
        # texel and the rendered corners move off the ground truth.
        texels = max(1, round(2.0 * supersample * cam.focal / min_depth * board.square_length))
        self.px_per_unit = texels / board.square_length
        texture = board.image(self.px_per_unit).astype(np.float32)
        self.pad = int(round(texels * rim))
        self.texture = cv2.copyMakeBorder(texture, *[self.pad] * 4, cv2.BORDER_CONSTANT,
                                          value=255)
        self.back = np.full_like(self.texture, 220)  # the unprinted back of the board
        sub = [(np.arange(n * supersample) + 0.5) / supersample - 0.5 for n in (width, height)]
        u, v = np.meshgrid(*sub)
        rays = UndistortTable(cam)(np.stack([u, v], -1).reshape(-1, 2)).reshape(*u.shape, 2)
        # camera frame (x/z, y/z), one per subpixel: (height * ss, width * ss, 2)
        self.rays = rays.astype(np.float32)

    def _box(self, poses: list[np.ndarray]) -> tuple[int, int, int, int] | None:
        """Pixel box ``(x0, y0, x1, y1)`` holding the board (and rim) in all `poses`."""
        w, h = self.board.extent
        rim = self.board.square_length * self.rim
        t = np.linspace(0, 1, 25)[:, None]
        a, b = np.array([-rim, -rim]), np.array([w + rim, h + rim])
        edge = np.concatenate([a + t * [b[0] - a[0], 0], a + t * [0, b[1] - a[1]],
                               b - t * [b[0] - a[0], 0], b - t * [0, b[1] - a[1]]])
        edge = np.concatenate([edge, np.zeros((len(edge), 1))], 1)
        pts = []
        for p in poses:
            world = edge @ rodrigues(p[:3]).T + p[3:]
            if np.any(self.cam.to_camera_frame(world)[:, 2] <= 0):
                return 0, 0, *self.cam.size  # board crosses the camera plane: render all
            pts.append(self.cam.project(world))
        pts = np.concatenate(pts)
        width, height = self.cam.size
        x0, y0 = np.clip(np.floor(pts.min(0)).astype(int) - 3, 0, [width, height])
        x1, y1 = np.clip(np.ceil(pts.max(0)).astype(int) + 4, 0, [width, height])
        return None if x1 <= x0 or y1 <= y0 else (int(x0), int(y0), int(x1), int(y1))

    def __call__(self, pose: np.ndarray, blur_pose: np.ndarray | None = None,
                 blur_steps: int = 4) -> np.ndarray:
        """Grayscale image ``(height, width)`` uint8 of the board at `pose` (board ->
        world). With `blur_pose`, the board moves from `pose` to `blur_pose` during the
        exposure (motion blur)."""
        return np.clip(self.gray(pose, blur_pose, blur_steps), 0, 255).astype(np.uint8)

    def gray(self, pose: np.ndarray, blur_pose: np.ndarray | None = None,
             blur_steps: int = 4) -> np.ndarray:
        """The image of :meth:`__call__` before rounding: float32 in ``[0, 255]``."""
        cam, ss = self.cam, self.ss
        width, height = cam.size
        steps = [pose] if blur_pose is None else [pose + (blur_pose - pose) * s
                                                  for s in np.linspace(0, 1, blur_steps)]
        out = np.full((height, width), self.background, np.float32)
        box = self._box(steps)
        if box is None:
            return out
        x0, y0, x1, y1 = box
        rays = np.ascontiguousarray(self.rays[y0 * ss:y1 * ss, x0 * ss:x1 * ss])
        acc = np.zeros((y1 - y0, x1 - x0), np.float32)
        to_texture = np.array([[self.px_per_unit, 0, self.pad - 0.5],
                               [0, self.px_per_unit, self.pad - 0.5], [0, 0, 1]])
        for p in steps:
            rot = cam.rotation @ rodrigues(p[:3])  # board -> camera
            trans = cam.rotation @ p[3:] + cam.tvec
            normal = rot[:, 2]
            dist = normal @ trans  # > 0: the printed side faces the camera
            if abs(dist) < 1e-9:  # the board plane passes through the camera: unseen
                acc += self.background
                continue
            texture = self.texture if dist > 0 else self.back
            # Ray (x, y, 1) meets the plane at s = dist / (normal . ray); its board
            # coordinates are rot[:, :2]^T (s ray - trans): a homography of the ray.
            plane = np.vstack([rot[:, :2].T - np.outer(rot[:, :2].T @ trans, normal) / dist,
                               normal / dist])
            maps = cv2.perspectiveTransform(rays.reshape(-1, 1, 2), to_texture @ plane)
            maps = maps.reshape(rays.shape)
            w = rays[..., 0] * plane[2, 0] + rays[..., 1] * plane[2, 1] + plane[2, 2]  # 1 / s
            maps[~(w > 0)] = -1e6  # behind the camera
            img = cv2.remap(texture, maps, None, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=self.background)
            acc += cv2.resize(img, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = acc / len(steps)
        return out


def render_views(rig: Calibration, poses: np.ndarray, folder, board: Board = ARENA_BOARD,
                 blur: float = 0.05, supersample: int = 2, video: bool = True,
                 fps: float = 30.0) -> list:
    """Film the board moving along `poses` with every camera: one mp4 per camera
    (``<folder>/<camera>.mp4``) or, with ``video=False``, one folder of PNGs per camera.
    Frame ``k`` of every camera shows pose ``k``; with `blur` > 0 the board moves that
    fraction of the way to the next pose during the exposure (motion blur)."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for cam in rig.cameras:
        renderer = Renderer(cam, board, supersample=supersample)
        path = folder / (f"{cam.name}.mp4" if video else cam.name)
        if video:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, cam.size)
        else:
            path.mkdir(exist_ok=True)
        for k, pose in enumerate(poses):
            moved = pose + blur * (poses[k + 1] - pose) if blur and k + 1 < len(poses) else None
            img = renderer(pose, moved, blur_steps=3)
            if video:
                writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
            else:
                cv2.imwrite(str(path / f"frame{k:05d}.png"), img)
        if video:
            writer.release()
        paths.append(path)
    return paths


WALKING_PARTS = ("snout", "left_ear", "right_ear", "tailbase")


def arena_points(a2w: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` random points ``(n, 3)`` in the arena volume, in rig (camera 0) coordinates."""
    rng = np.random.default_rng(seed)
    arena = np.stack([rng.uniform(-300, 300, n), rng.uniform(-300, 300, n),
                      rng.uniform(0, 300, n)], 1)
    return arena @ a2w[:3, :3].T + a2w[:3, 3]


def walking_animal(arena_to_world: np.ndarray, n: int) -> np.ndarray:
    """``(n, 4, 3)`` world points (snout, left ear, right ear, tail base: :data:`WALKING_PARTS`)
    of a small animal walking a circle over the arena."""
    t = np.linspace(0, 2 * np.pi, n)[:, None]
    center = np.stack([150 * np.cos(t), 150 * np.sin(t), 60 + 0 * t], -1)  # (n, 1, 3)
    offsets = np.array([[40, 0, 20], [20, 15, 30], [20, -15, 30], [-50, 0, 10]], float)
    arena = center + offsets[None]
    return arena @ arena_to_world[:3, :3].T + arena_to_world[:3, 3]


def observe_points(calibration: Calibration, world: np.ndarray, noise_px: float = 0.5,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Per camera ``(n, K, 3)`` float32 x, y, likelihood: noisy projections; every 7th
    frame the snout of camera 1 is a wrong detection with a likelihood under pcutoff."""
    rng = np.random.default_rng(seed)
    out = {}
    for cam in calibration.cameras:
        px = cam.project(world.reshape(-1, 3)).reshape(*world.shape[:2], 2)
        px = px + rng.normal(0, noise_px, px.shape)
        lik = rng.uniform(0.7, 1.0, world.shape[:2])
        if cam.name == "cam1":
            px[::7, 0] += 150.0
            lik[::7, 0] = 0.05
        out[cam.name] = np.concatenate([px, lik[..., None]], -1).astype(np.float32)
    return out
