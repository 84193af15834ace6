"""Loads a pose file with movement, in movement's own environment
(``.venv-movement/bin/python tests/interop/movement_driver.py SOFTWARE PATH FPS OUT.json``),
and writes what movement read: keypoint names, positions ``(time, keypoints, 2)`` and
confidences ``(time, keypoints)`` of the first individual, NaN as null. Imports movement
and the standard library only."""

from __future__ import annotations

import json
import math
import sys


def _plain(values):
    if isinstance(values, list):
        return [_plain(v) for v in values]
    return None if math.isnan(values) else values


def main() -> int:
    from movement.io import load_poses

    software, path, fps, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    ds = load_poses.from_file(path, source_software=software, fps=fps)
    first = {"individuals": 0}
    position = ds.position.isel(first).transpose("time", "keypoints", "space")
    confidence = ds.confidence.isel(first).transpose("time", "keypoints")
    result = {
        "movement": __import__("movement").__version__,
        "keypoints": [str(k) for k in ds.coords["keypoints"].values],
        "position": _plain(position.values.tolist()),
        "confidence": _plain(confidence.values.tolist()),
        "fps": ds.attrs.get("fps"),
    }
    with open(out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
