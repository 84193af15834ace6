"""Recording files of the runtime: 2D poses per camera and 3D poses per triangulation
stream, one reader for both, and their DeepLabCut tables.

2D recording ``<folder>/<camera>.rec.h5``::

    poses      (N, K, 3) float32   x, y, likelihood in frame pixels (raw likelihoods);
                                   (N, I, K, 3) from a multi-animal model
    index      (N,)      int64     frame index in the video / camera
    t_capture  (N,)      int64     ns, stamped by the source
    t_infer    (N,)      int64     ns, network output ready
    t_record   (N,)      int64     ns, received by the recorder
    attrs: camera, scorer, bodyparts (JSON list), schema[, individuals (JSON list)]

3D recording ``<folder>/<stream>.rec3d.h5``::

    xyz                 (N, K, 3) float32   calibration units, NaN where not triangulated
    score               (N, K)    float32   mean likelihood of the views used
    reprojection_error  (N, K)    float32   mean reprojection error, px
    n_cameras           (N, K)    int16     cameras used
    index               (N,)      int64     frame index of the instant
    seq                 (N,)      int64     group sequence number
    t_capture           (N,)      int64     ns, earliest capture stamp of the instant
    t_record            (N,)      int64     ns, received by the recorder
    attrs: stream, bodyparts (JSON list), schema (2; schema 1 named the quality
    datasets error and ncams)

Both are h5py files chunked along rows; rows are buffered in memory and appended and
flushed together, in single-writer/multiple-reader mode, so another process can read a
file while it is written and a crash of any node leaves it readable up to the last
flush. On close the recorder turns each into its table (:func:`write_table`): the 2D
analysis table of the camera's video, or the 3D table ``<stream>_3d.h5`` whose scorer
is the stream name.
"""

from __future__ import annotations

import abc
import json
import os
import re
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np

from calib.errors import DataError, RecordingError
from stream import messages as m
from stream.bus import MAX_LEAP
from stream.h5clear import clear_open_flags, open_flags
from stream.node import pid_alive

CHUNK = 256


def recording_path(folder: str | Path, camera: str) -> Path:
    return Path(folder) / f"{camera}.rec.h5"


def recording3d_path(folder: str | Path, stream: str) -> Path:
    return Path(folder) / f"{stream}.rec3d.h5"


def _cause(exc: Exception) -> str:
    """The operating system's words in an HDF5 error report, else its first line."""
    found = re.search(r"error message = '([^']*)'", str(exc))
    return found.group(1) if found else str(exc).split("\n", 1)[0][:200]


class RecordingFile(abc.ABC):
    """One stream's recording, open for writing. A subclass names its datasets
    (``per_point``: ``(rows, K, ...)`` arrays, ``per_row``: int64 scalars) and its text
    attributes, and turns buffered messages into columns."""

    per_point: ClassVar[dict[str, tuple[tuple[int, ...], type]]] = {}
    per_row: ClassVar[tuple[str, ...]] = ()
    text_attrs: ClassVar[tuple[str, ...]] = ()
    schema: ClassVar[int]

    def __init__(self, path: Path, stream: str, bodyparts: tuple[str, ...], attrs: dict,
                 individuals: tuple[str, ...] = ()):
        self.path = path
        self.stream = stream
        self.bodyparts = bodyparts
        self.individuals = individuals
        self.rows = 0
        self.failed = False  # a write failed: the file is left as the last flush made it
        self._buf: list[tuple[object, int]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        points = (*((len(individuals),) if individuals else ()), len(bodyparts))
        if path.exists():
            raise RecordingError(f"{path}: a recording of an earlier run is there, and "
                                 "recordings are never overwritten (move it, or record into "
                                 "another folder)")
        try:
            self.h5 = h5py.File(path, "x", libver="latest")
        except OSError as exc:
            raise RecordingError(f"{path}: cannot create the recording ({_cause(exc)})") from exc
        # the writer's pid tells a later reader whether the writer is gone (see release)
        self.h5.attrs.update(bodyparts=json.dumps(list(bodyparts)), schema=self.schema,
                             writer_pid=os.getpid(), **attrs)
        if individuals:
            self.h5.attrs["individuals"] = json.dumps(list(individuals))
        for name, (tail, dtype) in self.per_point.items():
            self.h5.create_dataset(name, (0, *points, *tail), dtype,
                                   maxshape=(None, *points, *tail), chunks=(CHUNK, *points, *tail))
        for name in self.per_row:
            self.h5.create_dataset(name, (0,), np.int64, maxshape=(None,), chunks=(CHUNK * 4,))
        self.h5.swmr_mode = True  # from here on readers may open the file while we write

    @classmethod
    def datasets(cls) -> tuple[str, ...]:
        return (*cls.per_point, *cls.per_row)

    def add(self, msg, t_record: int) -> None:
        if msg.bodyparts != self.bodyparts:
            raise ValueError(f"{self.stream}: bodyparts changed mid-stream to {msg.bodyparts}")
        self._buf.append((msg, t_record))

    @property
    def pending(self) -> int:
        """Rows received but not yet written."""
        return len(self._buf)

    @abc.abstractmethod
    def columns(self, msgs: list, t_record: np.ndarray) -> dict[str, np.ndarray]:
        """The rows of `msgs` as one array per dataset."""

    def flush(self) -> None:
        """Append the buffered rows to every dataset and flush, so a reader (or a crash)
        sees every row up to here."""
        if not self._buf:
            return
        msgs = [msg for msg, _ in self._buf]
        t_record = np.array([t for _, t in self._buf], np.int64)
        try:
            for name, values in self.columns(msgs, t_record).items():
                ds = self.h5[name]
                ds.resize(self.rows + len(values), axis=0)
                ds[self.rows:] = values
            self.h5.flush()
        except Exception as exc:  # h5py reports a full disk as OSError or RuntimeError
            self.failed = True
            raise RecordingError(f"{self.path}: cannot write rows {self.rows}-"
                                 f"{self.rows + len(msgs) - 1} ({_cause(exc)}); the recording "
                                 f"keeps its first {self.rows} rows") from exc
        self.rows += len(msgs)
        self._buf.clear()

    def close(self) -> None:
        """Flush and close. A file whose writes failed is left alone: HDF5 cannot close
        it cleanly (the process must end without HDF5's exit handlers, see
        :func:`stream.node.run_node`)."""
        if self.h5.id.valid and not self.failed:
            self.flush()
            self.h5.close()


class Recording2D(RecordingFile):
    """One camera's 2D poses."""

    per_point = {"poses": ((3,), np.float32)}
    per_row = ("index", "t_capture", "t_infer", "t_record")
    text_attrs = ("camera", "scorer")
    schema = 1

    def __init__(self, folder: str | Path, camera: str, scorer: str,
                 bodyparts: tuple[str, ...], individuals: tuple[str, ...] = ()):
        super().__init__(recording_path(folder, camera), camera, bodyparts,
                         {"camera": camera, "scorer": scorer}, individuals)

    def columns(self, msgs: list[m.Pose2DMessage], t_record: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "poses": np.stack([p.poses for p in msgs]),
            "index": np.array([p.index for p in msgs], np.int64),
            "t_capture": np.array([p.t_capture for p in msgs], np.int64),
            "t_infer": np.array([p.t_infer for p in msgs], np.int64),
            "t_record": t_record,
        }


class Recording3D(RecordingFile):
    """One triangulation stream's 3D poses."""

    per_point = {"xyz": ((3,), np.float32), "score": ((), np.float32),
                 "reprojection_error": ((), np.float32), "n_cameras": ((), np.int16)}
    per_row = ("index", "seq", "t_capture", "t_record")
    text_attrs = ("stream",)
    schema = 2

    def __init__(self, folder: str | Path, stream: str, bodyparts: tuple[str, ...],
                 individuals: tuple[str, ...] = ()):
        super().__init__(recording3d_path(folder, stream), stream, bodyparts,
                         {"stream": stream}, individuals)

    def columns(self, msgs: list[m.Pose3DMessage], t_record: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "xyz": np.stack([p.xyz for p in msgs]),
            "score": np.stack([p.score for p in msgs]),
            "reprojection_error": np.stack([p.reprojection_error for p in msgs]),
            "n_cameras": np.stack([p.n_cameras for p in msgs]),
            "index": np.array([p.index for p in msgs], np.int64),
            "seq": np.array([p.seq for p in msgs], np.int64),
            "t_capture": np.array([p.t_capture for p in msgs], np.int64),
            "t_record": t_record,
        }


def release(path: str | Path) -> bool:
    """Clear the "open for writing" flags that a writer killed mid-recording left on
    `path`, so that plain HDF5 tools open it; False when there were none or the writer is
    still running (or unknown)."""
    path = Path(path)
    if not path.is_file() or not open_flags(path):
        return False
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        pid = int(f.attrs.get("writer_pid", 0))
    return bool(pid) and not pid_alive(pid) and clear_open_flags(path)


def recordings_in(folder: str | Path, streams: list[str]) -> list[Path]:
    """The 2D and 3D recordings of `streams` that are in `folder`."""
    paths = [p(folder, s) for s in streams for p in (recording_path, recording3d_path)]
    return [p for p in paths if p.exists()]


def release_folder(folder: str | Path, streams: list[str]) -> list[Path]:
    """:func:`release` the 2D and 3D recordings of `streams` in `folder`; the released."""
    return [p for p in recordings_in(folder, streams) if release(p)]


def read_recording(path: str | Path) -> dict:
    """A 2D or 3D recording's datasets as numpy arrays, plus its text attributes and
    ``bodyparts``; readable while it is being written, and after a crash up to the last
    flush (whose writer's open flags it then clears, see :func:`release`)."""
    release(path)
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        kind = Recording3D if "xyz" in f else Recording2D
        out = {name: f[name][()] for name in kind.datasets()}
        out.update({name: str(f.attrs[name]) for name in kind.text_attrs})
        out["bodyparts"] = tuple(json.loads(f.attrs["bodyparts"]))
        out["individuals"] = tuple(json.loads(f.attrs.get("individuals", "[]")))
    n = min(len(out[name]) for name in kind.datasets())
    for name in kind.datasets():  # a crash between two datasets' resizes
        out[name] = out[name][:n]
    return out


def may_write_table(mode: str, ended: bool, stopping: bool) -> bool:
    """Whether a stream's table may be written, replacing any table already there: only
    when the stream ended (its end notice came through), and in batch mode not while
    stopping, since a stop cuts the video short. A stream cut short keeps its recording;
    a table of an earlier run stays as it was. The one rule for every table writer."""
    return ended and (mode == "live" or not stopping)


def _by_frame(index: np.ndarray, values: np.ndarray, n: int, fill: float) -> np.ndarray:
    """`n` rows, row ``index[i]`` holding ``values[i]`` and `fill` where nothing came."""
    out = np.full((n, *values.shape[1:]), fill, values.dtype)
    out[index] = values
    return out


def poses_by_frame(rec: dict, n: int):
    """The 2D poses of recording `rec` (from :func:`read_recording`) as `n` rows, one per
    frame index (:class:`Poses2D`), NaN where a frame has no pose: it did not decode, was
    skipped live, or came after the last flush of a recorder that was killed. DataError
    if an index repeats or lies beyond `n`."""
    from train.data.keypoints import Poses2D

    index = rec["index"]
    if len(index) and (index.max() >= n or len(np.unique(index)) != len(index)):
        raise DataError(f"{rec['camera']}: recorded frame indices repeat or pass frame {n - 1}")
    poses = _by_frame(index, rec["poses"], n, np.nan)
    return Poses2D(rec["bodyparts"], poses, rec["individuals"])


def _write_meta(table: Path, rec: dict, video: str | Path, n_frames: int) -> None:
    """DeepLabCut's side file of the analysis: its create_labeled_video reads the frame
    size from it."""
    from train.data.analysis_meta import write_analysis_meta
    from train.data.video import VideoReader

    with VideoReader(video) as reader:
        fps, size = reader.fps, reader.size
    times = None
    if len(rec["t_capture"]):
        times = (rec["t_capture"].min() / 1e9, rec["t_record"].max() / 1e9)
    write_analysis_meta(table, rec["scorer"], rec["bodyparts"], n_frames, fps, size, times=times)


def write_table(recording: str | Path, folder: str | Path, csv: bool = False,
                video: str | Path | None = None, last_index: int = -1) -> Path:
    """Write the DeepLabCut table of a recording: one row per frame index up to
    `last_index` (or the last one recorded), NaN where a frame has no pose (skipped in
    live mode, or never triangulated). A 2D recording becomes the analysis table of
    `video` in `folder`; a 3D one ``<folder>/<stream>_3d.h5``, scorer = the stream name."""
    from train.data.keypoints import Poses3D
    from train.data.tables import analysis_path, poses3d_path, write_analysis, write_poses3d

    rec = read_recording(recording)
    index = rec["index"]
    newest = int(index.max()) if len(index) else -1
    # an end notice may claim any index: rows past the newest pose stop at the leap any
    # message may make (stream.bus.MAX_LEAP), so a hostile one cannot size a huge table
    n = max(newest + 1, min(last_index, newest + MAX_LEAP) + 1)
    if "xyz" not in rec:
        poses = poses_by_frame(rec, n)
        path = analysis_path(video, rec["scorer"], folder)
        table = write_analysis(poses, rec["scorer"], path, csv=csv)
        if Path(video).is_file():  # a video source, not a camera or an image folder
            _write_meta(table, rec, video, n)
        return table
    poses3d = Poses3D(rec["bodyparts"], _by_frame(index, rec["xyz"], n, np.nan),
                      _by_frame(index, rec["score"], n, np.nan),
                      _by_frame(index, rec["reprojection_error"], n, np.nan),
                      _by_frame(index, rec["n_cameras"], n, 0), rec["individuals"])
    return write_poses3d(poses3d, rec["stream"], poses3d_path(rec["stream"], folder), csv=csv)
