"""``poseloop outliers``: frames where the network is probably wrong, for refinement.

Candidates come from a video's analysis table (DeepLabCut layout) by one of:

- ``jump``: a bodypart moves more than `epsilon` px from the previous frame;
- ``uncertain``: a bodypart's likelihood is under `p_bound`;
- ``fitting``: a bodypart is more than `epsilon` px from a robust temporal fit of its
  track (a running median over confident points, interpolated across gaps);
- ``manual``: a list of frame indices.

Among the candidates, ``numframes2pick`` visually diverse frames are chosen by k-means
on small grayscale thumbnails. They are written as DeepLabCut does: PNGs in
``labeled-data/<video stem>/`` and the machine's predictions (with likelihood) in
``machinelabels-iter<iteration>.h5`` beside them, for ``poseloop refine``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter
from tqdm import tqdm

from calib.errors import DataError
from train.data.keypoints import LabeledFrames, Poses2D, table_columns
from train.data.project import Project, add_videos, open_project
from train.data.tables import TRACKER_SUFFIX, read_analysis, read_labels, write_labels
from train.data.video import VideoReader
from train.label.extract import frame_range
from train.label.framepick import (
    check_crop,
    existing_indices,
    frame_name,
    kmeans_pick,
    save_frame,
    thumbnail,
)
from train.label.session import machinelabels_path, read_folder_labels, relative_image

log = logging.getLogger(__name__)

ALGORITHMS = ("jump", "uncertain", "fitting", "manual")
MAX_CANDIDATES = 1000  # frames read for k-means, at most


# ------------------------------------------------------------------ detectors

def jump_frames(poses: Poses2D, epsilon: float) -> np.ndarray:
    """``(frames,)`` True where some bodypart moved more than `epsilon` px since the
    previous frame (missing points never count)."""
    step = np.linalg.norm(np.diff(poses.xy.astype(np.float64), axis=0), axis=2)
    out = np.zeros(poses.n_frames, bool)
    with np.errstate(invalid="ignore"):
        out[1:] = (step > epsilon).any(axis=1)
    return out


def uncertain_frames(poses: Poses2D, p_bound: float) -> np.ndarray:
    """``(frames,)`` True where some bodypart's likelihood is under `p_bound`."""
    with np.errstate(invalid="ignore"):
        return (poses.likelihood < p_bound).any(axis=1)


def temporal_fit(poses: Poses2D, p_bound: float, window: int = 7) -> np.ndarray:
    """``(frames, bodyparts, 2)`` robust fit of each track: points under `p_bound` are
    left out and interpolated over, then a running median of `window` frames. A
    bodypart with fewer than two confident points has a NaN fit."""
    xy = poses.xy.astype(np.float64)
    fit = np.full_like(xy, np.nan)
    t = np.arange(poses.n_frames)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(xy).all(axis=2) & (poses.likelihood >= p_bound)
    for j in range(xy.shape[1]):
        if good[:, j].sum() < 2:
            continue
        for c in range(2):
            series = np.interp(t, t[good[:, j]], xy[good[:, j], j, c])
            fit[:, j, c] = median_filter(series, size=window, mode="nearest")
    return fit


def fitting_frames(poses: Poses2D, epsilon: float, p_bound: float, window: int = 7) -> np.ndarray:
    """``(frames,)`` True where some point is more than `epsilon` px off its temporal fit."""
    dev = np.linalg.norm(poses.xy.astype(np.float64) - temporal_fit(poses, p_bound, window),
                         axis=2)
    with np.errstate(invalid="ignore"):
        return (dev > epsilon).any(axis=1)


def candidate_frames(poses: Poses2D, algo: str, epsilon: float = 20.0, p_bound: float = 0.01,
                     frames: list[int] | None = None, window: int = 7) -> np.ndarray:
    """Sorted indices of candidate outlier frames by `algo` (see the module docstring).
    Several animals count as one set of points (the tracked table is the one to use:
    ``jump`` on untracked animals sees their order change)."""
    if poses.multi:
        cells = table_columns(poses.individuals, poses.bodyparts, poses.unique_bodyparts)
        i, j = (np.array(v) for v in zip(*cells, strict=True))
        names = [f"{poses.individuals[a]}/{poses.bodyparts[b]}" for a, b in cells]
        poses = Poses2D(names, poses.data[:, i, j])
    if algo == "jump":
        return np.flatnonzero(jump_frames(poses, epsilon))
    if algo == "uncertain":
        return np.flatnonzero(uncertain_frames(poses, p_bound))
    if algo == "fitting":
        return np.flatnonzero(fitting_frames(poses, epsilon, p_bound, window))
    if algo == "manual":
        if not frames:
            raise DataError("outliers --algo manual needs --frames, e.g. --frames 1,5,9")
        bad = [f for f in frames if not 0 <= f < poses.n_frames]
        if bad:
            raise DataError(
                f"frames {bad} are outside the analysis table's 0..{poses.n_frames - 1}")
        return np.array(sorted(set(frames)), int)
    raise DataError(f"unknown outlier algorithm {algo!r}; choose from {ALGORITHMS}")


# ------------------------------------------------------------------ files

def find_analysis(video: Path) -> Path:
    """The analysis table of `video` beside it: ``<stem><scorer>.h5``, preferring
    DeepLabCut's ``<stem>DLC...`` names; filtered tables and ground truth are not it."""
    found = sorted(p for p in video.parent.glob(f"{video.stem}*.h5")
                   if not p.stem.endswith(("_filtered", "_groundtruth")))
    tracked = [p for p in found if p.stem.endswith(TRACKER_SUFFIX)]
    if len(tracked) == 1:  # several animals: the tracked table, not the per-frame one
        return tracked[0]
    dlc = [p for p in found if p.name.startswith(f"{video.stem}DLC")]
    if len(dlc) == 1 or len(found) == 1:
        return (dlc or found)[0]
    if not found:
        raise DataError(f"{video}: no analysis table {video.stem}<scorer>.h5 beside it "
                        "(run poseloop analyze, or pass --table)")
    raise DataError(f"{video}: several analysis tables {[p.name for p in dlc or found]}; "
                    "pass --table")


def _video_key(project: Project, video: Path) -> str:
    """The video_sets key of `video` (by stem), adding the video to the project if absent."""
    for key in project.config.video_sets:
        if Path(key).stem == video.stem:
            return key
    added = add_videos(project, [video])[0]
    log.info("%s: added to video_sets of %s", video, project.config_path)
    return str(added)


@dataclass
class OutlierResult:
    video: Path
    table: Path
    candidates: int
    frames: list[int]
    machinelabels: Path | None


def _pick(reader: VideoReader, candidates: list[int], k: int, crop, seed: int) -> list[int]:
    if len(candidates) <= k:
        return candidates
    if len(candidates) > MAX_CANDIDATES:
        keep = np.linspace(0, len(candidates) - 1, MAX_CANDIDATES).round().astype(int)
        candidates = [candidates[i] for i in keep]
    thumbs = [thumbnail(reader.read(i), crop)
              for i in tqdm(candidates, desc=f"{reader.path.name} candidates", unit="frame")]
    return kmeans_pick(np.stack(thumbs), candidates, k, seed)


def extract_outliers(
    project: str | Path | Project,
    video: str | Path,
    table: str | Path | None = None,
    algo: str = "jump",
    epsilon: float = 20.0,
    p_bound: float = 0.01,
    frames: list[int] | None = None,
    window: int = 7,
    seed: int = 0,
) -> OutlierResult:
    """Find outlier frames of `video` in its analysis table and write them for refinement."""
    if not isinstance(project, Project):
        project = open_project(project)
    video = Path(video)
    table = Path(table) if table is not None else find_analysis(video)
    poses, scorer = read_analysis(table)
    cfg = project.config
    extra = [b for b in poses.bodyparts if b not in cfg.bodyparts]
    if extra:
        raise DataError(f"{table}: bodyparts {extra} are not in {cfg.path}")
    found = candidate_frames(poses, algo, epsilon, p_bound, frames, window)
    with VideoReader(video) as reader:
        n_frames = reader.n_frames
        if poses.n_frames != n_frames:
            log.warning("%s has %d rows but %s has %d frames", table, poses.n_frames, video,
                        n_frames)
        key = _video_key(project, video)
        crop = check_crop(cfg.crop(key), reader.size, f"{cfg.path}: video_sets[{key!r}]")
        folder = project.labeled_data / video.stem
        taken = existing_indices(folder)
        if algo != "manual":
            allowed = set(frame_range(min(n_frames, poses.n_frames), cfg.start, cfg.stop))
            found = [int(f) for f in found if f in allowed]
        candidates = [int(f) for f in found if f not in taken and f < n_frames]
        picked = candidates if algo == "manual" else _pick(
            reader, candidates, cfg.numframes2pick, crop, seed)
        for index in picked:
            save_frame(folder, index, n_frames, reader.read(index), crop)
    log.info("%s: %d candidate frames by %s, %d extracted", video.name, len(found), algo,
             len(picked))
    path = None
    if picked:
        path = _write_machinelabels(project, folder, poses, scorer, picked, n_frames, crop)
    return OutlierResult(video, table, len(found), list(picked), path)


def _write_machinelabels(project: Project, folder: Path, poses: Poses2D, scorer: str,
                         picked: list[int], n_frames: int, crop) -> Path:
    """Add the picked frames' predictions to ``machinelabels-iter<N>.h5`` (crop-relative)."""
    cfg = project.config
    data = poses.data[picked].astype(np.float64)
    if crop is not None:
        data[..., 0] -= crop[0]
        data[..., 1] -= crop[2]
    images = [relative_image(folder.name, frame_name(i, n_frames)) for i in picked]
    human = read_folder_labels(project, folder.name)
    new = LabeledFrames(scorer, poses.bodyparts, images, data[..., :2],
                        human.index_style if human else "flat", data[..., 2], poses.individuals,
                        poses.unique_bodyparts)
    new = project.conform(new)
    path = machinelabels_path(folder, cfg.iteration)
    if path.exists():
        old = project.conform(read_labels(path))
        rows = {img: (xy, lik) for img, xy, lik in zip(old.images, old.xy, old.likelihood,
                                                      strict=True)}
        rows.update({img: (xy, lik) for img, xy, lik in zip(new.images, new.xy, new.likelihood,
                                                           strict=True)})
        new = LabeledFrames(scorer, cfg.bodyparts, list(rows),
                            np.stack([r[0] for r in rows.values()]), new.index_style,
                            np.stack([r[1] for r in rows.values()]), cfg.label_individuals,
                            cfg.unique_bodyparts)
    return write_labels(new, path, csv=False)
