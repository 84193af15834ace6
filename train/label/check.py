"""``poseloop check-labels``: every labeled frame drawn with its points and skeleton into
``labeled-data/<video>_labeled/``, to catch swapped or misplaced labels at a glance, and
frames whose left and right bodyparts look exchanged named in a warning."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from calib.fileio import read_image
from train.data.keypoints import outside_image
from train.data.project import Project, open_project
from train.data.sides import Pair, flip_pairs
from train.label.framepick import save_png
from train.label.session import label_folders, read_folder_labels
from train.post.labeled_video import PoseStyle, bodypart_colors, draw_pose, named_color

log = logging.getLogger(__name__)

# A side (of the line from a left to its right bodypart) that another bodypart takes in at
# least this share of at least SIDE_FRAMES labeled frames is the animal's, not chance.
SIDE_AGREEMENT = 0.9
SIDE_FRAMES = 10


def swapped_sides(xy: np.ndarray, bodyparts: tuple[str, ...],
                  pairs: tuple[Pair, ...]) -> list[tuple[int, Pair]]:
    """``(frame, pair)`` for the frames of `xy` ``(N, K, 2)`` (NaN: unlabeled) whose left and
    right bodyparts of `pair` look exchanged.

    Seen from above or below, the snout of an animal lies on the same side of the line
    from its left ear to its right ear whatever its pose; a mirror image, or exchanged
    labels, puts it on the other side. So a bodypart that takes one side in nearly every
    frame (SIDE_AGREEMENT) votes in each frame, and a frame where most votes find the other
    side is named. In side views the sides change with the animal's heading, no bodypart
    keeps one, and nothing is named."""
    found = []
    for pair in pairs:
        a, b = bodyparts.index(pair[0]), bodyparts.index(pair[1])
        others = [k for k in range(len(bodyparts)) if k not in (a, b)]
        axis = xy[:, b] - xy[:, a]
        rel = xy[:, others] - (xy[:, a] + xy[:, b])[:, None] / 2
        side = np.sign(axis[:, None, 0] * rel[..., 1] - axis[:, None, 1] * rel[..., 0])
        side = np.nan_to_num(side)  # unlabeled: no vote
        pos, neg = (side > 0).sum(axis=0), (side < 0).sum(axis=0)
        usual = np.where(pos >= neg, 1.0, -1.0)
        keeps = (pos + neg >= SIDE_FRAMES) & (np.maximum(pos, neg) >= SIDE_AGREEMENT * (pos + neg))
        votes = side[:, keeps] * usual[keeps]
        for i in np.flatnonzero((votes < 0).sum(axis=1) > (votes > 0).sum(axis=1)):
            found.append((int(i), pair))
    return found


def label_style(project: Project) -> PoseStyle:
    """Colors (config ``colormap``), skeleton and its color, and dot size of the project."""
    cfg = project.config
    names = cfg.bodyparts
    return PoseStyle(
        colors=bodypart_colors(len(names), str(cfg.raw.get("colormap") or "rainbow")),
        skeleton=[(names.index(a), names.index(b)) for a, b in cfg.skeleton],
        skeleton_color=named_color(str(cfg.raw.get("skeleton_color") or "black")),
        pcutoff=0.0,
        radius=max(2.0, float(cfg.raw.get("dotsize") or 8) / 2),
    )


def draw_labels(image: np.ndarray, xy: np.ndarray, style: PoseStyle,
                names: tuple[str, ...]) -> np.ndarray:
    """A copy of BGR `image` with human labels ``xy (K, 2)`` (NaN: skipped) drawn in
    `style`, each point with its bodypart name; several animals ``xy (I, K, 2)`` are drawn
    one after the other, each in its own color (from the same colormap)."""
    if xy.ndim == 3:
        colors = bodypart_colors(len(xy), "rainbow")
        out = image.copy()
        for animal, color in zip(xy, colors, strict=True):
            out = draw_labels(out, animal, dataclasses.replace(
                style, colors=[color] * len(animal), skeleton_color=color), names)
        return out
    pose = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
    out = draw_pose(image.copy(), pose, style)
    scale = max(0.3, image.shape[0] / 1200)
    r = int(style.radius)
    for j in np.flatnonzero(np.isfinite(xy).all(axis=1)):
        at = (int(xy[j, 0]) + r + 2, int(xy[j, 1]) - r)
        cv2.putText(out, names[j], at, cv2.FONT_HERSHEY_SIMPLEX, scale, style.colors[j], 1,
                    cv2.LINE_AA)
    return out


def check_labels(project: str | Path | Project, videos: list[str] | None = None) -> dict[str, int]:
    """Render the labeled frames of every folder (or of `videos`); returns
    ``{video stem: frames written}`` into ``labeled-data/<stem>_labeled/``."""
    if not isinstance(project, Project):
        project = open_project(project)
    style = label_style(project)
    written = {}
    folders = {stem: labels for stem in label_folders(project, videos)
               if (labels := read_folder_labels(project, stem)) is not None}
    _warn_swapped_sides(project, list(folders.values()))
    for stem, labels in folders.items():
        out_dir = project.labeled_data / f"{stem}_labeled"
        count = 0
        for image, xy in tqdm(list(zip(labels.images, labels.xy, strict=True)), desc=stem,
                              unit="frame"):
            src = project.root / image
            frame = read_image(src)
            if frame is None:
                log.warning("%s: image of a labeled frame is missing, cut off or unreadable; "
                            "skipped", src)
                continue
            for j in np.flatnonzero(outside_image(xy, frame.shape[1], frame.shape[0])):
                log.warning("%s: %s at (%g, %g) is outside the %dx%d image", image,
                            project.config.bodyparts[j], xy[j, 0], xy[j, 1], frame.shape[1],
                            frame.shape[0])
            save_png(out_dir / Path(image).name,
                     draw_labels(frame, xy, style, project.config.bodyparts))
            count += 1
        log.info("%s: %d labeled frames drawn into %s", stem, count, out_dir)
        written[stem] = count
    return written


def _warn_swapped_sides(project: Project, folders: list) -> None:
    """One warning per labeled animal whose left/right bodyparts look exchanged, judged
    against every labeled animal of the project (several animals a frame: each on its own)."""
    names = project.config.bodyparts
    pairs = flip_pairs(project.config)
    if not pairs or not folders:
        return
    xy = np.concatenate([f.xy.reshape(-1, len(names), 2) for f in folders])
    where = [(image, animal) for f in folders for image in f.images
             for animal in (f.individuals or [None])]
    for i, (left, right) in swapped_sides(xy, names, pairs):
        image, animal = where[i]
        who = f"{animal} " if animal else ""
        log.warning("%s: %s%s and %s look exchanged: the other bodyparts lie on the other "
                    "side of the line between them than in nearly every labeled frame",
                    image, who, left, right)
