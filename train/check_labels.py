"""``poseloop check-labels``: every labeled frame drawn with its points and skeleton into
``labeled-data/<video>_labeled/``, to catch swapped or misplaced labels at a glance."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from train.colors import config_colors
from train.framepick import save_png
from train.labeling import label_folders, read_folder_labels
from train.project import Project, open_project

log = logging.getLogger(__name__)

_SHIFT = 4  # OpenCV fixed-point bits: draw at 1/16 pixel precision


def _fixed(x: float, y: float) -> tuple[int, int]:
    return round(x * (1 << _SHIFT)), round(y * (1 << _SHIFT))


def draw_labels(image: np.ndarray, xy: np.ndarray, colors: list[tuple[int, int, int]],
                edges: list[tuple[int, int]], names: tuple[str, ...], radius: int) -> np.ndarray:
    """A copy of BGR `image` with points ``xy (K, 2)`` (NaN: skipped), RGB `colors`,
    skeleton `edges` as white lines and each point's bodypart name."""
    out = image.copy()
    ok = np.isfinite(xy).all(axis=1)
    for a, b in edges:
        if ok[a] and ok[b]:
            cv2.line(out, _fixed(*xy[a]), _fixed(*xy[b]), (255, 255, 255), 1, cv2.LINE_AA, _SHIFT)
    scale = max(0.3, image.shape[0] / 1200)
    for j in np.flatnonzero(ok):
        bgr = tuple(int(c) for c in colors[j][::-1])
        center = _fixed(*xy[j])
        cv2.circle(out, center, radius << _SHIFT, bgr, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(out, center, radius << _SHIFT, (0, 0, 0), 1, cv2.LINE_AA, _SHIFT)
        at = (int(xy[j, 0]) + radius + 2, int(xy[j, 1]) - radius)
        cv2.putText(out, names[j], at, cv2.FONT_HERSHEY_SIMPLEX, scale, bgr, 1, cv2.LINE_AA)
    return out


def check_labels(project: str | Path | Project, videos: list[str] | None = None) -> dict[str, int]:
    """Render the labeled frames of every folder (or of `videos`); returns
    ``{video stem: frames written}`` into ``labeled-data/<stem>_labeled/``."""
    if not isinstance(project, Project):
        project = open_project(project)
    cfg = project.config
    colors = config_colors(cfg.raw, len(cfg.bodyparts))
    edges = [(cfg.bodyparts.index(a), cfg.bodyparts.index(b)) for a, b in cfg.skeleton]
    radius = max(2, int(cfg.raw.get("dotsize") or 8) // 2)
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
            save_png(out_dir / Path(image).name,
                     draw_labels(frame, xy, colors, edges, cfg.bodyparts, radius))
            count += 1
        log.info("%s: %d labeled frames drawn into %s", stem, count, out_dir)
        written[stem] = count
    return written
