"""Runs DeepLabCut's own functions for the interop tests, inside DeepLabCut's environment
(``.venv-dlc/bin/python tests/interop/dlc_driver.py STEPS.json RESULT.json``).

STEPS.json is a list of steps, each ``{"op": ..., ...}``; RESULT.json receives one result
per step, with the seconds it took. Ops:

- ``call``: ``deeplabcut.<fn>(*args, **kwargs)``; the result is its return value if
  JSON can hold it, else its repr.
- ``read_hdf``: ``pandas.read_hdf(path)`` with DeepLabCut's pandas -> the table.
- ``load_analyzed_data``: ``deeplabcut.utils.auxiliaryfunctions.load_analyzed_data`` ->
  the table and the file it found (``track_method``: ``"ellipse"`` finds ``_el.h5``).
- ``scorer``: DeepLabCut's scorer name of a shuffle (``get_scorer_name``).
- ``tracklets``: writes, at ``path``, the tracklet pickle that DeepLabCut's
  ``convert_detections2tracklets`` leaves for ``stitch_tracklets`` (its ``header`` of
  scorer/bodyparts/coords columns, then per tracklet id, and ``"single"`` for the unique
  bodyparts, ``frameNNN`` -> flat x, y, likelihood), from ``tracklets``:
  ``{id: {frame: [x, y, likelihood, ...]}}`` (JSON null for NaN).

No poseloop code runs here: this file imports DeepLabCut, its pandas and the standard
library only. Nothing here goes online: DeepLabCut's ImageNet backbone weights come from
the Hugging Face hub, so its backbones start from random weights instead (accuracy does
not matter to these tests, only what DeepLabCut reads and writes).
"""

from __future__ import annotations

import json
import math
import sys
import time
import traceback


def _offline_backbones() -> None:
    import timm

    create = timm.create_model

    def create_untrained(*args, **kwargs):
        kwargs["pretrained"] = False
        return create(*args, **kwargs)

    timm.create_model = create_untrained


def _plain(value):
    """A JSON value: NaN -> None, tuples -> lists, other objects -> repr."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def _table(df) -> dict:
    return {
        "pandas": __import__("pandas").__version__,
        "column_names": list(df.columns.names),
        "columns": [list(map(str, c)) for c in df.columns],
        "index": [list(map(str, i)) if isinstance(i, tuple) else str(i) for i in df.index],
        "values": _plain(df.to_numpy(dtype=float).tolist()),
    }


def run(step: dict):
    import deeplabcut
    import pandas as pd
    from deeplabcut.utils import auxiliaryfunctions

    op = step["op"]
    if op == "call":
        fn = deeplabcut
        for name in step["fn"].split("."):
            fn = getattr(fn, name)
        return _plain(fn(*step.get("args", []), **step.get("kwargs", {})))
    if op == "read_hdf":
        return _table(pd.read_hdf(step["path"]))
    if op == "load_analyzed_data":
        df, path, scorer, _ = auxiliaryfunctions.load_analyzed_data(
            step["folder"], step["video"], step["scorer"], step.get("filtered", False),
            step.get("track_method", ""))
        return {"path": str(path), "scorer": scorer, **_table(df)}
    if op == "scorer":
        cfg = auxiliaryfunctions.read_config(step["config"])
        fraction = cfg["TrainingFraction"][step.get("trainingsetindex", 0)]
        return auxiliaryfunctions.get_scorer_name(cfg, step["shuffle"], fraction)[0]
    if op == "tracklets":
        return _write_tracklets(step)
    raise ValueError(f"unknown op {op!r}")


def _write_tracklets(step: dict) -> str:
    import pickle

    import numpy as np
    import pandas as pd

    header = pd.MultiIndex.from_product([[step["scorer"]], step["bodyparts"],
                                         ["x", "y", "likelihood"]],
                                        names=["scorer", "bodyparts", "coords"])
    tracklets: dict = {"header": header}
    for key, frames in step["tracklets"].items():
        name = key if key == "single" else int(key)
        tracklets[name] = {f"frame{int(i):04d}": np.array(v, dtype=float)
                           for i, v in frames.items()}
    with open(step["path"], "wb") as f:  # DeepLabCut's own format, read by DeepLabCut
        pickle.dump(tracklets, f)
    return step["path"]


def main() -> int:
    steps_path, result_path = sys.argv[1], sys.argv[2]
    with open(steps_path) as f:
        steps = json.load(f)
    _offline_backbones()
    results = []
    for i, step in enumerate(steps):
        start = time.perf_counter()
        try:
            results.append({"ok": True, "value": run(step)})
        except Exception as exc:  # reported per step, so one failure names its step
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}",
                            "traceback": traceback.format_exc()})
            print(f"step {i} {step.get('op')} {step.get('fn', '')} failed", file=sys.stderr)
        results[-1]["seconds"] = round(time.perf_counter() - start, 2)
        with open(result_path, "w") as f:
            json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
