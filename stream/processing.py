"""Closed loop: a user's processor class, loaded from a Python file, run on every 2D pose
or 3D instant, its outputs stamped and handed to the writers of :mod:`stream.outputs`.

A processor is any class with ``process(pose) -> dict | list[dict] | None`` (and
optionally ``close()``); `pose` is a :class:`stream.messages.Pose2DMessage` (``camera``,
``index``, ``t_capture``, ``bodyparts``, ``poses (K, 3)`` x, y, likelihood) or a
:class:`stream.messages.Pose3DMessage` (``group``, ``xyz (K, 3)``, ``score``, ...). The rig file
names it by file path and class name, with keyword arguments for its constructor;
``examples/roi_processor.py`` is one. Trigger scoring against ground truth
(:func:`match_triggers`) lives here too, for tests and the virtual experiment.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import ConfigError
from stream.outputs import Value, check_output


def load_processor(path: str | Path, class_name: str, params: dict | None = None):
    """An instance of class `class_name` of the Python file `path`, built with `params`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such processor file")
    module_name = f"poseloop_processor_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling-free introspection need it
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error, named with its file
        raise ConfigError(f"{path}: cannot import it ({type(exc).__name__}: {exc})") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not callable(getattr(cls, "process", None)):
        raise ConfigError(f"{path}: no class {class_name!r} with a process(pose) method")
    try:
        return cls(**(params or {}))
    except Exception as exc:
        raise ConfigError(
            f"{path}: {class_name}(**{params}) failed ({type(exc).__name__}: {exc})"
        ) from exc


def outputs_of(result: object, where: str) -> list[dict[str, Value]]:
    """A processor's return value as a list of checked outputs (None: no output)."""
    if result is None:
        return []
    items = result if isinstance(result, list) else [result]
    return [check_output(item, where) for item in items]


@dataclass
class TriggerScore:
    """Triggers (rising edges) matched one to one with true entries into a region."""

    triggers: int
    entries: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.triggers if self.triggers else float("nan")

    @property
    def recall(self) -> float:
        return self.matched / self.entries if self.entries else float("nan")


def region_entries(points: np.ndarray, region: Sequence[float], margin: float = 0.0) -> np.ndarray:
    """Frames where a track ``(N, 2)`` enters the rectangle ``[x0, y0, x1, y1]``, counting
    an entry only after the track left the rectangle grown by `margin` (a real crossing,
    not a point grazing the border); NaN frames change nothing."""
    x0, y0, x1, y1 = region
    out, inside = [], False
    for i, (x, y) in enumerate(np.asarray(points, np.float64)):
        if np.isnan(x) or np.isnan(y):
            continue
        grow = margin if inside else 0.0
        now = bool(x0 - grow <= x <= x1 + grow and y0 - grow <= y <= y1 + grow)
        if now and not inside:
            out.append(i)
        inside = now
    return np.asarray(out, np.int64)


def match_triggers(trigger_frames: Sequence[int], entry_frames: Sequence[int],
                   tolerance: int = 2) -> TriggerScore:
    """Pair each true entry with the nearest unused trigger at most `tolerance` frames away."""
    free = sorted(int(t) for t in trigger_frames)
    matched = 0
    for e in sorted(int(x) for x in entry_frames):
        near = [t for t in free if abs(t - e) <= tolerance]
        if near:
            free.remove(min(near, key=lambda t: abs(t - e)))
            matched += 1
    return TriggerScore(len(trigger_frames), len(entry_frames), matched)
