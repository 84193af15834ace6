"""Which table each video of a job gets, whether it is already complete, and writing it
only when it is.

A table counts as complete when its stamp (a JSON attribute inside the h5 file, see
:func:`train.data.tables.write_analysis`) names the same video (size in bytes and frame
count), the same model (SHA-256 of the ``.pt2`` file) and scorer, and the table holds
one row per frame of the video (with ``--csv``, the csv must be there too). A rerun
skips such videos, so after a crash or Ctrl-C it does only what is missing. Tables are
written to a temporary name and renamed, stamp included, so nothing partial ever stands
under a table's name.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import DataError, VideoError

log = logging.getLogger(__name__)

STAMP_VERSION = 1


@dataclass(frozen=True)
class VideoJob:
    """One video to analyze: where its table goes and what the video holds."""

    video: Path
    table: Path
    frames: int  # as the video's header gives it: the table must have this many rows
    size: int  # bytes


def model_digest(path: str | Path) -> str:
    """SHA-256 of the model file (hex): what "the same model" means for a stamp."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp_of(job: VideoJob, digest: str, scorer: str) -> dict:
    """What a complete table of `job` carries."""
    return {
        "version": STAMP_VERSION,
        "video": job.video.name,
        "video_bytes": job.size,
        "frames": job.frames,
        "model": digest,
        "scorer": scorer,
    }


def is_complete(job: VideoJob, digest: str, scorer: str, csv: bool) -> bool:
    """Whether `job.table` is a complete analysis of `job.video` by this model."""
    from train.data.tables import read_stamp

    if not job.table.exists() or (csv and not job.table.with_suffix(".csv").exists()):
        return False
    try:
        found, rows = read_stamp(job.table)
    except DataError as exc:
        log.warning("%s", exc)
        return False
    want = stamp_of(job, digest, scorer)
    if found is None or any(found.get(k) != v for k, v in want.items() if k != "video"):
        return False
    return rows == job.frames


def commit_table(job: VideoJob, poses, digest: str, scorer: str, csv: bool) -> Path:
    """Write the stamped table of `job` from its `poses` (:class:`Poses2D`, one row per
    frame); DataError, and nothing written, when the rows do not match the frames."""
    from train.data.analysis_meta import write_analysis_meta
    from train.data.tables import write_analysis
    from train.data.video import VideoReader

    if poses.n_frames != job.frames:
        raise DataError(
            f"{job.video}: {poses.n_frames} poses for the {job.frames} frames of the video; "
            "table not written"
        )
    with VideoReader(job.video) as reader:
        fps, size = reader.fps, reader.size
    # DeepLabCut's side file first: the stamped table is what marks the video done
    write_analysis_meta(job.table, scorer, poses.bodyparts, job.frames, fps, size)
    return write_analysis(poses, scorer, job.table, csv=csv, stamp=stamp_of(job, digest, scorer))


def undecoded_frames(poses) -> list[int]:
    """The frames of `poses` (:class:`Poses2D`) whose row is all NaN: frames that did not
    decode (a one-animal model gives every decoded frame a pose, however unlikely; a
    frame where a several-animal model found no animal is counted too)."""
    points = tuple(range(1, poses.data.ndim))
    return np.flatnonzero(np.isnan(poses.data).all(axis=points)).tolist()


def open_jobs(
    videos: list[Path], scorer: str, destfolder: str | Path | None
) -> tuple[list[VideoJob], dict[Path, str]]:
    """A :class:`VideoJob` for each video that opens, and ``{video: error}`` for the rest
    (missing, unreadable, no decodable first frame). VideoError if two videos would
    write the same table (same name in different folders with one `destfolder`)."""
    from train.data.tables import analysis_path
    from train.data.video import VideoReader

    jobs, failed, tables = [], {}, {}
    for video in videos:
        table = analysis_path(video, scorer, destfolder).resolve()
        if table in tables:
            raise VideoError(
                f"{video} and {tables[table]} would both write {table}; give them different "
                "names or leave out --destfolder"
            )
        tables[table] = video
        try:
            with VideoReader(video) as reader:
                frames = reader.n_frames
            if frames <= 0:
                raise VideoError(f"{video}: the header gives no frame count")
        except VideoError as exc:
            failed[video] = str(exc)
            continue
        jobs.append(VideoJob(video, table, frames, video.stat().st_size))
    return jobs, failed
