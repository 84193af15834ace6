"""Photometric augmentation: pixel values change, keypoints do not.

Per-sample parameters are drawn on the CPU; the pixels are processed on the batch's
device. Color ops act on the whole batch with identity factors for unpicked samples
(cheaper than gathering); blur, noise and JPEG act only on the picked samples. Built on
kornia's filters and color conversions; JPEG comes from :mod:`train.model.augment.jpeg`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import filter2d, gaussian_blur2d, get_motion_kernel2d

from train.model.augment.geometry import chance, uniform
from train.model.augment.jpeg import jpeg_artifacts

if TYPE_CHECKING:
    from train.model.augment.config import AugmentConfig


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(B,)`` CPU values as ``(B, 1, 1, 1)`` on ``like``'s device and dtype."""
    return values.to(like.device, like.dtype)[:, None, None, None]


def adjust_color(images: torch.Tensor, c: AugmentConfig, generator: torch.Generator | None
                 ) -> torch.Tensor:
    """Brightness (additive), contrast (about the mean gray), saturation (toward gray),
    each picked per sample with probability ``color_p``; clamped to [0, 1] after each."""
    n = images.shape[0]
    if c.brightness > 0:
        picked = chance(n, c.color_p, generator)
        shift = uniform(n, -c.brightness, c.brightness, generator) * picked
        if bool(picked.any()):
            images = (images + _per_sample(shift, images)).clamp(0, 1)
    if c.contrast > 0:
        picked = chance(n, c.color_p, generator)
        factor = torch.where(picked, uniform(n, 1 - c.contrast, 1 + c.contrast, generator), 1.0)
        if bool(picked.any()):
            mean = rgb_to_grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
            images = torch.lerp(mean, images, _per_sample(factor, images)).clamp(0, 1)
    if c.saturation > 0:
        picked = chance(n, c.color_p, generator)
        factor = torch.where(picked, uniform(n, 1 - c.saturation, 1 + c.saturation, generator),
                             1.0)
        if bool(picked.any()):
            gray = rgb_to_grayscale(images)
            images = torch.lerp(gray, images, _per_sample(factor, images)).clamp(0, 1)
    return images


def _on_picked(images: torch.Tensor, picked: torch.Tensor,
               op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``op(images[picked], picked_indices)`` written back into a copy of the batch."""
    if not bool(picked.any()):
        return images
    idx = picked.nonzero().squeeze(1)
    dev_idx = idx.to(images.device)
    return images.index_copy(0, dev_idx, op(images[dev_idx], idx))


def degrade(images: torch.Tensor, c: AugmentConfig, generator: torch.Generator | None,
            device_generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian blur, motion blur, sensor noise and JPEG artifacts, in the order a camera
    makes them. ``device_generator`` draws the noise on the images' device."""
    n = images.shape[0]
    if c.gaussian_blur > 0:
        picked = chance(n, c.gaussian_blur, generator)
        sigma = uniform(n, *c.gaussian_blur_sigma, generator)
        size = 2 * math.ceil(3 * c.gaussian_blur_sigma[1]) + 1
        images = _on_picked(images, picked, lambda x, i: gaussian_blur2d(
            x, size, sigma[i, None].expand(-1, 2).to(x.device, x.dtype)))
    if c.motion_blur > 0:
        picked = chance(n, c.motion_blur, generator)
        angle = uniform(n, 0, 180, generator)
        direction = uniform(n, -1, 1, generator)
        size = 3 + 2 * int(torch.randint((c.motion_blur_kernel - 1) // 2, (1,),
                                         generator=generator))
        images = _on_picked(images, picked, lambda x, i: filter2d(
            x, get_motion_kernel2d(size, angle[i].to(x.device, x.dtype),
                                   direction[i].to(x.device, x.dtype))))
    if c.noise > 0 and c.noise_std > 0:
        picked = chance(n, c.noise, generator)
        std = uniform(n, 0, c.noise_std, generator)
        images = _on_picked(images, picked, lambda x, i: (x + _per_sample(std[i], x) * torch.randn(
            x.shape, generator=device_generator, device=x.device, dtype=x.dtype)).clamp(0, 1))
    if c.jpeg > 0:
        picked = chance(n, c.jpeg, generator)
        quality = uniform(n, *c.jpeg_quality, generator)
        images = _on_picked(images, picked,
                            lambda x, i: jpeg_artifacts(x, quality[i].to(x.device, x.dtype)))
    return images
