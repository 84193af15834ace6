"""The augmentation preview: a PNG whose drawn rings sit on the augmented targets."""

import math

import cv2
import numpy as np
import pytest
import torch

from calib.errors import DataError
from train.model.augment.config import AugmentConfig
from train.model.augment.pipeline import Augmenter
from train.model.augment.preview import GAP, draw_keypoints, ring_radius, write_augmentation_preview
from train.post.labeled_video import bodypart_colors

BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
H, W = 96, 128


def white_dot_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dark images with a small white disc on each keypoint (targets the rings must hit)."""
    rng = np.random.default_rng(0)
    images = np.full((n, H, W, 3), 0.15, np.float32)
    kp = np.empty((n, len(BODYPARTS), 2))
    for i in range(n):
        while True:
            pts = rng.uniform([16, 16], [W - 17, H - 17], (len(BODYPARTS), 2))
            d = np.linalg.norm(pts[:, None] - pts[None], axis=2) + np.eye(len(pts)) * 99
            if d.min() > 20:
                break
        for x, y in pts:
            cv2.circle(images[i], (int(round(x * 16)), int(round(y * 16))), 20, (1, 1, 1), -1,
                       cv2.LINE_8, 4)
        kp[i] = pts
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(kp).float()


def centroid(mask: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    w = np.ones(len(xs)) if weight is None else weight[ys, xs]
    return np.array([np.average(xs, weights=w), np.average(ys, weights=w)])


def test_preview_rings_sit_on_augmented_targets(tmp_path):
    images, kp = white_dot_batch(3)
    config = AugmentConfig.from_dict({"rotation": 30, "scale": [0.8, 1.2], "translate": 0.1,
                                      "crop": 0.5, "hflip": 0.5, "noise": 0.0, "jpeg": 0.0,
                                      "gaussian_blur": 0.0, "motion_blur": 0.0})
    aug = Augmenter(config, BODYPARTS, (("leftear", "rightear"),))
    path = write_augmentation_preview(images, kp, aug, tmp_path / "preview.png", n_rows=3,
                                      n_augmented=4, generator=torch.Generator().manual_seed(2))
    grid = cv2.imread(str(path))
    assert grid.shape[0] > 3 * (H + GAP) - GAP  # panels, then the legend strip
    assert grid.shape[1:] == (5 * (W + GAP) - GAP, 3)
    colors = bodypart_colors(len(BODYPARTS))
    full_ring = None
    checked = 0
    for r in range(3):
        for c in range(5):
            panel = grid[r * (H + GAP): r * (H + GAP) + H, c * (W + GAP): c * (W + GAP) + W]
            brightness = panel.min(axis=2).astype(float)
            rings = [(panel == color).all(axis=2) for color in colors]
            for color, ring in zip(colors, rings, strict=True):
                if full_ring is None:
                    full_ring = ring.sum()  # the first original panel: every ring is whole
                if ring.sum() < 0.8 * full_ring:
                    continue  # clipped at the border or pushed out (NaN, not drawn)
                center = centroid(ring)
                ys, xs = np.mgrid[:H, :W]
                near = (xs - center[0]) ** 2 + (ys - center[1]) ** 2 <= ring_radius(H, W) ** 2
                target = near & (brightness > 100) & ~np.any(rings, axis=0)
                assert target.any(), (r, c, color)
                assert np.linalg.norm(centroid(target, brightness) - center) < 1.0
                checked += 1
    assert checked >= 40  # of 60 rings


def test_draw_keypoints_skips_nan_and_checks_shapes():
    images = torch.zeros(2, 3, 20, 30)
    kp = torch.tensor([[[10.0, 10.0]], [[math.nan, math.nan]]])
    grid = draw_keypoints(images, kp, ("snout",))
    assert grid.shape == (20, 2 * 30 + GAP, 3) and grid.dtype == np.uint8
    assert grid[:, :30].any() and not grid[:, 30 + GAP:].any()
    with pytest.raises(DataError, match="keypoints"):
        draw_keypoints(images, kp[:, :, :1], ("snout",))


def test_preview_wants_png(tmp_path):
    aug = Augmenter(AugmentConfig(), BODYPARTS)
    with pytest.raises(DataError, match="png"):
        write_augmentation_preview(torch.rand(1, 3, H, W), torch.rand(1, 4, 2), aug,
                                   tmp_path / "p.jpg")
    assert not list(tmp_path.iterdir())
