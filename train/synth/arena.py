"""The synthetic animal on the floor of a virtual arena, filmed by calibrated cameras.

The arena floor is the plane z = 0 of the world frame (z up), ``ARENA_MM`` wide and
centered on the origin. Its texture is the synthetic animal's top-down frame
(:class:`train.synth.animal.SyntheticAnimal`, ``FLOOR_PX`` pixels, ``MM_PER_PX``
millimetres each; world x along the frame's columns, world y against its rows), so the
animal walks flat on the floor. A calibrated camera sees that floor through its lens
(distortion included): each camera pixel's ray meets the floor at one point, sampled from
the texture (one precomputed remap per camera). Every camera of a rig therefore sees the
same animal at the same instant, and the ground truth is exact both in 3D (the keypoints
on the floor) and in each camera (their projections).

:func:`arena_calibration` makes a rig of cameras around the arena (its world frame is the
arena's); :class:`ArenaView` renders one camera's frames; :func:`make_arena_project`
writes a labeled project of every camera's view, to train a network for the rig.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from calib.calibration import Calibration
from calib.camera import Camera, rotation_to_rvec
from train.synth.animal import (
    BODYPARTS,
    FLIP_PAIRS,
    SKELETON,
    SynthConfig,
    SyntheticAnimal,
    label_from_video,
    labeled_frame_indices,
    write_clip_video,
)

if TYPE_CHECKING:
    from train.data.keypoints import Poses2D
    from train.data.project import Project

FLOOR_PX = (320, 240)  # the top-down texture of the floor (width, height)
MM_PER_PX = 2.0
ARENA_MM = (FLOOR_PX[0] * MM_PER_PX, FLOOR_PX[1] * MM_PER_PX)


def floor_config(n_frames: int, fps: float = 30.0, seed: int = 0) -> SynthConfig:
    """The synthetic clip that textures the arena floor."""
    return SynthConfig(width=FLOOR_PX[0], height=FLOOR_PX[1], n_frames=n_frames, fps=fps,
                       seed=seed)


def floor_to_world(px: np.ndarray) -> np.ndarray:
    """Floor-texture pixels ``(..., 2)`` -> world points ``(..., 3)`` on the floor (z = 0)."""
    px = np.asarray(px, np.float64)
    x = (px[..., 0] - (FLOOR_PX[0] - 1) / 2) * MM_PER_PX
    y = ((FLOOR_PX[1] - 1) / 2 - px[..., 1]) * MM_PER_PX
    return np.stack([x, y, np.zeros_like(x)], -1)


def world_to_floor(world: np.ndarray) -> np.ndarray:
    """World points ``(..., 3)`` (their x, y) -> floor-texture pixels ``(..., 2)``."""
    world = np.asarray(world, np.float64)
    return np.stack([world[..., 0] / MM_PER_PX + (FLOOR_PX[0] - 1) / 2,
                     (FLOOR_PX[1] - 1) / 2 - world[..., 1] / MM_PER_PX], -1)


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation for a camera at `center` looking at `target`, image rows
    pointing down the world's z."""
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def arena_calibration(names: Sequence[str], size: tuple[int, int] = (320, 240),
                      seed: int = 0, radius: float = 600.0,
                      height: float = 700.0) -> Calibration:
    """Cameras named `names` evenly around the arena (`radius` mm from its center,
    `height` mm above the floor, azimuths jittered by `seed`), each looking at the center
    with a focal length that fits the arena into most of its `size` ``(width,
    height)`` image, and a mild barrel distortion. World frame: the arena's."""
    rng = np.random.default_rng(seed)
    cameras = []
    for c, name in enumerate(names):
        azimuth = 2 * np.pi * c / len(names) + rng.uniform(-0.15, 0.15)
        center = np.array([radius * np.cos(azimuth), radius * np.sin(azimuth),
                           height + rng.uniform(-30, 30)])
        rot = _look_at(center, np.array([0.0, 0.0, 0.0]))
        f = 0.5 * size[0] * np.linalg.norm(center) / (ARENA_MM[0] / 2)
        matrix = np.array([[f, 0, size[0] / 2 + rng.uniform(-4, 4)],
                           [0, f, size[1] / 2 + rng.uniform(-3, 3)], [0, 0, 1]])
        dist = np.array([rng.uniform(-0.12, -0.05), rng.uniform(0.0, 0.03), 0.0, 0.0, 0.0])
        cameras.append(Camera(name, size, matrix, dist, rotation_to_rvec(rot), -rot @ center))
    return Calibration(cameras, {"virtual_arena_mm": list(ARENA_MM)})


class ArenaView:
    """Camera `camera` filming `animal` (a clip of :func:`floor_config`'s size) on the
    arena floor: frames, and the exact keypoints in this camera's pixels."""

    def __init__(self, camera: Camera, animal: SyntheticAnimal):
        if (animal.config.width, animal.config.height) != FLOOR_PX:
            raise ValueError(f"the floor clip must be {FLOOR_PX[0]}x{FLOOR_PX[1]}, got "
                             f"{animal.config.width}x{animal.config.height}")
        self.camera = camera
        self.animal = animal
        self.config = animal.config  # fps and length, as the top-down clip's
        width, height = camera.size
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        rays = camera.undistort(np.stack([u, v], -1))  # normalized (x/z, y/z)
        rays = np.concatenate([rays, np.ones_like(rays[..., :1])], -1) @ camera.rotation
        center = camera.center
        with np.errstate(divide="ignore", invalid="ignore"):
            s = -center[2] / rays[..., 2]  # the ray meets z = 0 here
        floor = world_to_floor(center + s[..., None] * rays)
        floor[~(s > 0)] = -1e4  # a ray that never meets the floor sees the border
        self._maps = floor[..., 0].astype(np.float32), floor[..., 1].astype(np.float32)
        self._world = floor_to_world(animal.poses().data[..., :2])

    def __len__(self) -> int:
        return len(self.animal)

    def render(self, i: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 BGR frame `i` as this camera sees it."""
        return cv2.remap(self.animal.render(i), *self._maps, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))

    def world(self) -> np.ndarray:
        """``(frames, K, 3)`` world keypoints of the whole clip (on the floor, mm)."""
        return self._world.copy()

    def keypoints(self, i: int) -> np.ndarray:
        """``(K, 2)`` pixels of frame `i`'s keypoints in this camera."""
        return self.camera.project(self._world[i])

    def visible(self, i: int) -> np.ndarray:
        """``(K,)`` bool: False where the part is hidden under another part (seen from
        above, which a flat animal keeps for every camera) or outside the image."""
        px = self.keypoints(i)
        width, height = self.camera.size
        inside = (px[:, 0] >= 0) & (px[:, 1] >= 0) & (px[:, 0] <= width - 1) & (
            px[:, 1] <= height - 1)
        return self.animal.visible(i) & inside

    def poses(self) -> Poses2D:
        """The whole clip's ground truth in this camera: likelihood 1 visible, 0 not."""
        from train.data.keypoints import Poses2D

        xy = self.camera.project(self._world)
        vis = np.stack([self.visible(i) for i in range(len(self))])
        return Poses2D(BODYPARTS, np.concatenate([xy, vis[..., None].astype(np.float64)], -1))


def make_arena_project(workdir: str | Path, calibration: Calibration, config: SynthConfig,
                       n_labeled: int = 120, name: str = "arena", scorer: str = "synthetic",
                       progress: bool = True) -> Project:
    """A labeled DeepLabCut-layout project in `workdir` of every camera of `calibration`
    filming the `config` clip on the arena floor: one video per camera in videos/ (with its
    ground-truth table), `n_labeled` frames in all, spread over the cameras and the clip,
    decoded from the videos (so they carry their compression) and labeled with the exact
    keypoints (hidden ones NaN)."""
    from train.data.config import save_config
    from train.data.project import add_videos, create_project, open_project

    project = create_project(name, [], list(BODYPARTS), scorer=scorer, working_directory=workdir)
    animal = SyntheticAnimal(config)
    views = [ArenaView(camera, animal) for camera in calibration.cameras]
    videos = [write_clip_video(view, project.root / "videos" / f"{view.camera.name}.mp4",
                               progress)[0] for view in views]
    add_videos(project, videos)
    project.config.set("skeleton", [list(p) for p in SKELETON])
    project.config.set("flip_pairs", [list(p) for p in FLIP_PAIRS])
    project.config.set("numframes2pick", max(1, n_labeled // len(views)))
    save_config(project.config)
    for k, (view, video) in enumerate(zip(views, videos, strict=True)):
        share = n_labeled // len(views) + (k < n_labeled % len(views))
        picks = labeled_frame_indices(config.n_frames, share, config.seed + k)
        label_from_video(project, video, view, picks, scorer)
    return open_project(project.root)
