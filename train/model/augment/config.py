"""Augmentation settings: every op's probability and strength, validated, read from and
written to the ``augment:`` section of a model's config."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from calib.errors import ConfigError

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentConfig:
    """Every op's strength; an op with probability or strength 0 (scale ``(1, 1)``) is off.
    Fractions and intensities are in [0, 1] units of the image's width, height or range."""

    enabled: bool = True
    # geometry
    rotation: float = 25.0  # max degrees either way
    scale: Range = (0.75, 1.25)  # zoom factor range
    translate: float = 0.1  # max shift, fraction of width/height
    # random resized crop: probability, share of the image kept, aspect; resized back
    crop: float = 0.25
    crop_area: Range = (0.6, 1.0)
    crop_ratio: Range = (0.75, 4 / 3)
    # probability of a horizontal flip; left/right bodyparts are swapped. Off unless set:
    # the trainer's defaults set it when the bodyparts have left/right pairs.
    hflip: float = 0.0
    # colour: additive brightness shift (max), contrast and saturation factor 1 +- value,
    # each applied with probability color_p
    brightness: float = 0.2
    contrast: float = 0.3
    saturation: float = 0.3
    color_p: float = 0.5
    # camera degradations: probability of each, then its strength
    gaussian_blur: float = 0.1
    gaussian_blur_sigma: Range = (0.3, 1.5)  # pixels
    motion_blur: float = 0.1
    motion_blur_kernel: int = 7  # max kernel length, pixels
    noise: float = 0.1
    noise_std: float = 0.03  # max std of Gaussian noise
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
