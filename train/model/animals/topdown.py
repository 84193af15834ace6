"""Top-down several animals: find the animals first, then run the single-animal pose
network on a fixed-size crop around each (the default approach, README "Several animals").

- **Finder**: the center heatmap of :class:`~train.model.animals.network.AnimalsNet`
  (trained with the bottom-up loss) on the input average-pooled by ``pool``; its
  ``max_animals`` highest peaks of likelihood >= :data:`CENTER_THRESHOLD` are the animals,
  their cells' centers the animals' centers (the mean of their parts, as in training).
- **Crops**: ``side x side`` pixels of the input around each center, cut pixel for pixel
  (no resampling, as the training crops were; black beyond the frame), with a gather that
  ``torch.export`` and ONNX carry.
- **Pose**: :class:`~train.model.network.DeployNet` on each crop; its poses plus the crop's
  origin are the animal's parts in input pixels.

Training crops (:func:`animal_crops`) are :data:`TRAIN_MARGIN` px larger than the crops
cut at test time, so the trainer's random crops move the animal off center as the
finder's error does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from train.model.animals.assembly import CENTER_THRESHOLD, cell_xy, local_peaks
from train.model.animals.network import AnimalsNet
from train.model.animals.targets import animal_centers
from train.model.dataset import LabeledImages
from train.model.defaults import animal_extent, crop_side

TRAIN_MARGIN = 32  # px added to the training crops' side


def crop_origin(center: np.ndarray | torch.Tensor, side: int):
    """Top-left pixel of the ``side`` x ``side`` crop centered on `center` (x, y): the one
    rule that training and the exported model share."""
    return (center.round() if isinstance(center, torch.Tensor) else np.round(center)) - side // 2


def crop_around(image: np.ndarray, center: np.ndarray, side: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The ``side`` x ``side`` crop of `image` centered on `center` (x, y), black beyond
    the image, and the image position ``(x, y)`` of its top-left pixel."""
    x0, y0 = crop_origin(center, side).astype(int)
    out = np.zeros((side, side) + image.shape[2:], image.dtype)
    h, w = image.shape[:2]
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + side, w), min(y0 + side, h)
    if xe > xs and ye > ys:
        out[ys - y0:ye - y0, xs - x0:xe - x0] = image[ys:ye, xs:xe]
    return out, np.array([x0, y0], float)


def training_crop_side(keypoints: np.ndarray) -> int:
    """The side of the crops cut at test time for animals labeled ``(N, I, K, 2)``: 1.5x
    their extent, as single-animal training crops are sized."""
    return crop_side(animal_extent(keypoints))


def animal_crops(data: LabeledImages, side: int) -> LabeledImages:
    """Each labeled animal of `data` (``(N, I, K, 2)``) as an image of its own: the ``side``
    x ``side`` crop centered on it (the mean of its labeled parts, as the finder learns
    it), with its keypoints ``(K, 2)`` in crop pixels (the other animals in the crop are
    not its parts); names ``<image>#<individual index>``."""
    names, images, points = [], [], []
    centers = animal_centers(torch.from_numpy(data.keypoints)).numpy()
    for name, image, animals, middles in zip(data.names, data.images, data.keypoints, centers,
                                             strict=True):
        for a, center in enumerate(middles):
            if not np.isfinite(center).all():
                continue
            crop, origin = crop_around(image, center, side)
            names.append(f"{name}#{a}")
            images.append(crop)
            points.append(animals[a] - origin)
    k = data.keypoints.shape[2]
    kps = np.stack(points).astype(np.float32) if points else np.zeros((0, k, 2), np.float32)
    return LabeledImages(names, images, kps)


def pooled(data: LabeledImages, pool: int) -> LabeledImages:
    """`data` average-pooled by `pool` exactly as :class:`TopDownNet` pools its input for
    the finder (itself when `pool` is 1); keypoints follow (pixel centers)."""
    if pool == 1:
        return data
    images = []
    for img in data.images:
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
        small = F.avg_pool2d(x, pool)[0].permute(1, 2, 0).round().clamp(0, 255)
        images.append(small.to(torch.uint8).numpy())
    kps = ((data.keypoints + 0.5) / pool - 0.5).astype(np.float32)
    return LabeledImages(data.names, images, kps)


def cut_crops(x: torch.Tensor, origin: torch.Tensor, side: int, fill: torch.Tensor
              ) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B * M, C, side, side)`` crops whose top-left pixels are
    ``origin (B, M, 2)`` (integer x, y); `fill` ``(C,)`` beyond the frame."""
    b, c, h, w = x.shape
    m = origin.shape[1]
    steps = torch.arange(side, device=x.device)
    cols = origin[..., 0:1] + steps  # (B, M, S)
    rows = origin[..., 1:2] + steps
    inside = (((rows >= 0) & (rows < h))[..., :, None]
              & ((cols >= 0) & (cols < w))[..., None, :])  # (B, M, S, S)
    flat = rows.clamp(0, h - 1)[..., :, None] * w + cols.clamp(0, w - 1)[..., None, :]
    picked = torch.gather(x.flatten(2), 2, flat.reshape(b, 1, -1).expand(b, c, -1))
    crops = picked.reshape(b, c, m, side, side).transpose(1, 2)  # (B, M, C, S, S)
    crops = torch.where(inside[:, :, None], crops, fill.reshape(1, 1, c, 1, 1))
    return crops.reshape(b * m, c, side, side)


class CenterFinder(nn.Module):
    """The finder part of :class:`AnimalsNet`: normalized ``(B, 3, H, W)`` -> center logits
    ``(B, 1, h, w)`` (its other heads are not run)."""

    def __init__(self, net: AnimalsNet):
        super().__init__()
        self.net = net
        self.stride = net.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.net.pose.head
        return self.net.center(head.upsample(self.net.pose.backbone(x)))


class TopDownNet(nn.Module):
    """Finder + crops + pose network: normalized ``(B, 3, H, W)`` -> ``(B, M, K, 3)`` x, y,
    likelihood per found animal in input pixels, NaN in the slots of no animal.

    `finder` maps the input pooled by `pool` to center logits at its ``stride``; `pose`
    maps ``(N, 3, side, side)`` crops to ``(N, K, 3)`` in crop pixels; `fill` is the
    normalized value of black (what the training crops hold beyond the frame)."""

    def __init__(self, finder: nn.Module, pose: nn.Module, side: int, pool: int,
                 max_animals: int, fill: torch.Tensor):
        super().__init__()
        self.finder, self.pose = finder, pose
        self.side, self.pool, self.max_animals = int(side), int(pool), int(max_animals)
        self.register_buffer("fill", fill.float().reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        small = F.avg_pool2d(x, self.pool) if self.pool > 1 else x
        logits = self.finder(small).float()
        score, idx = local_peaks(logits, self.max_animals)  # (B, 1, M)
        centers = (cell_xy(idx[:, 0], logits.shape[3], self.finder.stride) + 0.5) \
            * self.pool - 0.5  # (B, M, 2) input px
        origin = crop_origin(centers, self.side)
        crops = cut_crops(x, origin.long(), self.side, self.fill.to(x.dtype))
        poses = self.pose(crops).float()
        poses = poses.reshape(b, self.max_animals, poses.shape[1], 3)
        poses = torch.cat([poses[..., :2] + origin[:, :, None, :], poses[..., 2:]], dim=-1)
        found = (score[:, 0] >= CENTER_THRESHOLD)[:, :, None, None]
        return torch.where(found, poses, torch.full_like(poses, float("nan")))
