"""Batch analysis of videos through the runtime: one source process playing the videos
one after the other, one inference process, one recorder process, linked by ZeroMQ in
batch mode (lossless, ordered, with backpressure). Each video gets DeepLabCut's
analysis table ``<destfolder>/<video stem><scorer>.h5`` (and ``.csv`` on request).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from calib.errors import DataError, VideoError
from calib.fileio import check_writable
from stream import messages as m
from stream.node import pid_alive
from stream.recording import read_recording, recording_path
from stream.rig import InferenceSpec, RecorderSpec, SourceSpec, free_endpoint
from stream.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass
class VideoAnalysis:
    """One analyzed video: its table has a row for each of the video's `frames`; the
    frames in `missing` did not decode and their rows are NaN."""

    video: Path
    table: Path
    frames: int
    missing: list[int]


@dataclass
class _Video:
    camera: str
    path: Path
    n_frames: int


def _check_videos(videos: list[str | Path]) -> list[_Video]:
    """Open every video before any process starts, so a bad one fails at once, by name."""
    from train.data.video import VideoReader

    if not videos:
        raise VideoError("no videos to analyze")
    out = []
    for i, video in enumerate(videos):
        path = Path(video).resolve()
        with VideoReader(path) as reader:
            out.append(_Video(f"video{i}", path, reader.n_frames))
    return out


TMP_PREFIX = "poseloop-analyze-"


def _remove_stale_folders() -> None:
    """Remove the temporary folders of analyses whose process is gone (killed before it
    could clean up); a folder is named after its process id."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = folder.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _check_destinations(folders: list[Path]) -> None:
    """Fail before any process starts when a table could not be written."""
    for folder in dict.fromkeys(folders):
        try:
            check_writable(folder)
        except OSError as exc:
            raise DataError(f"{folder}: cannot write analysis tables here ({exc.strerror or exc})"
                            ) from exc


class _Progress:
    """A bar for the whole job and one for the video being analyzed, fed by the
    recorder's stats (rows written per camera) and end notices."""

    def __init__(self, videos: list[_Video], enabled: bool):
        self.videos = {v.camera: v for v in videos}
        self.enabled = enabled
        self.total = tqdm(
            total=sum(v.n_frames for v in videos),
            unit="frame",
            desc="all videos",
            position=0,
            disable=not enabled,
            dynamic_ncols=True,
        )
        self.bar: tqdm | None = None
        self.camera = ""
        self.done_rows = 0
        self.finished: dict[str, m.EndMessage] = {}

    def _switch(self, camera: str) -> None:
        if camera == self.camera:
            return
        if self.bar is not None:
            self.bar.close()
        v = self.videos[camera]
        self.camera = camera
        self.bar = tqdm(
            total=v.n_frames,
            unit="frame",
            desc=v.path.name,
            position=1,
            leave=False,
            disable=not self.enabled,
            dynamic_ncols=True,
        )

    def __call__(self, msg: m.Message) -> None:
        if isinstance(msg, m.StatsMessage) and msg.node == "recorder":
            running = {
                c: n for c, n in msg.totals.items() if c in self.videos and c not in self.finished
            }
            for camera, rows in running.items():
                self._switch(camera)
                self.bar.update(rows - self.bar.n)
                self.total.update(self.done_rows + rows - self.total.n)
        elif isinstance(msg, m.EndMessage) and msg.camera in self.videos:
            self.finished[msg.camera] = msg
            self.done_rows += msg.frames
            self.total.update(self.done_rows - self.total.n)
            if self.camera == msg.camera and self.bar is not None:
                self.bar.close()
                self.bar = None
                self.camera = ""
            log.info("%s: %d frames -> %s", self.videos[msg.camera].path.name, msg.frames, msg.path)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.total.close()


def analyze_videos(
    model_path: str | Path,
    videos: list[str | Path],
    destfolder: str | Path | None = None,
    csv: bool = False,
    batch_size: int = 8,
    device: str = "cpu",
    threads: int = 0,
    max_wait_ms: float = 50.0,
    progress: bool = True,
    recordings: str | Path | None = None,
) -> list[VideoAnalysis]:
    """Analyze `videos` with the exported model at `model_path`.

    Writes ``<video stem><scorer>.h5`` (and ``.csv`` with `csv`) into `destfolder`
    (default: each video's folder), one row per frame the video's header promises, and
    returns what was written for each video, in the order of `videos`. A frame that does
    not decode is a row of NaN at its index, listed in the result's ``missing``. A video
    whose first frame does not decode fails naming the file; tables written before stay
    intact (every file is written to a temporary name and renamed).
    With `recordings`, the recorder's files (``video<i>.rec.h5``: poses plus capture,
    inference and record timestamps of every frame) are kept in that folder.
    """
    from train.model.artifact import read_meta

    model_path = Path(model_path).resolve()
    read_meta(model_path)  # a missing or broken model fails here, before any process starts
    vids = _check_videos(videos)
    dest = str(Path(destfolder).resolve()) if destfolder is not None else None
    _check_destinations([Path(dest)] if dest else [v.path.parent for v in vids])
    _remove_stale_folders()
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
        if recordings is not None:
            tmp = str(Path(recordings).resolve())
        source = SourceSpec(
            "source",
            "playlist",
            endpoint=free_endpoint(),
            mode="batch",
            playlist=[[v.camera, str(v.path)] for v in vids],
        )
        cameras = [v.camera for v in vids]
        infer = InferenceSpec(
            "inference",
            str(model_path),
            ["source"],
            device=device,
            batch_size=batch_size,
            max_wait_ms=max_wait_ms,
            threads=threads,
            endpoint=free_endpoint(),
            mode="batch",
            input_endpoints=[source.endpoint],
            cameras=cameras,
        )
        recorder = RecorderSpec(
            "recorder",
            ["inference"],
            folder=tmp,
            csv=csv,
            input_endpoints=[infer.endpoint],
            cameras=cameras,
            table_paths={v.camera: [str(v.path), dest or str(v.path.parent)] for v in vids},
        )
        bar = _Progress(vids, progress)
        sup = Supervisor(
            [("recorder", recorder), ("inference", infer), ("source", source)],
            free_endpoint(),
            stats_interval=0.25,
            on_message=bar,
            print_stats=False,
        )
        try:
            sup.run()
            return [_result(v, bar.finished.get(v.camera), tmp) for v in vids]
        finally:
            bar.close()


def _result(video: _Video, end: m.EndMessage | None, recordings: str) -> VideoAnalysis:
    """What the recorder announced for `video`, with the frames it has no pose for."""
    from train.data.video import frame_ranges

    if end is None or not end.path:
        raise VideoError(f"{video.path}: analysis did not finish (no table written)")
    rows = end.last_seq + 1  # the source numbers every frame, decodable or not
    missing: list[int] = []
    if end.frames != rows:
        recorded = read_recording(recording_path(recordings, video.camera))["index"]
        missing = sorted(set(range(rows)) - set(recorded.tolist()))
        log.warning("%s: %d of %d frames could not be decoded; their rows are NaN: %s",
                    video.path, len(missing), rows, frame_ranges(missing))
    return VideoAnalysis(video.path, Path(end.path), rows, missing)
