"""Pictures of augmented training samples with their keypoints drawn, to check by eye
that the labels follow the pixels (``poseloop train --preview-augmentation``).

Keypoints are drawn as rings in one color per bodypart (the colors of labeled videos),
centered on the point with OpenCV's sub-pixel drawing, so the labeled spot itself stays
visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from calib.errors import DataError
from calib.fileio import atomic_path
from train.post.labeled_video import bodypart_colors

if TYPE_CHECKING:
    from train.model.augment.pipeline import Augmenter

GAP = 2  # pixels of gray between grid panels
GAP_VALUE = 128
_SHIFT = 4  # fractional bits for cv2.circle: centers to 1/16 px


def ring_radius(height: int, width: int) -> int:
    """Ring radius in pixels for panels of this size (at least 3)."""
    return max(3, round(min(height, width) / 48))


def _to_bgr_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(N, 3, H, W)`` RGB float in [0, 1] (tensor or array) -> ``(N, H, W, 3)`` BGR uint8."""
    arr = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else images
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise DataError(f"preview: images must be (N, 3, H, W) RGB in [0, 1], got {arr.shape}")
    arr = np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(0, 2, 3, 1)[..., ::-1])


def draw_keypoints(images: torch.Tensor | np.ndarray, keypoints: torch.Tensor | np.ndarray,
                   bodyparts: tuple[str, ...], n_cols: int | None = None) -> np.ndarray:
    """Grid picture of samples with their keypoints drawn.

    Args:
        images: ``(N, 3, H, W)`` RGB float in [0, 1].
        keypoints: ``(N, K, 2)`` x, y in pixels (pixel centers at integers); NaN not drawn.
        bodyparts: the K names (one ring color each, see :func:`bodypart_colors`).
        n_cols: panels per row (default: all in one row). Panel ``(r, c)`` has its
            top-left pixel at ``(c * (W + GAP), r * (H + GAP))``.
    Returns:
        ``(rows * (H + GAP) - GAP, n_cols * (W + GAP) - GAP, 3)`` uint8 BGR picture.
    """
    panels = _to_bgr_uint8(images)
    kp = np.asarray(keypoints.detach().cpu() if isinstance(keypoints, torch.Tensor) else keypoints,
                    dtype=np.float64)
    n, h, w, _ = panels.shape
    if kp.shape != (n, len(bodyparts), 2):
        raise DataError(f"preview: keypoints must be ({n}, {len(bodyparts)}, 2), got {kp.shape}")
    n_cols = n if n_cols is None else max(1, min(n_cols, n))
    n_rows = -(-n // n_cols)
    grid = np.full((n_rows * (h + GAP) - GAP, n_cols * (w + GAP) - GAP, 3), GAP_VALUE, np.uint8)
    colors = bodypart_colors(len(bodyparts))
    radius = ring_radius(h, w) << _SHIFT
    for i, panel in enumerate(panels):
        for (x, y), color in zip(kp[i], colors, strict=True):
            if np.isfinite(x) and np.isfinite(y):
                center = (int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT))))
                cv2.circle(panel, center, radius, color, 1, cv2.LINE_8, _SHIFT)
        r, c = divmod(i, n_cols)
        grid[r * (h + GAP): r * (h + GAP) + h, c * (w + GAP): c * (w + GAP) + w] = panel
    return grid


def legend(width: int, bodyparts: tuple[str, ...], title: str = "") -> np.ndarray:
    """A dark BGR strip ``(lines * 20, width, 3)``: ``title`` then each bodypart name in its
    ring color, wrapped to ``width``."""
    font, scale, line_h = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 20
    words = [(title, (255, 255, 255))] if title else []
    words += list(zip(bodyparts, bodypart_colors(len(bodyparts)), strict=True))
    placed, x, y = [], 6, 0
    for text, color in words:
        w = cv2.getTextSize(text, font, scale, 1)[0][0]
        if x > 6 and x + w > width:
            x, y = 6, y + line_h
        placed.append((text, color, x, y))
        x += w + 12
    strip = np.full((y + line_h, width, 3), 32, np.uint8)
    for text, color, x, y in placed:
        cv2.putText(strip, text, (x, y + 14), font, scale, color, 1, cv2.LINE_AA)
    return strip


def write_augmentation_preview(images: torch.Tensor, keypoints: torch.Tensor,
                               augmenter: Augmenter, path: str | Path, n_rows: int = 4,
                               n_augmented: int = 5,
                               generator: torch.Generator | None = None) -> Path:
    """Write a PNG: one row per sample, the original then ``n_augmented`` augmentations,
    laid out as :func:`draw_keypoints` does, with a :func:`legend` strip below.

    ``images (B, 3, H, W)`` float in [0, 1] and ``keypoints (B, K, 2)`` as for the
    augmenter; the first ``n_rows`` samples are shown. Written atomically; returns the path.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(f"{path}: the augmentation preview is a .png file")
    images, keypoints = images[:n_rows], keypoints[:n_rows]
    columns_img, columns_kp = [images], [keypoints]
    with torch.no_grad():
        for _ in range(n_augmented):
            out, kp = augmenter(images, keypoints, generator=generator)
            columns_img.append(out)
            columns_kp.append(kp)
    # (columns, rows, ...) -> row-major order: each sample's panels side by side
    all_img = torch.stack(columns_img, 1).flatten(0, 1)
    all_kp = torch.stack(columns_kp, 1).flatten(0, 1)
    grid = draw_keypoints(all_img, all_kp, augmenter.bodyparts, n_cols=1 + n_augmented)
    title = "left: original, then augmented | bodyparts:"
    grid = np.concatenate([grid, legend(grid.shape[1], augmenter.bodyparts, title)])
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), grid):
            raise OSError(f"{path}: could not write the preview image")
    return path
