"""Offline 3D: per-camera DeepLabCut analysis tables + a calibration -> a 3D table and a
trajectory plot (``poseloop triangulate``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from calib.errors import ConfigError, DataError
from train.data.keypoints import Poses2D, Poses3D
from train.data.tables import poses3d_path, read_analysis, write_poses3d

log = logging.getLogger(__name__)


def match_tables(camera_names: list[str], tables: list[str | Path],
                 cameras: list[str] | None = None) -> list[tuple[str, Path]]:
    """Pair each table with a camera of the calibration.

    With `cameras` given, they name the tables' cameras in order. Otherwise a table whose
    file name contains exactly one camera name is matched by name; if none does, tables
    take the calibration's cameras in argument order.
    """
    tables = [Path(t) for t in tables]
    if cameras is not None:
        if len(cameras) != len(tables):
            raise ConfigError(f"{len(cameras)} camera names for {len(tables)} tables")
        unknown = [c for c in cameras if c not in camera_names]
        if unknown:
            raise ConfigError(f"cameras {unknown} are not in the calibration ({camera_names})")
        return list(zip(cameras, tables, strict=True))
    by_name = []
    for t in tables:
        hits = [c for c in camera_names if c in t.name]
        # the longest name wins ("cam1" inside "cam10" is not a second hit)
        hits = [h for h in hits if not any(h != o and h in o for o in hits)]
        by_name.append(hits[0] if len(hits) == 1 else None)
    if all(by_name) and len(set(by_name)) == len(by_name):
        return list(zip(by_name, tables, strict=True))
    if len(tables) > len(camera_names):
        raise ConfigError(f"{len(tables)} tables for a calibration of {len(camera_names)} "
                          f"cameras ({camera_names})")
    return list(zip(camera_names, tables, strict=True))


def stack_poses(poses: list[Poses2D], tables: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Camera-first pixels ``(C, frames, bodyparts, 2)`` and likelihoods ``(C, frames,
    bodyparts)``; all tables must have the same bodyparts. Videos of different lengths are
    cut to the shortest (logged)."""
    first = poses[0].bodyparts
    for p, t in zip(poses[1:], tables[1:], strict=True):
        if set(p.bodyparts) != set(first):
            raise DataError(f"{t}: bodyparts {list(p.bodyparts)} differ from {tables[0]}'s "
                            f"{list(first)}")
    n = min(p.n_frames for p in poses)
    if any(p.n_frames != n for p in poses):
        log.warning("tables have %s frames: using the first %d",
                    [p.n_frames for p in poses], n)
    data = np.stack([p.data[:n][:, [p.bodyparts.index(b) for b in first]] for p in poses])
    return data[..., :2].astype(np.float64), data[..., 2].astype(np.float64)


def triangulate_tables(calibration: str | Path, tables: list[str | Path],
                       output: str | Path | None = None, cameras: list[str] | None = None,
                       pcutoff: float = 0.1, robust: bool = True, threshold: float = 15.0,
                       refine: bool = False, csv: bool = True,
                       plot: bool = True) -> tuple[Path, Poses3D]:
    """Triangulate per-camera analysis tables with a calibration TOML.

    Writes ``output`` (default: beside the first table, ``<stem>_3d.h5``) with per bodypart
    x, y, z, score, error, ncams (plus CSV), and the trajectory plot ``<output>.png``.
    Views under `pcutoff` are left out; `robust` drops views farther than `threshold` px
    from the consensus of the others.
    """
    from calib.calibration import load_calibration
    from calib.report import plot_trajectories
    from calib.triangulate import Triangulator

    rig = load_calibration(calibration)
    if len(tables) < 2:
        raise ConfigError(f"triangulation needs tables of at least 2 cameras, got {len(tables)}")
    pairs = match_tables(rig.names, tables, cameras)
    read = [read_analysis(t) for _, t in pairs]
    poses = [p for p, _ in read]
    pixels, lik = stack_poses(poses, [t for _, t in pairs])
    cams = [rig.camera(name) for name, _ in pairs]
    log.info("triangulating %d frames x %d bodyparts from cameras %s", pixels.shape[1],
             pixels.shape[2], [c.name for c in cams])
    result = Triangulator(cams).triangulate(pixels, lik, pcutoff=pcutoff, robust=robust,
                                            threshold=threshold, refine=refine)
    bodyparts = poses[0].bodyparts
    poses3d = Poses3D(bodyparts, result.xyz, result.score, result.reprojection_error,
                      result.n_cameras)
    first = Path(pairs[0][1])
    output = Path(output) if output else poses3d_path(first.stem, first.parent)
    scorer = read[0][1]
    path = write_poses3d(poses3d, scorer, output, csv=csv)
    if plot:
        plot_trajectories(result.xyz, bodyparts, path.with_suffix(".png"), cams)
    found = result.n_cameras >= 2
    log.info("3D points: %d of %d (%.1f%%); median reprojection error %.2f px",
             int(found.sum()), found.size, 100 * found.mean(),
             float(np.nanmedian(result.reprojection_error)) if found.any() else float("nan"))
    return path, poses3d
