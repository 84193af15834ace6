"""Batched, keypoint-aware training augmentation on the batch's device, built on kornia.

One call draws per-sample parameters (from a ``torch.Generator`` or torch's global RNG)
and applies, in order: rotation + scale + translation, random resized crop and
horizontal flip as one affine warp (:mod:`train.augment_geometry`; keypoints go through
the same matrix, left/right bodyparts swap on a flip, points pushed out of the frame
become NaN), then brightness, contrast, saturation, Gaussian and motion blur, sensor
noise and JPEG artifacts (:mod:`train.augment_photometric`). Pixel work is kornia's
(``warp_affine``, filters, color conversions) plus our own JPEG codec.

kornia's ``AugmentationSequential`` with ``data_keys=["input", "keypoints"]`` does the
same keypoint bookkeeping and agrees with our pixel convention, but with these ops it is
several times slower on a CPU (each op gathers and scatters its picked samples, the crop
resamples a second time, the differentiable JPEG codec alone costs more than all the
rest); ``tools/bench_augment.py`` measures both.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from train.augment_geometry import sample_geometry, transform_keypoints, warp_images
from train.augment_photometric import adjust_color, degrade
from train.augment_preview import draw_keypoints, write_augmentation_preview
from train.errors import ConfigError, DataError

__all__ = ["AugmentConfig", "Augmenter", "draw_keypoints", "write_augmentation_preview"]

log = logging.getLogger(__name__)

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentConfig:
    """Every op's strength; an op with probability or strength 0 (scale ``(1, 1)``) is off.

    Geometric: ``rotation`` max degrees either way; ``scale`` zoom factor range;
    ``translate`` max shift as a fraction of width/height; ``crop`` probability of a
    random resized crop keeping ``crop_area`` of the image with aspect ``crop_ratio``
    (resized back to the input size); ``hflip`` probability of a horizontal flip (left/
    right bodyparts are swapped). Photometric: ``brightness`` additive shift (max, in
    [0, 1] units), ``contrast`` and ``saturation`` factor ``1 +- strength``, each applied
    with probability ``color_p``; ``gaussian_blur`` probability with sigma range
    ``gaussian_blur_sigma`` in pixels; ``motion_blur`` probability with kernel length up to
    ``motion_blur_kernel`` pixels; ``noise`` probability of Gaussian noise with std up to
    ``noise_std`` (in [0, 1] units); ``jpeg`` probability of JPEG compression at quality
    ``jpeg_quality``.
    """

    enabled: bool = True
    rotation: float = 25.0
    scale: Range = (0.75, 1.25)
    translate: float = 0.1
    crop: float = 0.25
    crop_area: Range = (0.6, 1.0)
    crop_ratio: Range = (0.75, 4 / 3)
    hflip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.3
    saturation: float = 0.3
    color_p: float = 0.5
    gaussian_blur: float = 0.1
    gaussian_blur_sigma: Range = (0.3, 1.5)
    motion_blur: float = 0.1
    motion_blur_kernel: int = 7
    noise: float = 0.1
    noise_std: float = 0.03
    jpeg: float = 0.1
    jpeg_quality: Range = (30.0, 90.0)

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, source: str = "augmentation") -> AugmentConfig:
        """Build from a YAML/TOML mapping (missing keys keep their defaults).

        Raises ConfigError naming ``source`` (e.g. the file) and the key.
        """
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a mapping of augmentation keys, got {d!r}")
        defaults = {f.name: f.default for f in fields(cls)}
        values = {}
        for key, value in d.items():
            if key not in defaults:
                raise ConfigError(f"{source}: unknown augmentation key '{key}' "
                                  f"(known: {', '.join(defaults)})")
            values[key] = _coerce(source, key, value, defaults[key])
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (ranges as lists) that :meth:`from_dict` reads back to an equal config."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _coerce(source: str, key: str, value: Any, default: Any) -> Any:
    """Convert a YAML value to the type of the field's default, or raise naming the key."""
    where = f"{source}: key '{key}'"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(
            _is_number(v) for v in value
        ):
            raise ConfigError(f"{where} must be a pair [low, high] of numbers, got {value!r}")
        return (float(value[0]), float(value[1]))
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if not _is_number(value):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _validate(c: AugmentConfig) -> None:
    def bad(key: str, rule: str) -> ConfigError:
        return ConfigError(f"augmentation key '{key}' must be {rule}, got {getattr(c, key)!r}")

    for key in ("crop", "hflip", "color_p", "gaussian_blur", "motion_blur", "noise", "jpeg",
                "brightness", "saturation", "noise_std"):
        if not 0 <= getattr(c, key) <= 1:
            raise bad(key, "in [0, 1]")
    if not 0 <= c.rotation <= 180:
        raise bad("rotation", "in [0, 180] degrees")
    if not 0 <= c.translate < 1:
        raise bad("translate", "in [0, 1)")
    if not 0 <= c.contrast < 1:
        raise bad("contrast", "in [0, 1)")
    ranges = {"scale": 10, "crop_area": 1, "crop_ratio": 10, "gaussian_blur_sigma": 10,
              "jpeg_quality": 100}
    for key, hi in ranges.items():
        lo, up = getattr(c, key)
        if not 0 < lo <= up <= hi or key == "jpeg_quality" and lo < 1:
            raise bad(key, f"a pair [low, high] with 0 < low <= high <= {hi}")
    if c.motion_blur_kernel < 3 or c.motion_blur_kernel % 2 == 0:
        raise bad("motion_blur_kernel", "an odd integer >= 3")


class Augmenter(nn.Module):
    """Augment a training batch and move its keypoints along; runs on the batch's device.

    ``bodyparts`` names the K keypoints; ``flip_pairs`` (from config.yaml) are swapped
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
                        "names when mirrored (declare flip_pairs in config.yaml)", sided)

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
