"""An analysis job: the videos that folders, lists and paths name, each analyzed once into
its table, on this machine (the batch pipeline of :mod:`stream.batch`) or on Ray.

Videos whose table is complete are skipped; a video that cannot be opened or decoded
is reported and the others go on. On Ray, long videos are split into frame ranges
whose part files survive a crash, so a rerun does only the ranges still missing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from calib.errors import DataError, PoseloopError
from stream.scale.ledger import (
    VideoJob,
    commit_table,
    is_complete,
    model_digest,
    open_jobs,
    undecoded_frames,
)
from stream.scale.parts import (
    SeekMismatch,
    join_parts,
    missing_ranges,
    part_key,
    part_path,
    remove_parts,
    split_frames,
)
from stream.scale.report import (
    DONE,
    FAILED,
    SKIPPED,
    JobProgress,
    JobTiming,
    VideoResult,
    missing_note,
)
from stream.scale.videos import find_videos
from stream.scale.worker import RangeTask

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 10_000  # frames per range on a cluster (rounded up to the batch size)
CLUSTER_CHOICES = "auto, none, local or a Ray address"


def choose_cluster(cluster: str, device: str, workers: int, tasks: int) -> str:
    """``"none"`` (this machine's pipeline), ``"local"`` or a Ray address. ``"auto"`` is
    local Ray when Ray is installed and more than one worker would have work."""
    if cluster != "auto":
        return cluster
    try:
        import ray  # noqa: F401
    except ImportError:
        return "none"
    from stream.scale.cluster import local_workers

    return "local" if min(workers or local_workers(device), tasks) > 1 else "none"


def analyze_job(
    model: str | Path,
    inputs: list[str | Path],
    destfolder: str | Path | None = None,
    csv: bool = False,
    batch_size: int = 8,
    device: str = "cpu",
    threads: int = 0,
    cluster: str = "auto",
    workers: int = 0,
    chunk_frames: int = DEFAULT_CHUNK,
    retries: int = 3,
    progress: bool = True,
    recordings: str | Path | None = None,
    timing: JobTiming | None = None,
) -> list[VideoResult]:
    """Analyze every video that `inputs` (videos, folders, ``.txt``/``.csv`` lists) name
    and return one result per video, in order: done, skipped (its table was complete)
    or failed (with the error). Tables go beside each video or into `destfolder`.

    `cluster`: ``"none"`` runs this machine's batch pipeline (no Ray needed),
    ``"local"`` a Ray instance here with `workers` workers (default: one per GPU or per
    four cores), an address joins that Ray cluster; ``"auto"`` picks local Ray when
    more than one worker helps. `threads`: torch threads per worker (default: the
    worker's share of the cores). A range whose worker dies is retried `retries` times.
    `recordings`: see :func:`stream.batch.run_pipeline`. `timing`, if given, is
    filled in with where the time went.
    """
    from train.model.artifact import read_meta

    timing = timing if timing is not None else JobTiming()
    t0 = time.perf_counter()

    if batch_size < 1:
        raise PoseloopError(f"batch size must be at least 1, got {batch_size}")
    model = Path(model).resolve()
    meta = read_meta(model)  # a missing or broken model fails before anything runs
    scorer = meta.scorer
    videos = find_videos(inputs)
    if destfolder is not None:
        destfolder = Path(destfolder).resolve()
    digest = model_digest(model)
    jobs, failed = open_jobs(videos, scorer, destfolder)
    _check_destinations([destfolder] if destfolder is not None else
                        [job.table.parent for job in jobs])
    results = {v: VideoResult(v, status=FAILED, error=e) for v, e in failed.items()}
    todo: list[VideoJob] = []
    for job in jobs:
        if is_complete(job, digest, scorer, csv):
            results[job.video] = VideoResult(job.video, job.table, job.frames, status=SKIPPED)
        else:
            todo.append(job)
    n_tasks = sum(len(split_frames(j.frames, chunk_frames, batch_size)) for j in todo)
    where = choose_cluster(cluster, device, workers, n_tasks)
    if todo and where == "none":
        from stream.batch import run_pipeline

        for result in run_pipeline(model, todo, digest, scorer, csv, batch_size, device,
                                   threads, progress, recordings):
            results[result.video] = result
    elif todo:
        run = _ClusterRun(model, todo, digest, scorer, csv, batch_size, device, progress)
        for result in run.run(where, workers, threads, chunk_frames, retries, timing):
            results[result.video] = result
    if meta.individuals:
        _track(results.values(), meta.identity, csv)
    timing.wall_s = time.perf_counter() - t0
    return [results[v] for v in videos]


def _check_destinations(folders: list[Path]) -> None:
    """Fail before any video is analyzed when a table could not be written."""
    from calib.fileio import check_writable

    for folder in dict.fromkeys(folders):
        try:
            check_writable(folder)
        except OSError as exc:
            raise DataError(f"{folder}: cannot write analysis tables here ({exc.strerror or exc})"
                            ) from exc


def _track(results, identity: bool, csv: bool) -> None:
    """Follow the animals of a multi-animal model over each analyzed video: its per-frame
    table (animals in no particular order) gets the tracked table ``_el.h5``
    (:func:`train.post.tracking.track_table`), which becomes the video's result."""
    from train.data.tables import tracked_path
    from train.post.tracking import track_table

    for result in results:
        if result.status == FAILED:
            continue
        tracked = tracked_path(result.table)
        if result.status == SKIPPED and tracked.is_file():
            result.table = tracked
            continue
        try:
            result.table = track_table(result.table, identity=identity, csv=csv)
        except PoseloopError as exc:
            result.status, result.error = FAILED, f"tracking: {exc}"


class _ClusterRun:
    """The Ray side of a job: ranges out, parts back, tables committed per video."""

    def __init__(self, model: Path, jobs: list[VideoJob], digest: str, scorer: str, csv: bool,
                 batch_size: int, device: str, progress: bool):
        self.model, self.jobs, self.digest, self.scorer = model, jobs, digest, scorer
        self.csv, self.batch_size, self.progress_on = csv, batch_size, progress
        self.device = "cuda" if device.startswith("cuda") else device
        self.by_video = {str(j.video): j for j in jobs}
        self.ranges: dict[str, list[tuple[int, int]]] = {}
        self.remaining: dict[str, set[str]] = {}
        self.results = {str(j.video): VideoResult(j.video, j.table, j.frames) for j in jobs}
        self.key = {str(j.video): part_key(j, digest, scorer, batch_size, self.device)
                    for j in jobs}

    def _tasks(self, job: VideoJob, ranges: list[tuple[int, int]]) -> list[RangeTask]:
        name = str(job.video)
        self.ranges[name] = ranges
        todo = missing_ranges(job, ranges, self.key[name])
        tasks = [RangeTask(name, str(part_path(job.table, a, b)), a, b, self.key[name])
                 for a, b in todo]
        self.remaining[name] = {t.part for t in tasks}
        return tasks

    def run(self, where: str, workers: int, threads: int, chunk: int, retries: int,
            timing: JobTiming) -> list[VideoResult]:
        from stream.scale.cluster import Cluster

        tasks: list[RangeTask] = []
        for job in self.jobs:
            tasks += self._tasks(job, split_frames(job.frames, chunk, self.batch_size))
        self.bar = JobProgress(len(self.jobs), sum(t.frames for t in tasks), self.progress_on)
        try:
            for job in self.jobs:  # every part already there (a crash before the join)
                if not self.remaining[str(job.video)]:
                    self._finish(job)
            if tasks:
                with Cluster(where, self.device) as cluster:
                    settings, n = cluster.workers(str(self.model), workers, threads)
                    log.info("%d ranges of %d videos on %d Ray workers (%g CPU, %d threads "
                             "each)", len(tasks), len(self.jobs), n, settings.cpus,
                             settings.threads)
                    timing.start_s, timing.workers = cluster.start_s, n
                    timing.load_s = cluster.run(settings, n, tasks, retries, self._on_result)
        finally:
            self.bar.close()
        return list(self.results.values())

    def _on_result(self, task: RangeTask, result: dict | None, error: str) -> list[RangeTask]:
        out = self.results[task.video]
        if out.status == FAILED:
            return []
        if result is None:
            out.status, out.error = FAILED, error
            self.bar.video_done()
            return []
        self.bar.frames_done(result["frames"])
        out.seconds += result["seconds"]
        out.retries += result["retries"]
        remaining = self.remaining[task.video]
        remaining.discard(task.part)
        if remaining:
            return []
        return self._finish(self.by_video[task.video])

    def _finish(self, job: VideoJob) -> list[RangeTask]:
        """Join the parts of `job` and write its table; a range that did not seek
        exactly sends the whole video back as one range, read without seeking."""
        out = self.results[str(job.video)]
        try:
            poses = join_parts(job, self.ranges[str(job.video)], self.key[str(job.video)])
            out.missing = undecoded_frames(poses)
            out.table = commit_table(job, poses, self.digest, self.scorer, self.csv)
        except SeekMismatch as exc:
            log.warning("%s", exc)
            remove_parts(job)
            tasks = self._tasks(job, [(0, job.frames)])
            self.bar.bar.total += job.frames
            return tasks
        except (DataError, OSError) as exc:
            out.status, out.error = FAILED, str(exc)
            self.bar.video_done()
            return []
        remove_parts(job)
        out.status = DONE
        self.bar.video_done()
        log.info("%s: %d frames -> %s", job.video.name, job.frames, out.table)
        if out.missing:
            log.warning("%s: %s", job.video, missing_note(out))
        return []
