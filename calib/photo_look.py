"""Board images that look like photographs, with their exact corners as ground truth.

A stereo pair of small cameras with strong barrel distortion (640x480, k1 = -0.28, as in
OpenCV's stereo calibration samples) films a board whose squares are 30-40 px wide; the
virtual rig's ray tracer renders each view and :class:`PhotoLook` then does to it what a
lens and a sensor do, in their physical order: the board's reflectance under uneven light,
the lens's blur (point-spread function) and vignetting, photon and read noise, a tone
curve with clipped highlights, 8 bits, JPEG. Radial distortion is the camera model's (the
renderer traces rays through it), motion blur is the board moving during the exposure and
grazing views are board poses; the ground truth of a view is its corners projected at
mid-exposure, so none of the degradations moves it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from calib.boards import Board
from calib.calibration import Calibration
from calib.camera import Camera, rodrigues, rotation_to_rvec
from calib.virtual_rig import Renderer

PHOTO_SIZE = (640, 480)
# A checkerboard of 10 x 7 squares (9 x 6 inner corners, as in OpenCV's samples) seen with
# squares of 30-40 px; the default ChArUco board (7 x 5) with squares of 45-60 px, as its
# markers' bits need ~5 px each to be read through the blur.
PHOTO_CHECKERBOARD = Board("checkerboard", 10, 7, 30.0)
PHOTO_CHARUCO = Board("charuco", 7, 5, 40.0, 30.0, "DICT_4X4_50")
SQUARE_PX = {"checkerboard": (30.0, 40.0), "charuco": (55.0, 70.0)}
INK, PAPER = 0.04, 0.90  # reflectance of the printed black and of the white paper
# A narrow white margin, then a dark background: a large refinement window at an outer
# corner of a tilted board reaches that edge, as on real boards.
PHOTO_RIM, PHOTO_BACKGROUND = 0.25, 40.0


@dataclass(frozen=True)
class PhotoLook:
    """What the lens and sensor do to a rendered view. Every default is on: the look of a
    sharp-enough photograph from a small camera; :data:`SHARP` turns all of it off.

    ``psf_sigma``: Gaussian lens blur (px). ``vignetting``: share of the natural
    ``cos^4`` light fall-off towards the image corners. ``lighting``: the light across the
    board falls by this share from its bright side to its dark side, and the bright side is
    ``overexposure`` over full scale (clipped highlights). ``full_well``: electrons at full
    scale (photon noise; 0 = none); ``read_noise`` in 8-bit levels. ``jpeg_quality``: 0 =
    no JPEG. ``motion_px``: how far the board moves in the image during the exposure.
    ``grazing``: board tilted 55-70 degrees away from the camera instead of 0-50.
    """

    psf_sigma: float = 1.5
    vignetting: float = 0.6
    lighting: float = 0.4
    overexposure: float = 0.15
    full_well: float = 3000.0
    read_noise: float = 1.5
    jpeg_quality: int = 80
    motion_px: float = 1.5
    grazing: bool = False
    gamma: float = 2.2

    def develop(self, gray: np.ndarray, cos4: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A rendered view ``(height, width)`` float in ``[0, 255]`` (board texture values)
        -> the photograph as uint8 of the same shape; `cos4` is the camera's
        :func:`cos4_off_axis`."""
        height, width = gray.shape
        light = INK + (PAPER - INK) * gray.astype(np.float64) / 255.0
        light *= self._illumination(width, height, rng)
        if self.psf_sigma > 0:
            light = cv2.GaussianBlur(light, (0, 0), self.psf_sigma)
        light *= 1.0 - self.vignetting * (1.0 - cos4)
        if self.full_well > 0:  # photon noise: Poisson, as a Gaussian of its variance
            electrons = np.clip(light, 0, None) * self.full_well
            electrons += rng.normal(0, 1, light.shape) * np.sqrt(electrons)
            light = electrons / self.full_well
        level = 255.0 * np.clip(light, 0, 1) ** (1 / self.gamma)
        if self.read_noise > 0:
            level += rng.normal(0, self.read_noise, level.shape)
        image = np.clip(np.rint(level), 0, 255).astype(np.uint8)
        if self.jpeg_quality > 0:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        return image

    def _illumination(self, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
        """Exposure times light ``(height, width)``: a smooth ramp in a random direction from
        ``1 + overexposure`` down to ``(1 + overexposure) * (1 - lighting)``."""
        top = 1.0 + self.overexposure
        if self.lighting <= 0:
            return np.full((height, width), top)
        angle = rng.uniform(0, 2 * np.pi)
        u, v = np.meshgrid(np.linspace(-1, 1, width), np.linspace(-1, 1, height))
        ramp = u * np.cos(angle) + v * np.sin(angle)
        ramp = (ramp - ramp.min()) / np.ptp(ramp)
        return top * (1 - self.lighting * ramp)



def cos4_off_axis(cam: Camera, step: int = 8) -> np.ndarray:
    """``cos^4`` of each pixel's angle off the optical axis ``(height, width)``: the natural
    light fall-off of a lens (smooth: computed every `step` pixels and interpolated)."""
    width, height = cam.size
    u, v = np.arange(0, width + step, step), np.arange(0, height + step, step)
    grid = np.stack(np.meshgrid(u, v), -1).astype(np.float64)
    rays = cam.undistort(grid.reshape(-1, 2)).reshape(*grid.shape)
    coarse = (1.0 / (1.0 + np.sum(rays ** 2, -1)) ** 2).astype(np.float32)
    # grid node j sits at pixel j * step: map pixel x to node x / step
    map_x, map_y = np.meshgrid(np.arange(width, dtype=np.float32) / step,
                               np.arange(height, dtype=np.float32) / step)
    return cv2.remap(coarse, map_x, map_y, cv2.INTER_LINEAR).astype(np.float64)


SHARP = PhotoLook(psf_sigma=0.0, vignetting=0.0, lighting=0.0, overexposure=0.0, full_well=0.0,
                  read_noise=0.0, jpeg_quality=0, motion_px=0.0, gamma=1.0)
# One degradation at a time on top of the sharp distorted render, then all together.
DEGRADATIONS: dict[str, PhotoLook] = {
    "sharp": SHARP,
    "lens blur 1 px": replace(SHARP, psf_sigma=1.0),
    "lens blur 2 px": replace(SHARP, psf_sigma=2.0),
    "vignetting": replace(SHARP, vignetting=1.0),
    "uneven lighting": replace(SHARP, lighting=0.6, overexposure=0.3, gamma=2.2),
    "sensor noise": replace(SHARP, full_well=1000.0, read_noise=2.0),
    "jpeg q60": replace(SHARP, jpeg_quality=60),
    "motion blur 3 px": replace(SHARP, motion_px=3.0),
    "grazing": replace(SHARP, grazing=True),
    "photo": PhotoLook(),
    "photo, lens blur 1 px": PhotoLook(psf_sigma=1.0),
    "photo, grazing": PhotoLook(grazing=True),
}


def photo_rig() -> Calibration:
    """Two 640x480 cameras ~3.3 squares apart, focal ~535 px, off-center principal points,
    strong barrel distortion. World frame = camera 0."""
    left = Camera("left", PHOTO_SIZE, [[535.2, 0, 338.4], [0, 534.7, 235.6], [0, 0, 1]],
                  [-0.285, 0.095, 1.1e-3, -2e-4, 0.0])
    right = Camera("right", PHOTO_SIZE, [[538.1, 0, 326.7], [0, 537.6, 249.2], [0, 0, 1]],
                   [-0.295, 0.115, -8e-4, 4e-4, 0.0], rvec=[0.006, -0.012, 0.004],
                   tvec=[-99.6, 1.2, 0.4])
    return Calibration([left, right], {"virtual": True})


def photo_poses(rig: Calibration, board: Board, n_views: int, grazing: bool = False,
                seed: int = 0) -> np.ndarray:
    """Board -> world poses ``(n_views, 6)`` that every camera of `rig` sees whole (board
    and its white rim at least 6 px inside the image, printed side facing it): squares
    of :data:`SQUARE_PX` at the board's center, the board anywhere in the image (where the
    distortion is strongest too), tilted 0-50 degrees, or 55-70 with `grazing`, and turned
    up to 25 degrees."""
    rng = np.random.default_rng(seed)
    w, h = board.extent
    rim = PHOTO_RIM * board.square_length
    outline = np.array([[-rim, -rim, 0], [w + rim, -rim, 0], [w + rim, h + rim, 0],
                        [-rim, h + rim, 0]], float)
    t = np.linspace(0, 1, 12)[:, None]
    outline = np.concatenate([a + t * (b - a) for a, b in zip(outline, np.roll(outline, -1, 0),
                                                               strict=True)])
    focal = np.mean([c.focal for c in rig.cameras])
    poses = []
    for _ in range(200 * n_views):
        if len(poses) == n_views:
            break
        depth = focal * board.square_length / rng.uniform(*SQUARE_PX[board.kind])
        tilt = np.radians(rng.uniform(55, 70) if grazing else rng.uniform(0, 50))
        axis = rng.uniform(0, 2 * np.pi)
        rot = (rodrigues(tilt * np.array([np.cos(axis), np.sin(axis), 0.0]))
               @ rodrigues(np.array([0, 0, np.radians(rng.uniform(-25, 25))])))
        center = np.array([*(depth * rng.uniform(-0.3, 0.3, 2)), depth])
        trans = center - rot @ np.array([w / 2, h / 2, 0])
        if all(_sees_whole(cam, outline @ rot.T + trans, rot) for cam in rig.cameras):
            poses.append(np.concatenate([rotation_to_rvec(rot), trans]))
    if len(poses) < n_views:
        raise ValueError(f"found only {len(poses)} of {n_views} board poses all cameras see")
    return np.array(poses)


def _sees_whole(cam: Camera, world: np.ndarray, rot: np.ndarray, margin: float = 6.0) -> bool:
    pts = cam.to_camera_frame(world)
    if np.any(pts[:, 2] <= 0) or (cam.rotation @ rot[:, 2])[2] <= 0.17:  # printed side
        return False
    px = cam.project(world)
    return bool(np.all((px > margin) & (px < np.array(cam.size) - 1 - margin)))


@dataclass
class PhotoViews:
    """Photographs ``images[camera][view]`` (uint8) of the board at ``poses[view]`` and
    their exact inner corners ``truth[camera][view]`` ``(n_corners, 2)`` in id order."""

    rig: Calibration
    board: Board
    poses: np.ndarray
    images: list[list[np.ndarray]]
    truth: list[list[np.ndarray]]

    def write(self, folder: str | Path) -> list[Path]:
        """One folder of lossless PNGs per camera (``<folder>/<camera>/view<k>.png``)."""
        out = []
        for cam, images in zip(self.rig.cameras, self.images, strict=True):
            path = Path(folder) / cam.name
            path.mkdir(parents=True, exist_ok=True)
            for k, img in enumerate(images):
                cv2.imwrite(str(path / f"view{k:03d}.png"), img)
            out.append(path)
        return out


def photo_views(board: Board, look: PhotoLook, n_views: int, seed: int = 0,
                rig: Calibration | None = None, supersample: int = 3) -> PhotoViews:
    """Render `n_views` views of `board` with every camera of `rig` (default
    :func:`photo_rig`) through `look`."""
    rig = rig or photo_rig()
    rng = np.random.default_rng(seed)
    poses = photo_poses(rig, board, n_views, look.grazing, seed)
    objp = board.object_points()
    images, truth = [], []
    for cam in rig.cameras:
        render = Renderer(cam, board, supersample, min_depth=350.0, rim=PHOTO_RIM,
                          background=PHOTO_BACKGROUND)
        cos4 = cos4_off_axis(cam)
        cam_images, cam_truth = [], []
        for pose in poses:
            start, end, steps = _exposure(pose, cam, look.motion_px, rng)
            cam_images.append(look.develop(render.gray(start, end, steps), cos4, rng))
            cam_truth.append(cam.project(objp @ rodrigues(pose[:3]).T + pose[3:]))
        images.append(cam_images)
        truth.append(cam_truth)
    return PhotoViews(rig, board, poses, images, truth)


def _exposure(pose: np.ndarray, cam: Camera, motion_px: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Start and end pose of the exposure, centred on `pose` (the ground truth), for a board
    sliding `motion_px` across the image in a random direction, and the render steps that
    keep its smear smooth (one per half pixel)."""
    if motion_px <= 0:
        return pose, None, 1
    depth = float(cam.to_camera_frame(pose[3:][None])[0, 2])
    angle = rng.uniform(0, 2 * np.pi)
    direction = cam.rotation.T @ np.array([np.cos(angle), np.sin(angle), 0.0])
    shift = direction * motion_px * depth / cam.focal
    half = np.concatenate([np.zeros(3), shift / 2])
    return pose - half, pose + half, int(np.ceil(2 * motion_px)) + 1
