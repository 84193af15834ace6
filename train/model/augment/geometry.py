"""Geometric augmentation as one affine matrix per sample and one resampling.

Rotation, scale and translation (about the image center), random resized crop and
horizontal flip are composed into a ``(B, 3, 3)`` matrix in pixel coordinates (OpenCV
convention: pixel centers at integers, the image spans ``[-0.5, W - 0.5]``). Images are
resampled once with kornia's ``warp_affine`` (bilinear, zero padding), so stacking ops
costs no extra blur; keypoints go through the same matrix. A sample that is only flipped
is flipped exactly, without resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from kornia.geometry.transform import warp_affine

if TYPE_CHECKING:
    from train.model.augment.config import AugmentConfig


def uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    """``(n,)`` float64 draws from ``U(low, high)`` on the CPU."""
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def chance(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """``(n,)`` bool, each True with probability ``p`` (always drawn, to keep streams aligned)."""
    return torch.rand(n, generator=generator, dtype=torch.float64) < p


def _translation(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, dtype=torch.float64).repeat(len(tx), 1, 1)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _full(n: int, value: float) -> torch.Tensor:
    return torch.full((n,), float(value), dtype=torch.float64)


def _linear(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Matrices ``[[a, b, 0], [c, d, 0], [0, 0, 1]]``."""
    m = torch.eye(3, dtype=torch.float64).repeat(len(a), 1, 1)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a, b, c, d
    return m


@dataclass
class Geometry:
    """Sampled geometric transform of a batch.

    ``matrix`` ``(B, 3, 3)`` float64 maps input pixel coordinates to output ones;
    ``flipped`` ``(B,)`` marks mirrored samples; ``warped`` ``(B,)`` marks samples that
    need resampling (the others are at most flipped).
    """

    matrix: torch.Tensor
    flipped: torch.Tensor
    warped: torch.Tensor


def sample_geometry(c: AugmentConfig, n: int, height: int, width: int,
                    generator: torch.Generator | None) -> Geometry:
    """Draw each sample's affine, crop and flip for ``n`` images of ``height x width``."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    matrix = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    warped = torch.zeros(n, dtype=torch.bool)
    if c.rotation > 0 or c.scale != (1.0, 1.0) or c.translate > 0:
        angle = uniform(n, -c.rotation, c.rotation, generator) * (math.pi / 180)
        scale = uniform(n, *c.scale, generator)
        tx = uniform(n, -c.translate, c.translate, generator) * width
        ty = uniform(n, -c.translate, c.translate, generator) * height
        cos, sin = scale * torch.cos(angle), scale * torch.sin(angle)
        rotate = _linear(cos, -sin, sin, cos)
        to_origin = _translation(_full(n, -cx), _full(n, -cy))
        matrix = _translation(cx + tx, cy + ty) @ rotate @ to_origin
        warped[:] = True
    if c.crop > 0:
        picked = chance(n, c.crop, generator)
        area = uniform(n, *c.crop_area, generator)
        ratio = torch.exp(uniform(n, math.log(c.crop_ratio[0]), math.log(c.crop_ratio[1]),
                                  generator))
        crop_w = (width * torch.sqrt(area * ratio)).clamp(max=width)
        crop_h = (height * torch.sqrt(area / ratio)).clamp(max=height)
        # box center, so that the box [center -+ size / 2] lies within [-0.5, size - 0.5]
        bx = -0.5 + crop_w / 2 + uniform(n, 0, 1, generator) * (width - crop_w)
        by = -0.5 + crop_h / 2 + uniform(n, 0, 1, generator) * (height - crop_h)
        zoom = _linear(width / crop_w, _full(n, 0), _full(n, 0), height / crop_h)
        crop = _translation(_full(n, cx), _full(n, cy)) @ zoom @ _translation(-bx, -by)
        matrix = torch.where(picked[:, None, None], crop @ matrix, matrix)
        warped |= picked
    flipped = chance(n, c.hflip, generator) if c.hflip > 0 else torch.zeros(n, dtype=torch.bool)
    mirror = _linear(_full(n, -1), _full(n, 0), _full(n, 0), _full(n, 1))
    mirror[:, 0, 2] = width - 1
    matrix = torch.where(flipped[:, None, None], mirror @ matrix, matrix)
    return Geometry(matrix, flipped, warped)


def warp_images(images: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Apply a sampled :class:`Geometry` to ``(B, C, H, W)`` images (a new tensor)."""
    h, w = images.shape[2:]
    matrix = geometry.matrix[:, :2].to(images.device, images.dtype)
    if bool(geometry.warped.all()):
        return warp_affine(images, matrix, (h, w), align_corners=True)
    out = images.clone()
    if bool(geometry.warped.any()):
        idx = geometry.warped.nonzero().squeeze(1)
        out[idx.to(images.device)] = warp_affine(images[idx.to(images.device)], matrix[idx],
                                                 (h, w), align_corners=True)
    only_flipped = geometry.flipped & ~geometry.warped
    if bool(only_flipped.any()):
        idx = only_flipped.nonzero().squeeze(1).to(images.device)
        out[idx] = images[idx].flip(3)
    return out


def transform_keypoints(keypoints: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``(B, K, 2)`` points through ``(B, 3, 3)`` matrices (NaN stays NaN)."""
    m = matrix.to(keypoints.device, torch.float64)
    xy = keypoints.to(torch.float64)
    out = torch.einsum("bij,bkj->bki", m[:, :2, :2], xy) + m[:, None, :2, 2]
    return out.to(keypoints.dtype)
