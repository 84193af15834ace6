"""``poseloop check-labels``: every labeled frame drawn with its points and skeleton into
``labeled-data/<video>_labeled/``, to catch swapped or misplaced labels at a glance."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from train.data.keypoints import outside_image
from train.data.project import Project, open_project
from train.label.framepick import save_png
from train.label.session import label_folders, read_folder_labels
from train.post.labeled_video import PoseStyle, bodypart_colors, draw_pose, named_color

log = logging.getLogger(__name__)


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
    for stem in label_folders(project, videos):
        labels = read_folder_labels(project, stem)
        if labels is None:
            continue
        out_dir = project.labeled_data / f"{stem}_labeled"
        count = 0
        for image, xy in tqdm(list(zip(labels.images, labels.xy, strict=True)), desc=stem,
                              unit="frame"):
            src = project.root / image
            frame = cv2.imread(str(src), cv2.IMREAD_COLOR)
            if frame is None:
                log.warning("%s: image of a labeled frame is missing or unreadable; skipped", src)
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
