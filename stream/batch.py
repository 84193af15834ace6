"""Batch analysis of videos: :func:`analyze_videos` takes videos, folders and lists
(:mod:`stream.scale`), skips videos whose table is complete, and runs the rest either
on Ray or through this machine's batch pipeline (:func:`run_pipeline`): one source
process playing the videos one after the other, one inference process, one recorder
process, linked by ZeroMQ in batch mode (lossless, ordered, with backpressure). Each
video gets DeepLabCut's analysis table ``<destfolder>/<video stem><scorer>.h5`` (and
``.csv`` on request), stamped and written only once every frame has its pose (a frame
that does not decode: a row of NaN at its index).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from calib.errors import DataError, PoseloopError, VideoError
from stream import messages as m
from stream.node import pid_alive
from stream.node_specs import InferenceSpec, RecorderSpec, SourceSpec
from stream.rig import free_endpoint
from stream.scale.job import DEFAULT_CHUNK, analyze_job
from stream.scale.ledger import VideoJob, commit_table
from stream.scale.report import DONE, FAILED, JobProgress, VideoResult, missing_note
from stream.supervisor import Supervisor

log = logging.getLogger(__name__)


class _Pipeline:
    """Follows the recorder: frames into the progress display, and each video's table
    written (stamped) when its stream ends with every frame recorded."""

    def __init__(self, jobs: list[VideoJob], folder: str, digest: str, scorer: str, csv: bool,
                 progress: bool):
        self.jobs = {f"video{i}": job for i, job in enumerate(jobs)}
        self.folder, self.digest, self.scorer, self.csv = folder, digest, scorer, csv
        self.results = {c: VideoResult(j.video, None, j.frames) for c, j in self.jobs.items()}
        self.rows: dict[str, int] = {}
        self.bar = JobProgress(len(jobs), sum(j.frames for j in jobs), progress)

    def __call__(self, msg: m.Message) -> None:
        if isinstance(msg, m.StatsMessage) and msg.node == "recorder":
            for camera, rows in msg.totals.items():
                if camera in self.jobs and not self.results[camera].status:
                    self.bar.frames_done(rows - self.rows.get(camera, 0))
                    self.rows[camera] = rows
        elif isinstance(msg, m.EndMessage) and msg.camera in self.jobs:
            self._ended(msg)

    def _ended(self, end: m.EndMessage) -> None:
        from stream.recording import poses_by_frame, read_recording, recording_path

        job, out = self.jobs[end.camera], self.results[end.camera]
        self.bar.frames_done(end.frames - self.rows.get(end.camera, 0))
        self.rows[end.camera] = end.frames
        self.bar.video_done()
        out.status = FAILED
        # the source numbers every frame the header promises, decodable or not
        if end.last_seq + 1 != job.frames:
            out.error = (f"{end.last_seq + 1} of {job.frames} frames read, {end.frames} poses "
                         "recorded; table not written")
            return
        try:
            rec = read_recording(recording_path(self.folder, end.camera))
            poses = poses_by_frame(rec, job.frames)
            out.missing = np.setdiff1d(np.arange(job.frames), rec["index"]).tolist()
            out.table = commit_table(job, poses, self.digest, self.scorer, self.csv)
        except (DataError, OSError) as exc:
            out.error = str(exc)
            return
        out.seconds = (rec["t_record"][-1] - rec["t_capture"][0]) / 1e9
        out.status = DONE
        log.info("%s: %d frames -> %s", job.video.name, job.frames, out.table)
        if out.missing:
            log.warning("%s: %s", job.video, missing_note(out))


TMP_PREFIX = "poseloop-analyze-"


def _remove_stale_folders() -> None:
    """Remove the temporary folders of analyses whose process is gone (killed before it
    could clean up); a folder is named after its process id."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = folder.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def run_pipeline(model: Path, jobs: list[VideoJob], digest: str, scorer: str, csv: bool,
                 batch_size: int, device: str, threads: int, progress: bool,
                 recordings: str | Path | None) -> list[VideoResult]:
    """Analyze `jobs` through this machine's batch pipeline; one result per job. A
    video's table is written only if every frame came back, in order, a frame that does
    not decode as a row of NaN at its index (in the result's ``missing``). If a node dies,
    the videos not finished yet are reported failed with the reason. With `recordings`,
    the recorder's files (``video<i>.rec.h5``: poses plus capture, inference and record
    timestamps of every frame) are kept in that folder."""
    _remove_stale_folders()
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
        folder = str(Path(recordings).resolve()) if recordings is not None else tmp
        cameras = [f"video{i}" for i in range(len(jobs))]
        source = SourceSpec("source", "playlist", endpoint=free_endpoint(), mode="batch",
                            playlist=[[f"video{i}", str(j.video)] for i, j in enumerate(jobs)])
        infer = InferenceSpec("inference", str(model), ["source"], device=device,
                              batch_size=batch_size, threads=threads, endpoint=free_endpoint(),
                              mode="batch", input_endpoints=[source.endpoint], cameras=cameras)
        recorder = RecorderSpec("recorder", ["inference"], folder=folder, tables=False,
                                input_endpoints=[infer.endpoint], cameras=cameras)
        follow = _Pipeline(jobs, folder, digest, scorer, csv, progress)
        sup = Supervisor([("recorder", recorder), ("inference", infer), ("source", source)],
                         free_endpoint(), stats_interval=0.25, on_message=follow,
                         print_stats=False)
        t0 = time.monotonic()
        try:
            sup.run()
        except PoseloopError as exc:
            for result in follow.results.values():
                if not result.status:
                    result.status, result.error = FAILED, str(exc)
        finally:
            follow.bar.close()
    for result in follow.results.values():
        if not result.status:
            result.status, result.error = FAILED, "interrupted; table not written"
    log.debug("pipeline ran %.1f s", time.monotonic() - t0)
    return list(follow.results.values())


def analyze_videos(
    model_path: str | Path,
    videos: list[str | Path],
    destfolder: str | Path | None = None,
    csv: bool = False,
    batch_size: int = 8,
    device: str = "cpu",
    threads: int = 0,
    progress: bool = True,
    recordings: str | Path | None = None,
    cluster: str = "auto",
    workers: int = 0,
    chunk_frames: int = DEFAULT_CHUNK,
    retries: int = 3,
) -> list[Path]:
    """Analyze `videos` (files, folders, ``.txt``/``.csv`` lists) with the exported model
    at `model_path` and return their tables, in order: ``<video stem><scorer>.h5`` (and
    ``.csv`` with `csv`) in `destfolder` (default: each video's folder), one row per
    frame. Complete tables are kept as they are. A video that cannot be analyzed does
    not stop the others; VideoError names it once they are done. Options as
    :func:`stream.scale.job.analyze_job`.

    A multi-animal model's animals are then tracked over each video: the returned
    path is then the tracked table ``<video stem><scorer>_el.h5``.
    """
    results = analyze_job(model_path, videos, destfolder, csv, batch_size, device, threads,
                          cluster, workers, chunk_frames, retries, progress, recordings)
    failed = [r for r in results if r.status == FAILED]
    if failed:
        raise VideoError("; ".join(
            r.error if str(r.video) in r.error else f"{r.video}: {r.error}" for r in failed))
    return [r.table for r in results]
