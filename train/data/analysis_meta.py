"""DeepLabCut's side file of an analysis table, ``<video stem><scorer>_meta.pickle``.

DeepLabCut's ``create_labeled_video`` (and other functions that take the frame size
or crop of an analysis) read it beside ``<video stem><scorer>.h5``. It is a pickle of a
dict ``{"data": {...}}``; poseloop writes it from plain values only (str, int, float,
bool, lists, tuples and dicts of them: every value below is cast to one) and never
reads one.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from calib.fileio import atomic_path


def meta_path(table: str | Path) -> Path:
    """The side file of the analysis table `table` (``...<scorer>.h5``)."""
    table = Path(table)
    return table.with_name(f"{table.stem}_meta.pickle")


def write_analysis_meta(
    table: str | Path,
    scorer: str,
    bodyparts: tuple[str, ...] | list[str],
    n_frames: int,
    fps: float,
    size: tuple[int, int],
    crop: tuple[int, int, int, int] | None = None,
    times: tuple[float, float] | None = None,
) -> Path:
    """Write the side file of analysis table `table`; `size` is ``(width, height)``,
    `crop` ``(x1, x2, y1, y2)`` if the analysis ran on a crop, `times` the analysis's
    start and stop (seconds since the epoch)."""
    w, h = (int(v) for v in size)
    start, stop = times if times is not None else (0.0, 0.0)
    data = {
        "start": float(start),
        "stop": float(stop),
        "run_duration": float(stop - start),
        "Scorer": str(scorer),
        "fps": float(fps),
        "frame_dimensions": (w, h),
        "nframes": int(n_frames),
        "cropping": crop is not None,
        "cropping_parameters": [int(v) for v in (crop or (0, w, 0, h))],
        "individuals": ["animal"],
        "bodyparts": [str(b) for b in bodyparts],
        "unique_bodyparts": [],
    }
    path = meta_path(table)
    with atomic_path(path) as tmp:
        tmp.write_bytes(pickle.dumps({"data": data}, protocol=4))
    return path
