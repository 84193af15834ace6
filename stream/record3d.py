"""Recording of 3D poses: one HDF5 file per triangulation stream, converted on close to
the 3D DeepLabCut-style table.

Recording file ``<folder>/<stream>.rec3d.h5`` (h5py, SWMR, chunked along rows)::

    xyz        (N, K, 3) float32   calibration units, NaN where not triangulated
    score      (N, K)    float32   mean likelihood of the views used
    error      (N, K)    float32   mean reprojection error, px
    ncams      (N, K)    int32     cameras used
    index      (N,)      int64     frame index of the instant
    seq        (N,)      int64     group sequence number
    t_capture  (N,)      int64     ns, earliest capture stamp of the instant
    t_record   (N,)      int64     ns, received by the recorder
    attrs: stream, bodyparts (JSON list), schema

The table ``<folder>/<stream>_3d.h5`` (and ``.csv`` on request) has one row per frame
index up to the last one (NaN rows for instants never triangulated), columns
``scorer/bodyparts/coords`` with coords ``x, y, z, score, error, ncams``; its scorer is
the stream name.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from stream import messages as m
from stream.h5rows import RowFile

SCHEMA = 1
PER_POINT = {"score": np.float32, "error": np.float32, "ncams": np.int32}
PER_ROW = ("index", "seq", "t_capture", "t_record")


def recording3d_path(folder: str | Path, stream: str) -> Path:
    return Path(folder) / f"{stream}.rec3d.h5"


def table3d_path(folder: str | Path, stream: str) -> Path:
    return Path(folder) / f"{stream}_3d.h5"


class Poses3DFile(RowFile):
    """One 3D stream's recording (the recorder keys its files by stream name)."""

    per_point = {"xyz": ((3,), np.float32),
                 **{name: ((), dtype) for name, dtype in PER_POINT.items()}}
    per_row = PER_ROW

    def __init__(self, path: Path, stream: str, bodyparts: tuple[str, ...]):
        super().__init__(path, stream, bodyparts, {"stream": stream, "schema": SCHEMA})

    def columns(self, msgs: list[m.Poses3D], t_record: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "xyz": np.stack([p.xyz for p in msgs]),
            "score": np.stack([p.score for p in msgs]),
            "error": np.stack([p.error for p in msgs]),
            "ncams": np.stack([p.ncams for p in msgs]),
            "index": np.array([p.index for p in msgs], np.int64),
            "seq": np.array([p.seq for p in msgs], np.int64),
            "t_capture": np.array([p.t_capture for p in msgs], np.int64),
            "t_record": t_record,
        }


def read_recording3d(path: str | Path) -> dict:
    """A 3D recording's datasets plus ``stream`` and ``bodyparts`` (readable while it is
    written, and after a crash up to the last flush)."""
    names = ("xyz", *PER_POINT, *PER_ROW)
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        out = {name: f[name][()] for name in names}
        out.update(stream=str(f.attrs["stream"]), bodyparts=tuple(json.loads(f.attrs["bodyparts"])))
    n = min(len(out[name]) for name in names)
    for name in names:  # a crash between two datasets' resizes
        out[name] = out[name][:n]
    return out


def to_table3d(recording: Path, folder: str | Path, csv: bool) -> Path:
    """Write the 3D table of a recording: one row per frame index (NaN rows for instants
    with no 3D pose), scorer = the stream name."""
    from train.data.keypoints import Poses3D
    from train.data.tables import write_poses3d

    rec = read_recording3d(recording)
    n = int(rec["index"].max()) + 1 if len(rec["index"]) else 0
    k = len(rec["bodyparts"])
    xyz = np.full((n, k, 3), np.nan, np.float32)
    score = np.full((n, k), np.nan, np.float32)
    error = np.full((n, k), np.nan, np.float32)
    ncams = np.zeros((n, k), np.int16)
    rows = rec["index"]
    xyz[rows], score[rows], error[rows], ncams[rows] = (
        rec["xyz"], rec["score"], rec["error"], rec["ncams"]
    )
    poses = Poses3D(rec["bodyparts"], xyz, score, error, ncams)
    return write_poses3d(poses, rec["stream"], table3d_path(folder, rec["stream"]), csv=csv)
