"""Videos with the poses drawn on them, as DeepLabCut's ``create_labeled_video`` makes.

Points are colored by bodypart from a colormap (multi-animal tables: by individual, so
each animal has its own color), their opacity is their likelihood,
points under ``pcutoff`` are hidden (or drawn hollow), and skeleton lines join parts
that are both above it. The output is ``<video stem><scorer>_labeled.mp4`` beside the
video unless told otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from calib.errors import ConfigError, DataError
from train.data.keypoints import Poses2D

log = logging.getLogger(__name__)

_SHIFT = 4
_SCALE = 1 << _SHIFT


def bodypart_colors(n: int, colormap: str = "rainbow") -> list[tuple[int, int, int]]:
    """`n` BGR colors spread over a matplotlib colormap (DeepLabCut's ``colormap`` key)."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise ConfigError(f"colormap {colormap!r} is not a matplotlib colormap") from None
    rgb = cmap(np.linspace(0.0, 1.0, max(n, 1)))[:n, :3]
    return [tuple(int(round(255 * c)) for c in color[::-1]) for color in rgb]


def named_color(name: str) -> tuple[int, int, int]:
    """BGR of a matplotlib color name such as DeepLabCut's ``skeleton_color: black``."""
    import matplotlib.colors

    try:
        r, g, b = matplotlib.colors.to_rgb(name)
    except ValueError:
        raise ConfigError(f"skeleton_color {name!r} is not a color name") from None
    return int(round(255 * b)), int(round(255 * g)), int(round(255 * r))


@dataclass(frozen=True)
class PoseStyle:
    """How poses are drawn. ``skeleton`` holds index pairs into the bodyparts."""

    colors: Sequence[tuple[int, int, int]]
    skeleton: Sequence[tuple[int, int]] = ()
    skeleton_color: tuple[int, int, int] = (0, 0, 0)
    pcutoff: float = 0.6
    radius: float = 4.0
    hollow: bool = False  # draw points under pcutoff as rings instead of hiding them


def _blend_into(img: np.ndarray, box: tuple[int, int, int, int], alpha: float, draw) -> None:
    """Draw on the region ``box = (x0, y0, x1, y1)`` with opacity `alpha`.

    `draw(layer, offset)` paints on a copy of the region; ``offset`` is the region's
    top-left corner in fixed point, to subtract from coordinates.
    """
    h, w = img.shape[:2]
    x0, y0 = max(box[0], 0), max(box[1], 0)
    x1, y1 = min(box[2], w), min(box[3], h)
    if x0 >= x1 or y0 >= y1 or alpha <= 0:
        return
    roi = img[y0:y1, x0:x1]
    layer = roi.copy()
    draw(layer, np.array([x0, y0]) * _SCALE)
    cv2.addWeighted(layer, float(min(alpha, 1.0)), roi, 1.0 - float(min(alpha, 1.0)), 0.0, dst=roi)


def draw_pose(img: np.ndarray, pose: np.ndarray, style: PoseStyle) -> np.ndarray:
    """Draw one frame's pose ``(K, 3)`` x, y, likelihood on `img` (BGR uint8, in place).

    NaN points are skipped; a point's opacity is its likelihood (clipped to [0, 1]).
    """
    pose = np.asarray(pose, dtype=np.float64)
    finite = np.isfinite(pose[:, :2]).all(axis=1)
    lik = np.clip(np.nan_to_num(pose[:, 2], nan=0.0), 0.0, 1.0)
    good = finite & (pose[:, 2] >= style.pcutoff)
    fixed = np.zeros((len(pose), 2), np.int64)
    fixed[finite] = np.round(pose[finite, :2] * _SCALE)
    thick = max(1, int(round(style.radius / 3)))
    for a, b in style.skeleton:
        if good[a] and good[b]:
            lo = np.minimum(fixed[a], fixed[b]) // _SCALE - thick - 1
            hi = np.maximum(fixed[a], fixed[b]) // _SCALE + thick + 2

            def line(layer, off, a=a, b=b):
                cv2.line(layer, tuple(fixed[a] - off), tuple(fixed[b] - off),
                         style.skeleton_color, thick, cv2.LINE_AA, _SHIFT)

            _blend_into(img, (*lo, *hi), min(lik[a], lik[b]), line)
    r = int(round(style.radius * _SCALE))
    for k in np.flatnonzero(finite):
        if not good[k] and not style.hollow:
            continue
        fill = -1 if good[k] else max(1, thick)
        lo = fixed[k] // _SCALE - int(style.radius) - 2
        hi = fixed[k] // _SCALE + int(style.radius) + 3

        def dot(layer, off, k=k, fill=fill):
            cv2.circle(layer, tuple(fixed[k] - off), r, style.colors[k], fill, cv2.LINE_AA, _SHIFT)

        # a hollow (untrusted) point still shows, faintly, however low its likelihood
        _blend_into(img, (*lo, *hi), lik[k] if good[k] else max(lik[k], 0.5), dot)
    return img


def draw_poses(img: np.ndarray, pose: np.ndarray, style: PoseStyle) -> np.ndarray:
    """:func:`draw_pose` for one frame of single-animal ``(K, 3)`` or multi-animal
    ``(I, K, 3)`` poses; each individual is drawn in its own color ``style.colors[i]``,
    points and skeleton alike."""
    if pose.ndim == 2:
        return draw_pose(img, pose, style)
    for i, individual in enumerate(pose):
        color = style.colors[i % len(style.colors)]
        draw_pose(img, individual, dataclasses.replace(
            style, colors=[color] * individual.shape[0], skeleton_color=color))
    return img


def labeled_video_path(video: str | Path, scorer: str, filtered: bool = False,
                       destfolder: str | Path | None = None) -> Path:
    """DeepLabCut's name: ``<video stem><scorer>_labeled.mp4``, or
    ``<video stem><scorer>_filtered_labeled.mp4`` for a filtered table."""
    video = Path(video)
    folder = Path(destfolder) if destfolder is not None else video.parent
    return folder / f"{video.stem}{scorer}{'_filtered' if filtered else ''}_labeled.mp4"


def _skeleton_indices(skeleton: Sequence[tuple[str, str]], poses: Poses2D,
                      table: Path) -> list[tuple[int, int]]:
    out = []
    for a, b in skeleton:
        for name in (a, b):
            if name not in poses.bodyparts:
                raise DataError(f"{table}: skeleton names bodypart {name!r}, which the table "
                                f"lacks (table: {list(poses.bodyparts)})")
        out.append((poses.bodyparts.index(a), poses.bodyparts.index(b)))
    return out


def labeled_video(video: str | Path, table: str | Path, out: str | Path | None = None,
                  pcutoff: float | None = None, config: str | Path | None = None,
                  dotsize: float | None = None, colormap: str | None = None,
                  hollow: bool = False, progress: bool = True) -> Path:
    """``poseloop labeled-video``: draw the poses of `table` on `video`; returns the mp4.

    `config` (a project folder or its config.yaml) supplies the skeleton,
    skeleton_color, pcutoff, dotsize and colormap; explicit arguments win. The table
    must have one row per video frame. The output is written atomically.
    """
    from tqdm import tqdm

    from train.data.tables import read_analysis
    from train.data.video import VideoReader, frame_ranges, write_video

    table = Path(table)
    poses, scorer = read_analysis(table)
    skeleton: Sequence[tuple[str, str]] = ()
    skeleton_color = (0, 0, 0)
    if config is not None:
        from train.data.config import load_config

        cfg = load_config(config)
        skeleton = cfg.skeleton
        skeleton_color = named_color(str(cfg.raw.get("skeleton_color") or "black"))
        pcutoff = cfg.pcutoff if pcutoff is None else pcutoff
        if dotsize is None and cfg.raw.get("dotsize"):
            dotsize = float(cfg.raw["dotsize"])
        colormap = colormap or str(cfg.raw.get("colormap") or "rainbow")
    pcutoff = 0.6 if pcutoff is None else float(pcutoff)
    if not 0.0 <= pcutoff <= 1.0:
        raise ConfigError(f"pcutoff must be in [0, 1], got {pcutoff}")
    with VideoReader(video) as reader:
        if reader.n_frames != poses.n_frames:
            raise DataError(f"{table}: {poses.n_frames} rows, but {reader.path} has "
                            f"{reader.n_frames} frames")
        radius = dotsize if dotsize is not None else max(2.0, round(min(reader.size) / 60))
        if radius <= 0:
            raise ConfigError(f"dotsize must be > 0, got {radius}")
        style = PoseStyle(
            colors=bodypart_colors(len(poses.individuals) if poses.multi
                                   else len(poses.bodyparts), colormap or "rainbow"),
            skeleton=_skeleton_indices(skeleton, poses, table),
            skeleton_color=skeleton_color, pcutoff=pcutoff, radius=float(radius), hollow=hollow)
        if out is None:
            out = labeled_video_path(reader.path, scorer, table.stem.endswith("_filtered"))
        out = Path(out)

        def frames() -> Iterator[np.ndarray]:
            for i, frame in tqdm(reader.frames(), total=reader.n_frames, unit="frame",
                                 desc=f"label {reader.path.name}", disable=not progress):
                if frame is None:  # a black frame keeps every later frame at its time
                    frame = np.zeros((reader.height, reader.width, 3), np.uint8)
                yield draw_poses(frame, poses.data[i], style)

        write_video(out, frames(), fps=reader.fps)
    if reader.undecodable:
        log.warning("%s: %d frames do not decode and are black in %s: %s", reader.path,
                    len(reader.undecodable), out, frame_ranges(reader.undecodable))
    return out
