"""Long videos as frame ranges: one part file per range, joined in order into the table.

A range starts at a multiple of the batch size, so its batches are exactly the batches
of an unsplit run and the joined poses equal a single-process analysis bit for bit.
Parts live in ``<table folder>/.poseloop-parts/<table name>/<start>-<stop>.h5``
(h5py: ``poses (n, K, 3) float32``, several animals ``(n, I, K, 3)``, and a JSON
attribute ``part``), each written to a
temporary name and renamed, so a rerun reuses the ranges already done.

Each part records a fingerprint (container timestamp and a hash of the pixels) of its
last frame and of the frame just before its start, which it reads after seeking. The
join checks that they agree, so a video whose seeking is not frame-exact is never
joined shifted: it is redone as one range, read from frame 0 without seeking.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np

from calib.errors import DataError, VideoError
from calib.fileio import atomic_path
from stream.scale.ledger import VideoJob

PARTS_DIR = ".poseloop-parts"
PART_ATTR = "part"


class SeekMismatch(VideoError):
    """A range read after seeking does not start where the previous range ended."""


def split_frames(frames: int, chunk: int, batch_size: int) -> list[tuple[int, int]]:
    """``[0, frames)`` as ``(start, stop)`` ranges of about `chunk` frames (rounded up to a
    multiple of `batch_size`); one range when `chunk` is 0 or covers the video."""
    if chunk <= 0 or chunk >= frames:
        return [(0, frames)]
    step = -(-chunk // batch_size) * batch_size
    return [(a, min(a + step, frames)) for a in range(0, frames, step)]


def parts_folder(table: Path) -> Path:
    return table.parent / PARTS_DIR / table.stem


def part_path(table: Path, start: int, stop: int) -> Path:
    return parts_folder(table) / f"{start:010d}-{stop:010d}.h5"


def part_key(job: VideoJob, digest: str, scorer: str, batch_size: int, device: str) -> dict:
    """What a part must have been made with to be joined into `job`'s table: the same
    video, model, batch size and device (each changes the last bits of the poses)."""
    return {
        "video_bytes": job.size,
        "frames": job.frames,
        "model": digest,
        "scorer": scorer,
        "batch_size": batch_size,
        "device": device,
    }


def write_part(path: Path, poses: np.ndarray, meta: dict) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("poses", data=np.asarray(poses, np.float32))
        f.attrs[PART_ATTR] = json.dumps(meta)


def read_part(path: Path) -> tuple[np.ndarray, dict]:
    """A part's poses and its metadata (h5py only: nothing is unpickled)."""
    try:
        with h5py.File(path, "r") as f:
            poses = f["poses"][()]
            meta = json.loads(f.attrs[PART_ATTR])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable part file ({exc})") from exc
    if not isinstance(meta, dict) or poses.ndim not in (3, 4) or poses.shape[-1] != 3:
        raise DataError(f"{path}: not a part file (poses {poses.shape})")
    return poses, meta


def _usable(path: Path, key: dict, start: int, stop: int) -> bool:
    if not path.exists():
        return False
    try:
        poses, meta = read_part(path)
    except DataError:
        return False
    return (
        all(meta.get(k) == v for k, v in key.items())
        and (meta.get("start"), meta.get("stop")) == (start, stop)
        and len(poses) == stop - start
    )


def missing_ranges(
    job: VideoJob, ranges: list[tuple[int, int]], key: dict
) -> list[tuple[int, int]]:
    """The ranges of `job` without a usable part (a rerun does only these)."""
    return [(a, b) for a, b in ranges if not _usable(part_path(job.table, a, b), key, a, b)]


def join_parts(job: VideoJob, ranges: list[tuple[int, int]], key: dict):
    """The poses of `job` (:class:`Poses2D`) from its parts, in frame order.

    DataError if a part is missing or made differently, SeekMismatch if a range does
    not start where the one before ended.
    """
    from train.data.keypoints import Poses2D

    chunks, names, last = [], None, None
    for start, stop in ranges:
        path = part_path(job.table, start, stop)
        if not _usable(path, key, start, stop):
            raise DataError(f"{path}: part of {job.video} frames {start}-{stop} missing or stale")
        poses, meta = read_part(path)
        if start > 0 and meta.get("before") != last:
            raise SeekMismatch(
                f"{job.video}: frame {start - 1} read after seeking differs from the same "
                "frame read in order; the video is analyzed again without seeking"
            )
        part_names = (meta.get("bodyparts"), meta.get("individuals", []))
        if names is not None and part_names != names:
            raise DataError(f"{path}: bodyparts or individuals differ from the other parts of "
                            f"{job.video}")
        names, last = part_names, meta.get("last")
        chunks.append(poses)
    bodyparts, individuals = names or (None, None)
    return Poses2D(tuple(bodyparts or ()), np.concatenate(chunks), tuple(individuals or ()))


def remove_parts(job: VideoJob) -> None:
    """Delete `job`'s parts (and the parts folder once empty)."""
    folder = parts_folder(job.table)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass  # other videos' parts are still there
