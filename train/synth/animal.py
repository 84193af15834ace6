"""A synthetic animal with exact ground truth: video, analysis table and labeled project.

The animal is seen from above: a body of overlapping discs along a walked path, a tail
that undulates, a head that turns and rolls (tucking an ear under it) and rears
(covering the neck), over a textured floor under drifting light, then mp4-compressed.
Keypoints are kept on a 1/16 px grid and drawn with OpenCV's sub-pixel ``shift`` at
exactly those coordinates, so drawing and ground truth agree and round-trip exactly
through float32 tables.

numpy and OpenCV only; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from calib.errors import ConfigError
from train.synth import look
from train.synth.motion import along_path, heading_at, simulate

if TYPE_CHECKING:
    from train.data.keypoints import Poses2D
    from train.data.project import Project
    from train.synth.herd import SyntheticHerd

BODYPARTS: tuple[str, ...] = (
    "snout", "leftear", "rightear", "neck", "spine", "tailbase", "tailtip",
)
SKELETON: tuple[tuple[str, str], ...] = (
    ("snout", "leftear"), ("snout", "rightear"), ("leftear", "neck"), ("rightear", "neck"),
    ("neck", "spine"), ("spine", "tailbase"), ("tailbase", "tailtip"),
)
FLIP_PAIRS: tuple[tuple[str, str], ...] = (("leftear", "rightear"),)
GROUNDTRUTH_SCORER = "groundtruth"

_BODY_NODES = 9
_TAIL_NODES = 10


@dataclass
class SynthConfig:
    """Knobs of the synthetic clip. Sizes are relative to ``min(width, height)``."""

    width: int = 320
    height: int = 240
    n_frames: int = 600
    fps: float = 30.0
    seed: int = 0
    body_length: float = 0.28   # neck to tail base, fraction of min(width, height)
    speed: float = 0.9          # mean walking speed, body lengths per second
    texture: float = 1.0        # contrast of the floor texture (0: flat floor)
    lighting: float = 0.15      # amplitude of the lighting drift (relative gain)
    noise: float = 3.0          # sensor noise std, gray levels (before compression)
    occlusion: float = 1.0      # how often the head rolls / the animal rears (0: never)

    def __post_init__(self) -> None:
        for name in ("width", "height", "n_frames", "seed"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ConfigError(f"SynthConfig.{name} must be an integer, got {value!r}")
        if self.width < 64 or self.height < 48:
            raise ConfigError(
                f"SynthConfig.width/height must be at least 64x48, got {self.width}x{self.height}")
        if self.width % 2 or self.height % 2:
            raise ConfigError(f"SynthConfig.width/height must be even (video codecs), "
                              f"got {self.width}x{self.height}")
        if self.n_frames < 1:
            raise ConfigError(f"SynthConfig.n_frames must be >= 1, got {self.n_frames}")
        if self.seed < 0:
            raise ConfigError(f"SynthConfig.seed must be >= 0, got {self.seed}")
        limits = {"fps": (1.0, 1000.0), "body_length": (0.1, 0.4), "speed": (0.0, 5.0),
                  "texture": (0.0, 3.0), "lighting": (0.0, 0.5), "noise": (0.0, 50.0),
                  "occlusion": (0.0, 10.0)}
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not lo <= value <= hi:
                raise ConfigError(
                    f"SynthConfig.{name} must be a number in [{lo}, {hi}], got {value!r}")

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def _unit(angle: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angle), np.sin(angle)], -1)


class SyntheticAnimal:
    """The whole clip of `config`, simulated at construction; frames render on demand.

    ``keypoints(i)`` are exact (on a 1/16 px grid), in pixels, OpenCV convention.
    """

    def __init__(self, config: SynthConfig, mark: tuple[int, int, int] | None = None):
        """`mark`: a BGR color for a large spot on the back that tells this animal from
        others (None: the plain look)."""
        self.config = config
        self.mark = mark
        rng = np.random.default_rng(config.seed)
        w, h, n = config.width, config.height, config.n_frames
        unit = min(w, h)
        body = config.body_length * unit
        self.body_length = body
        tail = 0.8 * body
        self._radius = 0.16 * body
        hl, hw = 0.42 * body, 0.14 * body
        self._sizes = {"ear": 0.075 * body, "eye": max(0.18 * hw, 1.2),
                       "nose": max(0.22 * hw, 1.6), "tip": max(0.06 * body, 2.0)}
        margin = 1.2 * hl + 4.0
        box = (margin, margin, w - 1 - margin, h - 1 - margin)
        self._floor = look.floor(rng, w, h, config.texture)
        motion = simulate(rng, n, config.fps, box, config.speed * body, body + tail,
                          config.occlusion)
        self.rear = motion.rear  # (n,) in [0, 1]: how far the animal rears on each frame

        # body: discs along the path, wobbling with the gait
        s = np.linspace(0.0, 1.0, _BODY_NODES)
        wobble = 0.035 * body * np.sin(motion.gait_phase[:, None] - np.pi * s[None, :])
        self._body = look.quantize(along_path(motion, np.tile(s * body, (n, 1)), wobble))
        self._body_r = self._radius * (0.6 + 0.4 * np.sin(np.pi * np.minimum(1.0, 0.2 + s)))
        # tail: a polyline behind the body, undulating more toward the tip
        st = np.linspace(0.0, 1.0, _TAIL_NODES)
        sway = body * (0.02 + 0.10 * st[None, :]) * np.sin(
            motion.tail_phase[:, None] - 2 * np.pi * 1.2 * st[None, :])
        sway[:, 0] = wobble[:, -1]
        self._tail = look.quantize(along_path(motion, np.tile(body + st * tail, (n, 1)), sway))

        # head: turns (yaw), rears (shorter, wider, slid back over the neck), rolls (ears)
        neck = self._body[:, 0]
        angle = heading_at(motion) + motion.head_yaw
        u = _unit(angle)
        rear = motion.rear
        self._head_len = hl * (1.0 - 0.35 * rear)
        self._head_w = hw * (1.0 + 0.35 * rear)
        back = hl * (0.15 - 0.65 * rear)
        self._head_c = neck + (back + 0.5 * self._head_len)[:, None] * u
        self._head_u = u
        snout = look.quantize(self._head_c + 0.5 * self._head_len[:, None] * u)
        roll = motion.head_roll
        ear_base = self._head_c - (0.45 * 0.5 * self._head_len)[:, None] * u
        lat_l = 1.3 * self._head_w * (1.0 - 1.3 * np.maximum(roll, 0.0))
        lat_r = 1.3 * self._head_w * (1.0 - 1.3 * np.maximum(-roll, 0.0))
        left = look.left_of(u)
        ear_l = look.quantize(ear_base + lat_l[:, None] * left)
        ear_r = look.quantize(ear_base - lat_r[:, None] * left)

        mid = _BODY_NODES // 2
        self._keypoints = np.stack(
            [snout, ear_l, ear_r, neck, self._body[:, mid], self._body[:, -1], self._tail[:, -1]],
            axis=1,
        )
        self._visible = self._visibility()
        self._gain = look.lighting_schedule(rng, n, config.fps, config.lighting)
        self._noise_bank, self._noise_pick = look.noise_bank(rng, n, w, h, config.noise)

    # ---------------------------------------------------------------- ground truth

    def __len__(self) -> int:
        return self.config.n_frames

    def _check(self, i: int) -> int:
        if not 0 <= i < self.config.n_frames:
            raise IndexError(f"frame {i} out of range: the clip has {self.config.n_frames} frames")
        return int(i)

    def keypoints(self, i: int) -> np.ndarray:
        """``(K, 2)`` float64 x, y of frame `i` in pixels (pixel centers at integers)."""
        return self._keypoints[self._check(i)].copy()

    def visible(self, i: int) -> np.ndarray:
        """``(K,)`` bool: False where the part is hidden under another part of the body."""
        return self._visible[self._check(i)].copy()

    def poses(self) -> Poses2D:
        """The whole clip's ground truth: likelihood 1 where visible, 0 where occluded."""
        from train.data.keypoints import Poses2D

        data = np.concatenate([self._keypoints, self._visible[..., None].astype(np.float64)], -1)
        return Poses2D(BODYPARTS, data)

    def _inside_head(self, p: np.ndarray, margin: float = 1.0) -> np.ndarray:
        """``(n,)`` True where point ``p (n, 2)`` lies more than `margin` px inside the head."""
        d = p - self._head_c
        half = 0.5 * self._head_len - margin
        a = np.einsum("nk,nk->n", d, self._head_u) / half
        b = np.einsum("nk,nk->n", d, look.left_of(self._head_u))
        return (np.abs(a) < 1.0) & (np.abs(b) < look.head_halfwidth(a, self._head_w) - margin)

    def _visibility(self) -> np.ndarray:
        """A part is hidden when its center lies under a shape drawn after it (draw order:
        tail, body, markings, ears, head, eyes and nose)."""
        kp = self._keypoints
        vis = np.ones(kp.shape[:2], bool)
        for k in range(1, 7):  # the nose is drawn last
            vis[:, k] &= ~self._inside_head(kp[:, k])
        for k, other in ((3, 1), (3, 2), (4, 1), (4, 2), (5, 1), (5, 2), (6, 1), (6, 2)):
            under_ear = np.linalg.norm(kp[:, k] - kp[:, other], axis=1) < self._sizes["ear"] - 1
            vis[:, k] &= ~under_ear
        tip = kp[:, 6][:, None, :]
        under_body = np.linalg.norm(self._body - tip, axis=2) < self._body_r[None, :] - 1
        vis[:, 6] &= ~under_body.any(axis=1)
        return vis

    # ---------------------------------------------------------------- appearance

    def render(self, i: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 BGR frame `i` (before video compression)."""
        i = self._check(i)
        img = self._floor.copy()
        self.draw(img, i)
        return self.finish(img, i)

    def background(self) -> np.ndarray:
        """A copy of the floor, before any animal, light or noise."""
        return self._floor.copy()

    def draw(self, img: np.ndarray, i: int) -> None:
        """Draw the animal of frame `i` onto `img` (BGR uint8, in place)."""
        thickness = np.linspace(0.45, 0.18, _TAIL_NODES - 1) * 2 * self._radius
        look.draw_tail(img, self._tail[i], thickness, self._sizes["tip"])
        look.draw_body(img, self._body[i], self._body_r, self.mark)
        kp = self._keypoints[i]
        look.draw_head(img, kp[0], kp[1:3], self._head_c[i], self._head_u[i],
                       0.5 * self._head_len[i], self._head_w[i], self._sizes)

    def finish(self, img: np.ndarray, i: int) -> np.ndarray:
        """The lighting and sensor noise of frame `i` applied to a drawn frame."""
        if self.config.lighting > 0:
            img = look.light(img, self._gain[i])
        if len(self._noise_bank):
            plus, minus = self._noise_bank[self._noise_pick[i]]
            img = cv2.subtract(cv2.add(img, plus), minus)
        return img


# ---------------------------------------------------------------- files

def groundtruth_path(video: str | Path) -> Path:
    """``<stem>_groundtruth.h5`` beside `video`."""
    video = Path(video)
    return video.with_name(f"{video.stem}_groundtruth.h5")


def write_synthetic_video(path: str | Path, config: SynthConfig, progress: bool = True,
                          animals: int = 1, distinct: bool = False) -> tuple[Path, Path]:
    """mp4 at `path` + its exact ground truth as a DeepLabCut analysis table beside it
    (``<stem>_groundtruth.h5``, scorer "groundtruth", coords x, y, likelihood: 1 visible,
    0 occluded; with several `animals` a multi-animal table, individuals ``animal1..N``).
    Both files are written atomically; returns their paths."""
    from train.synth.herd import make_scene

    return write_clip_video(make_scene(config, animals, distinct), Path(path), progress)


def write_clip_video(animal: SyntheticAnimal | SyntheticHerd, path: Path,
                 progress: bool) -> tuple[Path, Path]:
    from tqdm import tqdm

    from train.data.tables import write_analysis
    from train.data.video import write_video

    frames = (animal.render(i) for i in range(len(animal)))
    frames = tqdm(frames, total=len(animal), desc=f"render {path.name}", unit="frame",
                  disable=not progress)
    write_video(path, frames, fps=animal.config.fps)
    truth = write_analysis(animal.poses(), GROUNDTRUTH_SCORER, groundtruth_path(path))
    return path, truth


def labeled_frame_indices(n_frames: int, n_labeled: int, seed: int) -> np.ndarray:
    """`n_labeled` distinct frames spread over the clip: one random frame per equal bin."""
    if not 1 <= n_labeled <= n_frames:
        raise ConfigError(
            f"n_labeled must be in [1, {n_frames}] (the clip's frames), got {n_labeled}")
    edges = np.linspace(0, n_frames, n_labeled + 1).astype(int)
    rng = np.random.default_rng(seed)
    return np.array([rng.integers(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


def make_synthetic_project(workdir: str | Path, config: SynthConfig, n_labeled: int = 120,
                           name: str = "synth", seed: int = 0,
                           scorer: str = "synthetic", progress: bool = True,
                           animals: int = 1, distinct: bool = False) -> Project:
    """A labeled DeepLabCut-layout project in `workdir`: the video in videos/, `n_labeled`
    frames spread over it saved as PNG under ``labeled-data/<video stem>/img<NNNN>.png``
    (decoded from the written mp4, so they carry its compression), and
    ``CollectedData_<scorer>.h5/.csv`` with the exact ground truth (occluded parts NaN, as a
    human would leave them). config.yaml lists bodyparts and skeleton, poseloop.yaml flip_pairs.
    `seed` picks which frame of each stretch of the video is labeled. With `animals` > 1
    (or `distinct`) it is a multi-animal project of a :class:`train.synth.herd.SyntheticHerd`
    (``identity: true`` when `distinct`).
    """

    from train.data.config import save_config
    from train.data.project import add_videos, create_project, open_project
    from train.synth.herd import make_scene

    picks = labeled_frame_indices(config.n_frames, n_labeled, seed)
    scene = make_scene(config, animals, distinct)
    individuals = getattr(scene, "individuals", None)
    project = create_project(name, [], list(BODYPARTS), scorer=scorer, working_directory=workdir,
                             individuals=individuals, identity=distinct)
    video, _ = write_clip_video(scene, project.root / "videos" / f"{name}.mp4", progress)
    add_videos(project, [video])
    project.config.set("skeleton", [list(p) for p in SKELETON])
    project.config.set("flip_pairs", [list(p) for p in FLIP_PAIRS])
    project.config.set("numframes2pick", n_labeled)
    project.config.set("dotsize", max(2, round(min(config.size) / 60)))  # template's 12 is huge
    save_config(project.config)

    label_from_video(project, video, scene, picks, scorer, progress, individuals)
    return open_project(project.root)


def label_from_video(project: Project, video: Path, scene, picks: np.ndarray, scorer: str,
                     progress: bool = False, individuals: list[str] | None = None) -> None:
    """Frames `picks` of `video` (decoded, so they carry its compression) saved as PNG
    under ``labeled-data/<video stem>/`` and labeled with `scene`'s exact keypoints
    (``keypoints(i)``, ``visible(i)``: hidden parts NaN, as a human would leave them)."""
    from tqdm import tqdm

    from train.data.keypoints import LabeledFrames
    from train.data.tables import write_labels
    from train.data.video import VideoReader
    from train.label.framepick import save_png

    folder = project.labeled_data / video.stem
    folder.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(scene))))
    wanted = set(picks.tolist())
    images = []
    with VideoReader(video) as reader:
        frames = tqdm(enumerate(reader), total=len(scene), desc="labeled frames",
                      unit="frame", disable=not progress)
        for i, frame in frames:
            if i in wanted:
                image = folder / f"img{i:0{digits}d}.png"
                save_png(image, frame)
                images.append(f"labeled-data/{video.stem}/{image.name}")
    if len(images) != len(picks):
        raise OSError(f"{video}: decoded {len(images)} of the {len(picks)} frames to label")
    xy = np.stack([scene.keypoints(i) for i in picks])
    xy[~np.stack([scene.visible(i) for i in picks])] = np.nan
    write_labels(LabeledFrames(scorer, BODYPARTS, images, xy, index_style="tuple",
                               individuals=individuals or ()),
                 project.labels_path(video.stem))


def write_preview(config: SynthConfig, path: str | Path, n: int = 6, animals: int = 1,
                  distinct: bool = False) -> Path:
    """A PNG contact sheet of `n` frames spread over the clip with the ground truth drawn
    (hidden parts as rings; with several animals, one color per animal), to see what the
    animals look like."""
    from calib.fileio import atomic_path
    from train.post.labeled_video import PoseStyle, bodypart_colors, draw_poses
    from train.synth.herd import make_scene

    scene = make_scene(config, animals, distinct)
    names = list(BODYPARTS)
    truth = scene.poses()
    n_colors = len(truth.individuals) if truth.multi else len(names)
    style = PoseStyle(colors=bodypart_colors(n_colors), pcutoff=0.5, hollow=True,
                      skeleton=[(names.index(a), names.index(b)) for a, b in SKELETON],
                      skeleton_color=(255, 255, 255), radius=max(2.0, min(config.size) / 80))
    tiles = [draw_poses(scene.render(i), truth.data[i], style)
             for i in np.linspace(0, len(scene) - 1, n).astype(int)]
    cols = min(n, 3)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    sheet = np.vstack([np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)])
    path = Path(path)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), sheet):
            raise OSError(f"{path}: OpenCV could not write the PNG")
    return path


def synth(outdir: str | Path, frames: int = 600, size: tuple[int, int] = (320, 240),
          seed: int = 0, project: bool = False, labeled: int = 120,
          name: str = "synth", progress: bool = True, animals: int = 1,
          distinct: bool = False) -> list[Path]:
    """``poseloop synth``: write ``<outdir>/<name>.mp4`` and its ground truth, or with
    `project` a labeled project in `outdir` (video and ground truth in its videos/).
    A ``<name>_preview.png`` contact sheet goes beside the video. Returns the paths
    written: video, ground truth, preview[, config.yaml]. With `animals` > 1 the clip
    has that many animals (bodies 0.2 of the frame's short side rather than 0.28, so
    they have room), told apart by colored marks with `distinct`."""
    several = animals > 1 or distinct
    config = SynthConfig(width=size[0], height=size[1], n_frames=frames, seed=seed,
                         **({"body_length": 0.2} if several else {}))
    outdir = Path(outdir)
    if not project:
        video, truth = write_synthetic_video(outdir / f"{name}.mp4", config, progress,
                                             animals, distinct)
        preview = write_preview(config, outdir / f"{name}_preview.png", animals=animals,
                                distinct=distinct)
        return [video, truth, preview]
    made = make_synthetic_project(outdir, config, n_labeled=labeled, name=name, seed=seed,
                                  progress=progress, animals=animals, distinct=distinct)
    video = made.root / "videos" / f"{name}.mp4"
    preview = write_preview(config, video.with_name(f"{name}_preview.png"), animals=animals,
                            distinct=distinct)
    return [video, groundtruth_path(video), preview, made.config_path]
