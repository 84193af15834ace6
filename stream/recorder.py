"""The recorder node: 2D poses in, one HDF5 file per camera out, and the DeepLabCut
analysis table of each camera when its stream ends; 3D poses of a triangulation node
go to their own file and 3D table (:mod:`stream.record3d`).

Recording file ``<folder>/<camera>.rec.h5`` (h5py, SWMR, chunked along frames)::

    poses      (N, K, 3) float32   x, y, likelihood in frame pixels (raw likelihoods)
    index      (N,)      int64     frame index in the video / camera
    t_capture  (N,)      int64     ns, stamped by the source
    t_infer    (N,)      int64     ns, network output ready
    t_record   (N,)      int64     ns, received by the recorder
    attrs: camera, scorer, bodyparts (JSON list), schema

Rows are flushed at least every ``flush_s`` seconds in single-writer/multiple-reader
mode, so another process can read the file while it is written, and a crash of any
node (this one included) leaves it readable up to the last flush.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import h5py
import numpy as np

from stream import messages as m
from stream.h5rows import RowFile
from stream.record3d import Poses3DFile, recording3d_path, to_table3d
from stream.rig import RecorderSpec

log = logging.getLogger(__name__)

SCHEMA = 1
POLL_MS = 50
STOP_GRACE_S = 5.0
TIMES = ("t_capture", "t_infer", "t_record")


def recording_path(folder: str | Path, camera: str) -> Path:
    return Path(folder) / f"{camera}.rec.h5"



class CameraFile(RowFile):
    """One camera's 2D recording."""

    per_point = {"poses": ((3,), np.float32)}
    per_row = ("index", *TIMES)

    def __init__(self, path: Path, camera: str, scorer: str, bodyparts: tuple[str, ...]):
        super().__init__(path, camera, bodyparts, {"camera": camera, "scorer": scorer,
                                                   "schema": SCHEMA})
        self.scorer = scorer

    def columns(self, msgs: list[m.Poses2D], t_record: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "poses": np.stack([p.poses for p in msgs]),
            "index": np.array([p.index for p in msgs], np.int64),
            "t_capture": np.array([p.t_capture for p in msgs], np.int64),
            "t_infer": np.array([p.t_infer for p in msgs], np.int64),
            "t_record": t_record,
        }


def read_recording(path: str | Path) -> dict:
    """A recording's datasets as numpy arrays plus ``camera``, ``scorer``, ``bodyparts``
    (readable while it is being written, and after a crash up to the last flush)."""
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        out = {name: f[name][()] for name in ("poses", "index", *TIMES)}
        out.update(
            camera=str(f.attrs["camera"]),
            scorer=str(f.attrs["scorer"]),
            bodyparts=tuple(json.loads(f.attrs["bodyparts"])),
        )
    n = min(len(v) for k, v in out.items() if k in ("poses", "index", *TIMES))
    for name in ("poses", "index", *TIMES):  # a crash between two datasets' resizes
        out[name] = out[name][:n]
    return out


def to_table(recording: Path, video: str, folder: str, csv: bool, last_index: int = -1) -> Path:
    """Write the DeepLabCut analysis table of a recording: one row per frame index up to
    `last_index` (or the last one recorded), NaN where a frame has no pose (skipped in
    live mode)."""
    from train.data.analysis_meta import write_analysis_meta
    from train.data.keypoints import Poses2D
    from train.data.tables import analysis_path, write_analysis
    from train.data.video import VideoReader

    rec = read_recording(recording)
    n = max(int(rec["index"].max()) + 1 if len(rec["index"]) else 0, last_index + 1)
    data = np.full((n, len(rec["bodyparts"]), 3), np.nan, np.float32)
    data[rec["index"]] = rec["poses"]
    path = analysis_path(video, rec["scorer"], folder)
    table = write_analysis(Poses2D(rec["bodyparts"], data), rec["scorer"], path, csv=csv)
    if Path(video).is_file():  # a video source, not a camera or an image folder
        with VideoReader(video) as reader:
            fps, size = reader.fps, reader.size
        times = None
        if len(rec["t_capture"]):
            times = (rec["t_capture"].min() / 1e9, rec["t_record"].max() / 1e9)
        # DeepLabCut's create_labeled_video reads the frame size from this side file
        write_analysis_meta(table, rec["scorer"], rec["bodyparts"], n, fps, size, times=times)
    return table


class Recorder:
    def __init__(self, spec: RecorderSpec, node):
        self.spec = spec
        self.node = node
        self.files: dict[str, CameraFile | Poses3DFile] = {}
        self.done: set[str] = set()
        self._last_flush = time.monotonic()

    def pose(self, msg: m.Poses2D | m.Poses3D) -> None:
        t = m.now_ns()
        stream = msg.camera if isinstance(msg, m.Poses2D) else msg.group
        f = self.files.get(stream)
        if f is None:
            if stream not in self.spec.cameras or stream in self.done:
                log.warning("%s: poses of unexpected stream %r dropped", self.spec.name, stream)
                return
            if isinstance(msg, m.Poses2D):
                path = recording_path(self.spec.folder, stream)
                f = CameraFile(path, stream, msg.scorer, msg.bodyparts)
            else:
                f = Poses3DFile(recording3d_path(self.spec.folder, stream), stream, msg.bodyparts)
            self.files[stream] = f
        f.add(msg, t)
        self.node.stats.frame(stream, msg.t_capture, t)

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.spec.flush_s:
            for f in self.files.values():
                f.flush()
            self._last_flush = time.monotonic()

    def end(self, camera: str, last_seq: int) -> None:
        """Close `camera`'s file, write its table, and tell the supervisor."""
        self.done.add(camera)
        f = self.files.pop(camera, None)
        if f is None:
            log.warning("%s: %s ended without any pose", self.spec.name, camera)
            self.node.publish(m.End(camera, last_seq, 0, ""))
            return
        f.close()
        table = ""
        if self.spec.tables and isinstance(f, Poses3DFile):
            table = str(to_table3d(f.path, self.spec.folder, self.spec.csv))
        elif self.spec.tables and camera in self.spec.table_paths:
            video, folder = self.spec.table_paths[camera]
            # sources number frames from 0 with seq == index, so the last seq is the last index
            table = str(to_table(f.path, video, folder, self.spec.csv, last_seq))
        self.node.publish(m.End(camera, last_seq, f.rows, table))

    def close(self) -> None:
        for camera in list(self.files):
            self.end(camera, -1)


def run(spec: RecorderSpec, node) -> None:
    inp = node.input(spec.mode, spec.input_endpoints)
    rec = Recorder(spec, node)
    node.ready()
    try:
        while len(rec.done) < len(spec.cameras):
            if node.grace_over(STOP_GRACE_S):
                log.warning("%s: stopped before every camera ended", spec.name)
                break
            for msg in node.drain(inp, POLL_MS):
                if isinstance(msg, (m.Poses2D, m.Poses3D)):
                    rec.pose(msg)
                elif isinstance(msg, m.End):
                    rec.end(msg.camera, msg.last_seq)
            rec.maybe_flush()
            node.stats.queue = sum(f.pending for f in rec.files.values())
            node.stats.tick()
    finally:
        rec.close()
