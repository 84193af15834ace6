"""Frame extraction for labeling (``poseloop extract``): ``numframes2pick`` frames per
video, spread uniformly over ``start..stop`` or chosen by k-means for diversity, saved
as DeepLabCut names them: ``labeled-data/<video stem>/img<index>.png``.

Frames already extracted (or labeled) are never overwritten: a second run adds new ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from calib.errors import ConfigError, VideoError
from train.data.project import Project, open_project
from train.data.video import VideoReader
from train.label.framepick import (
    ThumbnailBuffer,
    check_crop,
    existing_indices,
    kmeans_pick,
    save_frame,
    thumbnail,
)

log = logging.getLogger(__name__)

ALGORITHMS = ("uniform", "kmeans")
KMEANS_CANDIDATES = 1000  # thumbnails kept for clustering, whatever the video's length


def frame_range(n_frames: int, start: float, stop: float) -> range:
    """Frames between the fractions `start` and `stop` of the video."""
    if not 0 <= start < stop <= 1:
        raise ConfigError(f"start and stop must satisfy 0 <= start < stop <= 1, got {start}, "
                          f"{stop}")
    return range(int(np.floor(start * n_frames)), int(np.ceil(stop * n_frames)))


def pick_uniform(candidates: list[int], k: int, seed: int = 0) -> list[int]:
    """One random frame from each of `k` equal consecutive slices of `candidates`."""
    if k >= len(candidates):
        return list(candidates)
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, len(candidates), k + 1).astype(int)
    return [candidates[int(rng.integers(a, b))] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def pick_kmeans(
    reader: VideoReader,
    frames: range,
    exclude: set[int],
    k: int,
    crop: tuple[int, int, int, int] | None,
    capacity: int = KMEANS_CANDIDATES,
    seed: int = 0,
) -> list[int]:
    """Stream `frames` once, keep a bounded set of thumbnails, cluster them into `k`.

    Frames the buffer does not want are only grabbed, not converted to images.
    """
    if len(frames) == 0:
        return []
    buffer = ThumbnailBuffer(capacity, len(frames))
    frame = reader.read(frames.start)
    for position, index in enumerate(tqdm(frames, unit="frame", desc=reader.path.name)):
        if position > 0:
            wanted = buffer.wants(position) and index not in exclude
            try:
                frame = reader.read() if wanted else None
            except VideoError:  # the header promised more frames than there are
                break
            if not wanted and not reader.skip():
                break
        if frame is not None and index not in exclude:
            buffer.add(index, thumbnail(frame, crop))
    if not buffer.indices:
        return []
    return kmeans_pick(np.stack(buffer.vectors), buffer.indices, k, seed)


def _chosen_videos(project: Project, videos: list[str] | None) -> list[tuple[str | None, Path]]:
    """``(video_sets key or None, path)`` of the videos to extract from: all of video_sets,
    or `videos` (paths or stems in video_sets, or paths of other existing videos, as
    DeepLabCut's ``videos_list``). Listed videos whose file is missing are skipped with one
    warning naming them, as DeepLabCut does; none left is an error."""
    keys = list(project.config.video_sets)
    chosen: list[tuple[str | None, Path]] = []
    if not videos:
        chosen = [(k, project.video_path(k)) for k in keys]
    for v in videos or []:
        match = [k for k in keys if k == v or Path(k).stem == Path(v).stem]
        if not match and Path(v).is_file():
            chosen.append((None, Path(v)))
        elif not match:
            raise ConfigError(f"{project.config_path}: video {v!r} is not in video_sets {keys}")
        chosen += [(k, project.video_path(k)) for k in match if k not in [c[0] for c in chosen]]
    missing = [str(path) for _, path in chosen if not path.exists()]
    if missing:
        log.warning("%s: video_sets lists videos that do not exist; skipped: %s",
                    project.config_path, missing)
    present = [(k, path) for k, path in chosen if path.exists()]
    if not present:
        why = "lists no videos (run poseloop add-videos)" if not chosen else "has no existing video"
        raise ConfigError(f"{project.config_path}: video_sets {why}")
    return present


def extract_frames(
    project: str | Path | Project,
    algo: str = "kmeans",
    videos: list[str] | None = None,
    seed: int = 0,
) -> dict[str, list[Path]]:
    """Extract ``numframes2pick`` new frames from each video of the project.

    Returns ``{video stem: [new PNG paths]}``. Existing PNGs are kept and their frame
    indices are not picked again.
    """
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown extraction algorithm {algo!r}; choose from {ALGORITHMS}")
    if not isinstance(project, Project):
        project = open_project(project)
    cfg = project.config
    out = {}
    for key, path in _chosen_videos(project, videos):
        with VideoReader(path) as reader:
            crop = None if key is None else check_crop(cfg.crop(key), reader.size,
                                                       f"{cfg.path}: video_sets[{key!r}]")
            folder = project.labeled_data / path.stem
            exclude = existing_indices(folder)
            n_frames = reader.n_frames  # header count, fixed before reading (names' width)
            frames = frame_range(n_frames, cfg.start, cfg.stop)
            if algo == "uniform":
                picked = pick_uniform([i for i in frames if i not in exclude],
                                      cfg.numframes2pick, seed)
            else:
                picked = pick_kmeans(reader, frames, exclude, cfg.numframes2pick, crop, seed=seed)
            written = []
            for index in sorted(picked):
                try:
                    frame = reader.read(index)
                except VideoError:
                    log.warning("%s: frame %d does not decode; skipped", path, index)
                    continue
                written.append(save_frame(folder, index, n_frames, frame, crop))
        log.info("%s: %d new frames in %s (%d there before)", path.name, len(written), folder,
                 len(exclude))
        out[path.stem] = written
    return out
