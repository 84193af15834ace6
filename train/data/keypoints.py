"""Keypoint data model: arrays with their bodypart names attached.

2D poses are float32 ``(frames, bodyparts, 3)`` arrays of ``x, y, likelihood`` in pixels
of the original frame, OpenCV convention (center of the top-left pixel is ``(0, 0)``);
a missing point is NaN. Human labels carry ``x, y`` only, in float64 so that tables
round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from calib.errors import DataError


def _check_names(names: tuple[str, ...], what: str) -> None:
    if len(set(names)) != len(names):
        raise DataError(f"{what}: duplicate bodypart names in {list(names)}")


@dataclass(frozen=True)
class Poses2D:
    """Per-frame 2D poses of one camera or video: ``data[f, b] = (x, y, likelihood)``."""

    bodyparts: tuple[str, ...]
    data: np.ndarray  # (frames, bodyparts, 3) float32

    def __post_init__(self) -> None:
        object.__setattr__(self, "bodyparts", tuple(self.bodyparts))
        data = np.asarray(self.data, dtype=np.float32)
        if data.ndim != 3 or data.shape[2] != 3 or data.shape[1] != len(self.bodyparts):
            raise DataError(f"poses must be (frames, {len(self.bodyparts)}, 3), got {data.shape}")
        _check_names(self.bodyparts, "poses")
        object.__setattr__(self, "data", data)

    @property
    def n_frames(self) -> int:
        return self.data.shape[0]

    @property
    def xy(self) -> np.ndarray:
        return self.data[..., :2]

    @property
    def likelihood(self) -> np.ndarray:
        return self.data[..., 2]

    @classmethod
    def empty(cls, bodyparts: tuple[str, ...] | list[str], n_frames: int) -> Poses2D:
        return cls(tuple(bodyparts), np.full((n_frames, len(bodyparts), 3), np.nan, np.float32))


@dataclass(frozen=True)
class Poses3D:
    """Per-frame 3D poses: ``xyz`` in calibration units, with per-point quality.

    ``score`` is the mean likelihood of the views used, ``reprojection_error`` the mean
    reprojection error in pixels, ``n_cameras`` how many views were used (0: missing).
    """

    bodyparts: tuple[str, ...]
    xyz: np.ndarray  # (frames, bodyparts, 3) float32
    score: np.ndarray  # (frames, bodyparts) float32
    reprojection_error: np.ndarray  # (frames, bodyparts) float32
    n_cameras: np.ndarray  # (frames, bodyparts) int16

    def __post_init__(self) -> None:
        object.__setattr__(self, "bodyparts", tuple(self.bodyparts))
        _check_names(self.bodyparts, "3D poses")
        xyz = np.asarray(self.xyz, dtype=np.float32)
        shape = (xyz.shape[0], len(self.bodyparts))
        if xyz.shape != (*shape, 3):
            raise DataError(f"3D poses must be (frames, {len(self.bodyparts)}, 3), got {xyz.shape}")
        object.__setattr__(self, "xyz", xyz)
        for name, dtype in (
            ("score", np.float32),
            ("reprojection_error", np.float32),
            ("n_cameras", np.int16),
        ):
            arr = np.asarray(getattr(self, name), dtype=dtype)
            if arr.shape != shape:
                raise DataError(f"3D poses field {name} must be {shape}, got {arr.shape}")
            object.__setattr__(self, name, arr)

    @property
    def n_frames(self) -> int:
        return self.xyz.shape[0]


@dataclass
class LabeledFrames:
    """Human (or machine) labels of a set of images, as in ``CollectedData_<scorer>``.

    ``images`` are relative paths with forward slashes, e.g.
    ``labeled-data/m4s1/img0000.png``; ``xy`` is float64 ``(images, bodyparts, 2)`` with
    NaN where a point is not labeled. ``index_style`` remembers how the table stored the
    image paths (``"flat"`` strings, or DeepLabCut 3's ``"tuple"`` of three levels) so a
    table is written back the way it was read.
    """

    scorer: str
    bodyparts: tuple[str, ...]
    images: list[str]
    xy: np.ndarray
    index_style: str = "flat"
    likelihood: np.ndarray | None = field(default=None)  # machine labels only

    def __post_init__(self) -> None:
        self.bodyparts = tuple(self.bodyparts)
        _check_names(self.bodyparts, f"labels of {self.scorer}")
        self.xy = np.asarray(self.xy, dtype=np.float64)
        if self.xy.shape != (len(self.images), len(self.bodyparts), 2):
            raise DataError(
                f"labels must be ({len(self.images)}, {len(self.bodyparts)}, 2), "
                f"got {self.xy.shape}"
            )
        if self.index_style not in ("flat", "tuple"):
            raise DataError(f"index_style must be 'flat' or 'tuple', got {self.index_style!r}")
        if self.likelihood is not None:
            self.likelihood = np.asarray(self.likelihood, dtype=np.float64)
            if self.likelihood.shape != self.xy.shape[:2]:
                raise DataError(
                    f"likelihood must be {self.xy.shape[:2]}, got {self.likelihood.shape}"
                )

    def __len__(self) -> int:
        return len(self.images)

    def labeled_mask(self) -> np.ndarray:
        """``(images, bodyparts)`` True where both coordinates are finite."""
        return np.isfinite(self.xy).all(axis=2)

    def with_bodyparts(self, bodyparts: tuple[str, ...] | list[str]) -> LabeledFrames:
        """Reorder to `bodyparts`; parts the table lacks come back empty (NaN).

        Parts in the table but not in `bodyparts` are an error: dropping labels silently
        would lose a user's work.
        """
        bodyparts = tuple(bodyparts)
        extra = [b for b in self.bodyparts if b not in bodyparts]
        if extra:
            raise DataError(
                f"labels of scorer {self.scorer} have bodyparts {extra} that the config does "
                f"not list (config: {list(bodyparts)})"
            )
        xy = np.full((len(self.images), len(bodyparts), 2), np.nan)
        lik = None if self.likelihood is None else np.full(xy.shape[:2], np.nan)
        for j, name in enumerate(bodyparts):
            if name in self.bodyparts:
                xy[:, j] = self.xy[:, self.bodyparts.index(name)]
                if lik is not None:
                    lik[:, j] = self.likelihood[:, self.bodyparts.index(name)]
        return LabeledFrames(self.scorer, bodyparts, list(self.images), xy, self.index_style, lik)


def outside_image(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(..., K)`` True where a labeled point ``xy (..., K, 2)`` lies off a `width` x `height`
    image (pixel centers at integers, so the image spans -0.5 .. width - 0.5)."""
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(invalid="ignore"):
        return (x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)
