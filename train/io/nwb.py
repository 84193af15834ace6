"""Analyses as Neurodata Without Borders files, with the ``ndx-pose`` extension.

One ``PoseEstimation`` (in the ``behavior`` processing module) holds one
``PoseEstimationSeries`` per bodypart: x, y in video pixels (NaN where there is no
pose) and the likelihood as confidence, one row per frame with timestamps ``frame / fps``;
the skeleton goes beside it in ``Skeletons``, the video (its path, frame rate and size)
into an external ``ImageSeries`` the ``PoseEstimation`` links as its source video.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from calib.errors import DataError
from calib.fileio import atomic_path
from train.data.keypoints import Poses2D

MODULE = "behavior"
CONTAINER = "PoseEstimation"
REFERENCE_FRAME = "(0, 0) is the center of the top-left pixel of the video; x right, y down"
CONFIDENCE = "likelihood of the network's heatmap peak, 0..1"


def write_nwb(poses: Poses2D, scorer: str, path: str | Path, fps: float = 30.0,
              video: str | Path | None = None, size: tuple[int, int] | None = None,
              skeleton: tuple[tuple[str, str], ...] = (), software_version: str = "") -> Path:
    """Write `poses` (frames of `video`, ``size = (width, height)``) to the NWB file `path`."""
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import ImageSeries

    path = Path(path)
    if fps <= 0:
        raise DataError(f"{path}: fps must be > 0, got {fps}")
    nwbfile = NWBFile(session_description=f"poses of {Path(video).name if video else scorer}",
                      identifier=f"{scorer}-{path.stem}",
                      session_start_time=_dt.datetime.now(_dt.timezone.utc))
    names = list(poses.bodyparts)
    edges = np.array([[names.index(a), names.index(b)] for a, b in skeleton],
                     dtype="uint8").reshape(-1, 2)
    nodes = Skeleton(name="skeleton", nodes=names, edges=edges)
    camera = nwbfile.create_device(name="camera", description="camera of the analyzed video")
    timestamps = np.arange(poses.n_frames) / float(fps)
    series = []
    for j, part in enumerate(names):
        series.append(PoseEstimationSeries(
            name=part, description=f"estimated position of {part}",
            data=poses.data[:, j, :2].astype(np.float64), unit="pixels",
            reference_frame=REFERENCE_FRAME,
            timestamps=timestamps if not series else series[0],
            confidence=poses.data[:, j, 2].astype(np.float64),
            confidence_definition=CONFIDENCE))
    source = None
    if video is not None:
        source = ImageSeries(name="video", description="the analyzed video", unit="n.a.",
                             format="external", external_file=[str(video)], starting_frame=[0],
                             rate=float(fps), num_samples=poses.n_frames,
                             dimension=list(size) if size else None)
        nwbfile.add_acquisition(source)
    estimation = PoseEstimation(
        name=CONTAINER, pose_estimation_series=series,
        description=f"poses estimated by {scorer}", source_video=source,
        device=camera, scorer=scorer, source_software="poseloop",
        source_software_version=software_version or None, skeleton=nodes)
    module = nwbfile.create_processing_module(name=MODULE, description="processed behavior")
    module.add(Skeletons(skeletons=[nodes]))
    module.add(estimation)
    with atomic_path(path) as tmp, NWBHDF5IO(str(tmp), mode="w") as io:
        io.write(nwbfile)
    return path


def read_nwb(path: str | Path) -> tuple[Poses2D, str]:
    """The poses and scorer of a file :func:`write_nwb` (or another ndx-pose writer) made."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such NWB file")
    try:
        with NWBHDF5IO(str(path), mode="r") as io:
            nwbfile = io.read()
            estimation = nwbfile.processing[MODULE][CONTAINER]
            series = list(estimation.pose_estimation_series.values())
            if estimation.skeleton is not None:  # bodypart order of the skeleton's nodes
                order = list(estimation.skeleton.nodes[:])
                series.sort(key=lambda s: order.index(s.name) if s.name in order else len(order))
            data = np.stack([np.column_stack([s.data[:, :2], s.confidence[:]]) for s in series],
                            axis=1)
            scorer = str(estimation.scorer or "")
    except KeyError as exc:
        raise DataError(f"{path}: no {MODULE}/{CONTAINER} pose estimation ({exc})") from exc
    except Exception as exc:  # h5py/hdmf raise many types for foreign or broken files
        raise DataError(f"{path}: cannot read as NWB ({type(exc).__name__}: {exc})") from exc
    return Poses2D(tuple(s.name for s in series), data.astype(np.float32)), scorer
