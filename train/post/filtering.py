"""Smoothing of 2D pose trajectories and filling of short gaps, as DeepLabCut's
``filterpredictions``: median or Savitzky-Golay filters, cubic-spline gap filling.

Points that are NaN or under ``pcutoff`` are gaps. Each bodypart coordinate is
smoothed over its runs of trusted frames (never across a gap), then gaps of at most
``max_gap`` frames with trusted frames on both sides are filled by a cubic spline
through the smoothed frames around them; longer gaps and gaps at either end stay NaN.
Likelihoods are kept as they were, so a filled point still says how sure the network
was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import ConfigError
from train.data.keypoints import Poses2D

METHODS = ("median", "savgol")


@dataclass(frozen=True)
class FilterConfig:
    """``window`` (odd, frames) of the filter; ``polyorder`` of Savitzky-Golay;
    ``max_gap`` the longest run of untrusted frames (frames) that is filled."""

    method: str = "median"
    window: int = 5
    max_gap: int = 10
    pcutoff: float = 0.6
    polyorder: int = 3

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"filter method must be one of {METHODS}, got {self.method!r}")
        if not isinstance(self.window, int) or self.window < 1 or self.window % 2 == 0:
            raise ConfigError(f"filter window must be an odd number of frames >= 1, "
                              f"got {self.window!r}")
        if not isinstance(self.max_gap, int) or self.max_gap < 0:
            raise ConfigError(f"filter max_gap must be an integer >= 0, got {self.max_gap!r}")
        if not 0.0 <= self.pcutoff <= 1.0:
            raise ConfigError(f"filter pcutoff must be in [0, 1], got {self.pcutoff!r}")
        if self.method == "savgol" and not 0 <= self.polyorder < self.window:
            raise ConfigError(f"filter polyorder must be in [0, window={self.window}), "
                              f"got {self.polyorder!r}")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in a 1D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _smooth(values: np.ndarray, config: FilterConfig) -> np.ndarray:
    """Filter one run of trusted frames; a run shorter than the window gets a smaller one."""
    window = min(config.window, len(values) - (1 - len(values) % 2))
    if window < 3:
        return values
    if config.method == "median":
        from scipy.ndimage import median_filter

        return median_filter(values, size=window, mode="nearest")
    from scipy.signal import savgol_filter

    if config.polyorder >= window:
        return values
    return savgol_filter(values, window, config.polyorder, mode="interp")


def _fill(t: np.ndarray, x: np.ndarray, trusted: np.ndarray, start: int, stop: int,
          context: int) -> np.ndarray:
    """Values for the gap ``[start, stop)`` from a cubic spline through up to `context`
    trusted frames on each side (linear when there are too few)."""
    from scipy.interpolate import CubicSpline

    before = np.flatnonzero(trusted[max(0, start - context):start]) + max(0, start - context)
    after = np.flatnonzero(trusted[stop:stop + context]) + stop
    knots = np.concatenate([before, after])
    if len(knots) < 4:
        return np.interp(t[start:stop], t[knots], x[knots])
    return CubicSpline(t[knots], x[knots])(t[start:stop])


def filter_track(x: np.ndarray, trusted: np.ndarray, config: FilterConfig) -> np.ndarray:
    """Smooth and gap-fill one coordinate track ``(frames,)``; untrusted frames are gaps.

    Returns a float64 ``(frames,)`` track, NaN where a gap was not filled.
    """
    out = np.full(len(x), np.nan)
    for start, stop in _runs(trusted):
        out[start:stop] = _smooth(np.asarray(x[start:stop], np.float64), config)
    if config.max_gap == 0:
        return out
    t = np.arange(len(x), dtype=np.float64)
    context = max(config.window, 4)
    for start, stop in _runs(~trusted):
        if start == 0 or stop == len(x) or stop - start > config.max_gap:
            continue
        out[start:stop] = _fill(t, out, trusted, start, stop, context)
    return out


def filter_poses(poses: Poses2D, config: FilterConfig | None = None) -> Poses2D:
    """Smooth and gap-fill every bodypart of `poses` (of every individual: filter tracked
    tables, whose rows follow one animal); likelihoods unchanged."""
    config = config or FilterConfig()
    if poses.multi:
        each = [filter_poses(Poses2D(poses.bodyparts, poses.data[:, i]), config).data
                for i in range(len(poses.individuals))]
        return Poses2D(poses.bodyparts, np.stack(each, axis=1), poses.individuals,
                       poses.unique_bodyparts)
    data = poses.data.astype(np.float64)
    trusted = np.isfinite(data[..., :2]).all(axis=2) & (data[..., 2] >= config.pcutoff)
    out = data.copy()
    for k in range(len(poses.bodyparts)):
        for c in (0, 1):
            out[:, k, c] = filter_track(data[:, k, c], trusted[:, k], config)
    return Poses2D(poses.bodyparts, out)


def filtered_path(table: str | Path) -> Path:
    """``<video><scorer>_filtered.h5`` beside ``<video><scorer>.h5``."""
    table = Path(table)
    return table.with_name(f"{table.stem}_filtered.h5")


def plot_filtered(before: Poses2D, after: Poses2D, path: str | Path, pcutoff: float) -> Path:
    """A PNG with one panel per bodypart (several animals: per individual and bodypart): x
    and y over frames, raw (dots, hollow under `pcutoff`) and filtered (lines)."""
    if before.multi:
        names = [f"{i} {b}" for i in before.individuals for b in before.bodyparts]
        before, after = (Poses2D(names, p.data.reshape(p.n_frames, -1, 3))
                         for p in (before, after))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calib.fileio import atomic_path

    path = Path(path)
    n = len(before.bodyparts)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.6 * n + 0.6), sharex=True, squeeze=False)
    frames = np.arange(before.n_frames)
    low = ~(before.likelihood >= pcutoff)
    for k, (ax, name) in enumerate(zip(axes[:, 0], before.bodyparts, strict=True)):
        for c, color in ((0, "tab:blue"), (1, "tab:orange")):
            raw = before.xy[:, k, c]
            ax.plot(frames[~low[:, k]], raw[~low[:, k]], ".", ms=2, color=color, alpha=0.4)
            ax.plot(frames[low[:, k]], raw[low[:, k]], "o", ms=3, mfc="none", color=color,
                    alpha=0.6)
            ax.plot(frames, after.xy[:, k, c], "-", lw=1, color=color,
                    label=f"{'xy'[c]} filtered")
        ax.set_ylabel(f"{name}\n(px)")
    axes[0, 0].legend(loc="upper right", fontsize="small", ncol=2)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return path


def filter_tables(tables: list[str | Path], method: str = "median", window: int = 5,
                  max_gap: int = 10, pcutoff: float = 0.6, polyorder: int = 3,
                  csv: bool = False, plot: bool = False) -> list[Path]:
    """``poseloop filter``: write ``<stem>_filtered.h5`` (and .csv with `csv`, and a
    ``<stem>_filtered.png`` of the tracks with `plot`) for each analysis table; every
    table is read before anything is written."""
    from train.data.tables import read_analysis, write_analysis

    config = FilterConfig(method, window, max_gap, pcutoff, polyorder)
    loaded = [(Path(t), *read_analysis(t)) for t in tables]
    written = []
    for path, poses, scorer in loaded:
        out = filtered_path(path)
        filtered = filter_poses(poses, config)
        written.append(write_analysis(filtered, scorer, out, csv=csv))
        if plot:
            plot_filtered(poses, filtered, out.with_suffix(".png"), pcutoff)
    return written
