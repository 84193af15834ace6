"""Batched, keypoint-aware training augmentation on the batch's device, built on kornia.

Geometric ops (rotation + scale + translation in one affine warp, random resized crop,
horizontal flip) move the keypoints with the pixels through kornia's
``AugmentationSequential``; kornia 0.9 uses our convention (pixel centers at integer
coordinates, flip ``x' = W - 1 - x``), which the tests check to a thousandth of a pixel.
What kornia lacks is added here: the left/right bodypart swap after a flip, points
pushed out of the frame becoming NaN, seeding from a ``torch.Generator``, and a fast
JPEG codec (:mod:`train.augment_jpeg`). Photometric ops follow: brightness, contrast,
saturation, Gaussian and motion blur, sensor noise, JPEG artifacts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import kornia.augmentation as K
import torch
from torch import nn

from train.augment_jpeg import RandomJPEGArtifacts
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
    ``motion_blur_kernel`` pixels; ``noise`` probability of Gaussian noise with std
    ``noise_std``; ``jpeg`` probability of JPEG compression at quality ``jpeg_quality``.
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


def _flip_permutation(bodyparts: tuple[str, ...], flip_pairs) -> torch.Tensor:
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
    return torch.tensor(perm, dtype=torch.long)


def _geometric_ops(c: AugmentConfig, size: tuple[int, int]) -> list[nn.Module]:
    ops: list[nn.Module] = []
    if c.rotation > 0 or c.scale != (1.0, 1.0) or c.translate > 0:
        ops.append(K.RandomAffine(
            degrees=c.rotation, translate=(c.translate, c.translate) if c.translate else None,
            scale=c.scale if c.scale != (1.0, 1.0) else None, p=1.0))
    if c.crop > 0:
        ops.append(K.RandomResizedCrop(size, scale=c.crop_area, ratio=c.crop_ratio, p=c.crop))
    if c.hflip > 0:
        ops.append(K.RandomHorizontalFlip(p=c.hflip))
    return ops


def _photometric_ops(c: AugmentConfig) -> list[nn.Module]:
    ops: list[nn.Module] = []
    if c.color_p > 0:
        if c.brightness > 0:
            ops.append(K.RandomBrightness((1 - c.brightness, 1 + c.brightness), p=c.color_p))
        if c.contrast > 0:
            ops.append(K.RandomContrast((1 - c.contrast, 1 + c.contrast), p=c.color_p))
        if c.saturation > 0:
            ops.append(K.RandomSaturation((1 - c.saturation, 1 + c.saturation), p=c.color_p))
    if c.gaussian_blur > 0:
        k = 2 * math.ceil(3 * c.gaussian_blur_sigma[1]) + 1
        ops.append(K.RandomGaussianBlur((k, k), c.gaussian_blur_sigma, p=c.gaussian_blur))
    if c.motion_blur > 0:
        ops.append(K.RandomMotionBlur((3, c.motion_blur_kernel), angle=180.0, direction=(-1.0, 1.0),
                                      p=c.motion_blur))
    if c.noise > 0 and c.noise_std > 0:
        ops.append(K.RandomGaussianNoise(std=c.noise_std, p=c.noise))
    if c.jpeg > 0:
        ops.append(RandomJPEGArtifacts(jpeg_quality=c.jpeg_quality, p=c.jpeg))
    return ops


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
        self.register_buffer("flip_perm", _flip_permutation(self.bodyparts, flip_pairs),
                             persistent=False)
        self._sequences: dict[tuple[int, int], K.AugmentationSequential | None] = {}
        sided = [b for b in self.bodyparts if "left" in b.lower() or "right" in b.lower()]
        if config.enabled and config.hflip > 0 and not flip_pairs and sided:
            log.warning("horizontal flip is on but no flip_pairs are declared: %s keep their "
                        "names when mirrored (declare flip_pairs in config.yaml)", sided)

    def _sequence(self, size: tuple[int, int]) -> K.AugmentationSequential | None:
        """The kornia pipeline for images of ``size`` (the crop needs it); None when all off."""
        if size not in self._sequences:
            c = self.config
            ops = [*_geometric_ops(c, size), *_photometric_ops(c)] if c.enabled else []
            self._sequences[size] = (
                K.AugmentationSequential(*ops, data_keys=["input", "keypoints"]) if ops else None)
        return self._sequences[size]

    def forward(self, images: torch.Tensor, keypoints: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment ``images (B, 3, H, W)`` float in [0, 1] and ``keypoints (B, K, 2)`` pixels.

        NaN keypoints (unlabeled) stay NaN; points pushed outside the image
        (beyond half a pixel past the edge pixel centers) become NaN. Random draws come
        from torch's global RNG, or from ``generator`` when given (then the global state
        is left untouched). Returns new tensors of the same shapes.
        """
        _check_batch(images, keypoints, len(self.bodyparts))
        seq = self._sequence((images.shape[2], images.shape[3]))
        if seq is None:
            return images, _drop_outside(keypoints.clone(), images.shape)
        if generator is None:
            return self._run(seq, images, keypoints)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        devices = [images.device] if images.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.random.default_generator.manual_seed(seed)
            if devices:
                with torch.cuda.device(images.device):
                    torch.cuda.manual_seed(seed)
            return self._run(seq, images, keypoints)

    def _run(self, seq: K.AugmentationSequential, images: torch.Tensor, keypoints: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        out, kp = seq(images, keypoints.to(images.dtype))
        matrix = seq.transform_matrix
        if matrix is not None and self.config.hflip > 0:
            # Every op but the flip keeps orientation, so a mirrored sample is one whose
            # combined transform has a negative determinant.
            flipped = torch.linalg.det(matrix[:, :2, :2]) < 0
            kp = torch.where(flipped[:, None, None], kp[:, self.flip_perm.to(kp.device)], kp)
        return out.clamp(0, 1), _drop_outside(kp.to(keypoints.dtype), images.shape)


def _check_batch(images: torch.Tensor, keypoints: torch.Tensor, k: int) -> None:
    if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise DataError(f"augmentation: images must be float (B, 3, H, W), got "
                        f"{tuple(images.shape)} {images.dtype}")
    if keypoints.shape != (images.shape[0], k, 2):
        raise DataError(f"augmentation: keypoints must be (B={images.shape[0]}, K={k}, 2) "
                        f"for {k} bodyparts, got {tuple(keypoints.shape)}")


def _drop_outside(kp: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """NaN for points outside ``[-0.5, W - 0.5) x [-0.5, H - 0.5)`` (the image's pixels)."""
    h, w = shape[2], shape[3]
    x, y = kp[..., 0], kp[..., 1]
    outside = (x < -0.5) | (x >= w - 0.5) | (y < -0.5) | (y >= h - 0.5)
    return kp.masked_fill(outside[..., None], float("nan"))
