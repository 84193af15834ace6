"""Batched, keypoint-aware training augmentation on the batch's device, built on kornia.

One call draws per-sample parameters (from a ``torch.Generator`` or torch's global RNG)
and applies, in order: rotation + scale + translation, random resized crop and
horizontal flip as one affine warp (:mod:`train.model.augment.geometry`; keypoints go through
the same matrix, left/right bodyparts swap on a flip, points pushed out of the frame
become NaN), then brightness, contrast, saturation, Gaussian and motion blur, sensor
noise and JPEG artifacts (:mod:`train.model.augment.photometric`). Pixel work is kornia's
(``warp_affine``, filters, color conversions) plus our own JPEG codec.

kornia's ``AugmentationSequential`` with ``data_keys=["input", "keypoints"]`` does the
same keypoint bookkeeping and agrees with our pixel convention, but with these ops it is
several times slower on a CPU (each op gathers and scatters its picked samples, the crop
resamples a second time, the differentiable JPEG codec alone costs more than all the
rest); ``tools/bench_augment.py`` measures both.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from calib.errors import ConfigError, DataError
from train.model.augment.config import AugmentConfig
from train.model.augment.geometry import sample_geometry, transform_keypoints, warp_images
from train.model.augment.photometric import adjust_color, degrade

log = logging.getLogger(__name__)

class Augmenter(nn.Module):
    """Augment a training batch and move its keypoints along; runs on the batch's device.

    ``bodyparts`` names the K keypoints; ``flip_pairs`` (from poseloop.yaml) are swapped
    after a horizontal flip, so "left ear" stays the animal's left ear.
    """

    def __init__(self, config: AugmentConfig, bodyparts: tuple[str, ...],
                 flip_pairs: tuple[tuple[str, str], ...] = ()):
        super().__init__()
        self.config = config
        self.bodyparts = tuple(bodyparts)
        self.flip_pairs = tuple(tuple(p) for p in flip_pairs)
        self.flip_perm = _flip_permutation(self.bodyparts, self.flip_pairs)
        sided = [b for b in self.bodyparts if "left" in b.lower() or "right" in b.lower()]
        if config.enabled and config.hflip > 0 and not flip_pairs and sided:
            log.warning("horizontal flip is on but no flip_pairs are declared: %s keep their "
                        "names when mirrored (declare flip_pairs in poseloop.yaml)", sided)

    def forward(self, images: torch.Tensor, keypoints: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment ``images (B, 3, H, W)`` float in [0, 1] and ``keypoints (B, K, 2)`` pixels.

        Returns the augmented images (same shape, in [0, 1]; the input tensor itself when
        every op is off) and the keypoints moved with them: NaN (unlabeled) stays NaN,
        points pushed outside the image (more than half a pixel past the edge pixel
        centers) become NaN. Random draws come from ``generator`` when given (on any
        device; torch's global RNG is then left alone), else from torch's global RNG, so
        a batch is reproducible from torch's seed.
        """
        _check_batch(images, keypoints, len(self.bodyparts))
        c = self.config
        n, _, h, w = images.shape
        generator, device_generator = _generators(generator, images.device)
        if c.enabled:
            geometry = sample_geometry(c, n, h, w, generator)
            if bool((geometry.warped | geometry.flipped).any()):
                images = warp_images(images, geometry)
                keypoints = transform_keypoints(keypoints, geometry.matrix)
                flipped = geometry.flipped.to(keypoints.device)[:, None, None]
                keypoints = torch.where(flipped, keypoints[:, self.flip_perm], keypoints)
            images = adjust_color(images, c, generator)
            images = degrade(images, c, generator, device_generator)
        return images, _drop_outside(keypoints, h, w)


def _generators(generator: torch.Generator | None, device: torch.device
                ) -> tuple[torch.Generator | None, torch.Generator | None]:
    """``(CPU generator for the parameters, generator on device for the noise)``; where
    ``generator`` lives elsewhere, a generator seeded from it stands in."""
    if generator is None:
        return None, None

    def on(target: torch.device) -> torch.Generator:
        if generator.device.type == target.type:
            return generator
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        return torch.Generator(target).manual_seed(seed)

    return on(torch.device("cpu")), on(device)


def _flip_permutation(bodyparts: tuple[str, ...], flip_pairs) -> list[int]:
    """Index ``perm`` so that ``kp[:, perm]`` swaps each left/right pair."""
    perm = list(range(len(bodyparts)))
    seen: set[str] = set()
    for a, b in flip_pairs:
        for name in (a, b):
            if name not in bodyparts:
                raise ConfigError(f"flip_pairs: '{name}' is not a bodypart ({list(bodyparts)})")
            if name in seen:
                raise ConfigError(f"flip_pairs: '{name}' appears in more than one pair")
            seen.add(name)
        i, j = bodyparts.index(a), bodyparts.index(b)
        perm[i], perm[j] = j, i
    return perm


def _check_batch(images: torch.Tensor, keypoints: torch.Tensor, k: int) -> None:
    if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise DataError(f"augmentation: images must be float (B, 3, H, W), got "
                        f"{tuple(images.shape)} {images.dtype}")
    if keypoints.shape != (images.shape[0], k, 2):
        raise DataError(f"augmentation: keypoints must be (B={images.shape[0]}, K={k}, 2) "
                        f"for {k} bodyparts, got {tuple(keypoints.shape)}")


def _drop_outside(kp: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """NaN for points outside ``[-0.5, W - 0.5) x [-0.5, H - 0.5)`` (the image's pixels)."""
    x, y = kp[..., 0], kp[..., 1]
    outside = (x < -0.5) | (x >= width - 0.5) | (y < -0.5) | (y >= height - 0.5)
    return kp.masked_fill(outside[..., None], float("nan"))
