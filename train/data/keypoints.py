"""Keypoint data model: arrays with their bodypart names attached.

2D poses are float32 ``(frames, bodyparts, 3)`` arrays of ``x, y, likelihood`` in pixels
of the original frame, OpenCV convention (center of the top-left pixel is ``(0, 0)``);
a missing point is NaN. Human labels carry ``x, y`` only, in float64 so that tables
round-trip exactly.

Several animals (DeepLabCut's multi-animal projects) add an individual axis after the
frame axis: ``(frames, individuals, bodyparts, 3)``, NaN for an absent individual. The
bodypart axis holds the animals' parts followed by the unique parts (parts that exist
once per frame, e.g. an object); unique parts belong to the pseudo-individual
``single`` (last on the individual axis), the only individual that has them, so the
cells of an (individual, bodypart) pair that DeepLabCut's tables have no column for
stay NaN. :func:`table_columns` lists the pairs that exist, in table order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from calib.errors import DataError

SINGLE = "single"  # DeepLabCut's individual for the unique bodyparts


def _check_names(names: tuple[str, ...], what: str) -> None:
    if len(set(names)) != len(names):
        raise DataError(f"{what}: duplicate bodypart names in {list(names)}")


def _check_individuals(individuals: tuple[str, ...], bodyparts: tuple[str, ...],
                       unique: tuple[str, ...], what: str) -> None:
    """Individuals are distinct; unique parts are among the bodyparts, last, and exactly
    when the last individual is ``single``."""
    if len(set(individuals)) != len(individuals):
        raise DataError(f"{what}: duplicate individual names in {list(individuals)}")
    if unique and tuple(bodyparts[len(bodyparts) - len(unique):]) != unique:
        raise DataError(f"{what}: unique bodyparts {list(unique)} must be the last of "
                        f"{list(bodyparts)}")
    has_single = bool(individuals) and individuals[-1] == SINGLE
    if bool(unique) != has_single or SINGLE in individuals[:-1]:
        raise DataError(f"{what}: individual '{SINGLE}' must come last, exactly when there "
                        f"are unique bodyparts (individuals {list(individuals)}, unique "
                        f"{list(unique)})")


def table_columns(individuals: tuple[str, ...], bodyparts: tuple[str, ...],
                  unique: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """``(individual index, bodypart index)`` pairs that exist, in DeepLabCut's column
    order: every animal's parts, then ``single``'s unique parts."""
    n_multi = len(bodyparts) - len(unique)
    out = []
    for i, name in enumerate(individuals):
        parts = range(n_multi, len(bodyparts)) if name == SINGLE else range(n_multi)
        out += [(i, j) for j in parts]
    return out


def cell_mask(individuals: tuple[str, ...], bodyparts: tuple[str, ...],
              unique: tuple[str, ...] = ()) -> np.ndarray:
    """``(individuals, bodyparts)`` True where the pair exists (see :func:`table_columns`)."""
    mask = np.zeros((len(individuals), len(bodyparts)), bool)
    for i, j in table_columns(individuals, bodyparts, unique):
        mask[i, j] = True
    return mask


@dataclass(frozen=True)
class Poses2D:
    """Per-frame 2D poses of one camera or video: ``data[f, b] = (x, y, likelihood)``, or
    with `individuals` ``data[f, i, b]`` (see the module's note on unique bodyparts)."""

    bodyparts: tuple[str, ...]
    data: np.ndarray  # (frames, bodyparts, 3) or (frames, individuals, bodyparts, 3) float32
    individuals: tuple[str, ...] = ()
    unique_bodyparts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("bodyparts", "individuals", "unique_bodyparts"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        data = np.asarray(self.data, dtype=np.float32)
        want = (*((len(self.individuals),) if self.individuals else ()), len(self.bodyparts), 3)
        if data.ndim != 1 + len(want) or data.shape[1:] != want:
            raise DataError(f"poses must be (frames, {', '.join(map(str, want))}), "
                            f"got {data.shape}")
        _check_names(self.bodyparts, "poses")
        if self.individuals or self.unique_bodyparts:
            _check_individuals(self.individuals, self.bodyparts, self.unique_bodyparts, "poses")
        object.__setattr__(self, "data", data)

    @property
    def multi(self) -> bool:
        """True when the poses have an individual axis."""
        return bool(self.individuals)

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
    def empty(cls, bodyparts: tuple[str, ...] | list[str], n_frames: int,
              individuals: tuple[str, ...] = (), unique_bodyparts: tuple[str, ...] = ()
              ) -> Poses2D:
        shape = (n_frames, *((len(individuals),) if individuals else ()), len(bodyparts), 3)
        return cls(tuple(bodyparts), np.full(shape, np.nan, np.float32), tuple(individuals),
                   tuple(unique_bodyparts))


@dataclass(frozen=True)
class Poses3D:
    """Per-frame 3D poses: ``xyz`` in calibration units, with per-point quality.

    ``score`` is the mean likelihood of the views used, ``reprojection_error`` the mean
    reprojection error in pixels, ``n_cameras`` how many views were used (0: missing).
    """

    bodyparts: tuple[str, ...]
    xyz: np.ndarray  # (frames, [individuals,] bodyparts, 3) float32
    score: np.ndarray  # (frames, [individuals,] bodyparts) float32
    reprojection_error: np.ndarray  # (frames, [individuals,] bodyparts) float32
    n_cameras: np.ndarray  # (frames, [individuals,] bodyparts) int16
    individuals: tuple[str, ...] = ()  # several animals: an individual axis after frames

    def __post_init__(self) -> None:
        object.__setattr__(self, "bodyparts", tuple(self.bodyparts))
        object.__setattr__(self, "individuals", tuple(self.individuals))
        _check_names(self.bodyparts, "3D poses")
        if len(set(self.individuals)) != len(self.individuals):
            raise DataError(f"3D poses: duplicate individual names in {list(self.individuals)}")
        xyz = np.asarray(self.xyz, dtype=np.float32)
        rows = (len(self.individuals),) if self.individuals else ()
        shape = (xyz.shape[0], *rows, len(self.bodyparts))
        if xyz.shape != (*shape, 3):
            raise DataError(f"3D poses must be {(*shape, 3)}, got {xyz.shape}")
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
    NaN where a point is not labeled, or with `individuals` (multi-animal tables)
    ``(images, individuals, bodyparts, 2)``. ``index_style`` remembers how the table
    stored the image paths (``"flat"`` strings, or DeepLabCut 3's ``"tuple"`` of three
    levels) so a table is written back the way it was read.
    """

    scorer: str
    bodyparts: tuple[str, ...]
    images: list[str]
    xy: np.ndarray
    index_style: str = "flat"
    likelihood: np.ndarray | None = field(default=None)  # machine labels only
    individuals: tuple[str, ...] = ()
    unique_bodyparts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.bodyparts = tuple(self.bodyparts)
        self.individuals = tuple(self.individuals)
        self.unique_bodyparts = tuple(self.unique_bodyparts)
        _check_names(self.bodyparts, f"labels of {self.scorer}")
        if self.individuals or self.unique_bodyparts:
            _check_individuals(self.individuals, self.bodyparts, self.unique_bodyparts,
                               f"labels of {self.scorer}")
        self.xy = np.asarray(self.xy, dtype=np.float64)
        shape = (len(self.images), *self.layout, 2)
        if self.xy.shape != shape:
            raise DataError(f"labels must be {shape}, got {self.xy.shape}")
        if self.index_style not in ("flat", "tuple"):
            raise DataError(f"index_style must be 'flat' or 'tuple', got {self.index_style!r}")
        if self.likelihood is not None:
            self.likelihood = np.asarray(self.likelihood, dtype=np.float64)
            if self.likelihood.shape != self.xy.shape[:-1]:
                raise DataError(
                    f"likelihood must be {self.xy.shape[:-1]}, got {self.likelihood.shape}"
                )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def multi(self) -> bool:
        """True for multi-animal labels (an individual axis)."""
        return bool(self.individuals)

    @property
    def layout(self) -> tuple[int, ...]:
        """The point axes after the image axis: ``(bodyparts,)`` or ``(individuals,
        bodyparts)``."""
        k = len(self.bodyparts)
        return (len(self.individuals), k) if self.individuals else (k,)

    def labeled_mask(self) -> np.ndarray:
        """``(images, *layout)`` True where both coordinates are finite."""
        return np.isfinite(self.xy).all(axis=-1)

    def with_bodyparts(self, bodyparts: tuple[str, ...] | list[str],
                       individuals: tuple[str, ...] | list[str] | None = None,
                       unique_bodyparts: tuple[str, ...] | list[str] | None = None
                       ) -> LabeledFrames:
        """Reorder to `bodyparts` (and, for multi-animal labels, to `individuals` with
        `unique_bodyparts`; None keeps the table's); parts or individuals the table lacks
        come back empty (NaN).

        Parts or individuals in the table but not asked for are an error: dropping labels
        silently would lose a user's work.
        """
        bodyparts = tuple(bodyparts)
        individuals = self.individuals if individuals is None else tuple(individuals)
        unique = self.unique_bodyparts if unique_bodyparts is None else tuple(unique_bodyparts)
        extra = [b for b in self.bodyparts if b not in bodyparts]
        if extra:
            raise DataError(
                f"labels of scorer {self.scorer} have bodyparts {extra} that the config does "
                f"not list (config: {list(bodyparts)})"
            )
        if bool(individuals) != self.multi:
            kind = {True: "multi", False: "single"}
            raise DataError(f"labels of scorer {self.scorer} are {kind[self.multi]}-animal but "
                            f"the config is {kind[bool(individuals)]}-animal")
        extra = [i for i in self.individuals if i not in individuals]
        if extra:
            raise DataError(f"labels of scorer {self.scorer} have individuals {extra} that the "
                            f"config does not list (config: {list(individuals)})")
        src_j = [self.bodyparts.index(b) if b in self.bodyparts else -1 for b in bodyparts]
        src_i = [self.individuals.index(n) if n in self.individuals else -1 for n in individuals]
        shape = (len(self.images), *((len(individuals),) if individuals else ()), len(bodyparts))
        xy = np.full((*shape, 2), np.nan)
        lik = None if self.likelihood is None else np.full(shape, np.nan)
        # a single-animal table is moved as one "individual" spanning the whole array
        src = self.xy if individuals else self.xy[:, None]
        dst = xy if individuals else xy[:, None]
        src_l = dst_l = None
        if lik is not None:
            src_l = self.likelihood if individuals else self.likelihood[:, None]
            dst_l = lik if individuals else lik[:, None]
        for i, si in enumerate(src_i if individuals else [0]):
            for j, sj in enumerate(src_j):
                if si >= 0 and sj >= 0:
                    dst[:, i, j] = src[:, si, sj]
                    if dst_l is not None:
                        dst_l[:, i, j] = src_l[:, si, sj]
        return LabeledFrames(self.scorer, bodyparts, list(self.images), xy, self.index_style, lik,
                             individuals, unique)


def outside_image(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(..., K)`` True where a labeled point ``xy (..., K, 2)`` lies off a `width` x `height`
    image (pixel centers at integers, so the image spans -0.5 .. width - 0.5)."""
    x, y = xy[..., 0], xy[..., 1]
    with np.errstate(invalid="ignore"):
        return (x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)
