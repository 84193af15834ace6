"""Labels and predictions to and from SLEAP (``.slp``) and the other formats sleap-io
reads and writes (NWB, Label Studio, COCO, JABS, Ultralytics, ... : sleap-io picks by
the file's suffix).

Import makes a poseloop project: the skeleton's nodes become the bodyparts and its edges
the skeleton, every labeled frame is saved as ``labeled-data/<video stem>/img<index>.png``
(DeepLabCut's names) and its user instance (else its predicted one) becomes that image's
labels, NaN where a node is missing. Export writes the project's labels (one sleap-io
video per labeled-data folder, its images in table order) or an analysis (predicted
instances, likelihood as point scores) of a video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calib.errors import DataError
from train.data.keypoints import LabeledFrames, Poses2D
from train.data.project import Project, create_project, open_project


def _load(path: Path):
    import sleap_io as sio

    if not path.exists():
        raise DataError(f"{path}: no such labels file")
    try:
        return sio.load_file(str(path))
    except Exception as exc:  # sleap-io raises many types for foreign or broken files
        raise DataError(f"{path}: sleap-io cannot read it ({type(exc).__name__}: {exc})") from exc


def _instance_points(frame) -> np.ndarray | None:
    """``(nodes, 2)`` of the frame's first user instance, else its first predicted one."""
    instances = list(frame.user_instances) or list(frame.predicted_instances)
    if not instances:
        return None
    return np.asarray(instances[0].numpy(), np.float64)[:, :2]


def _video_stem(video) -> str:
    name = video.filename if isinstance(video.filename, str) else video.filename[0]
    path = Path(name)
    # an image sequence is named after its folder, a video after its file
    return path.parent.name if not isinstance(video.filename, str) else path.stem


def import_labels(path: str | Path, workdir: str | Path, name: str | None = None,
                  scorer: str = "imported") -> Project:
    """A new project in `workdir` holding the labels of `path` (any format sleap-io reads)."""
    from train.data.config import save_config
    from train.data.tables import write_labels
    from train.label.framepick import frame_name, save_png

    path = Path(path)
    labels = _load(path)
    if not labels.skeletons:
        raise DataError(f"{path}: no skeleton")
    skeleton = labels.skeletons[0]
    bodyparts = [str(n) for n in skeleton.node_names]
    videos = [Path(v.filename) for v in labels.videos
              if isinstance(v.filename, str) and Path(v.filename).is_file()]
    project = create_project(name or path.stem, videos, bodyparts, scorer, workdir)
    per_folder: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for frame in labels.labeled_frames:
        xy = _instance_points(frame)
        if xy is None:
            continue
        stem = _video_stem(frame.video)
        image = frame.image
        if image is None:
            raise DataError(f"{path}: frame {frame.frame_idx} of {frame.video.filename} "
                            "cannot be read (is the video there?)")
        image = np.asarray(image)
        bgr = image[..., 0] if image.shape[-1] == 1 else image[..., ::-1]  # sleap-io: RGB
        file = frame_name(int(frame.frame_idx), max(int(frame.video.shape[0]), 2))
        save_png(project.labeled_data / stem / file, np.ascontiguousarray(bgr))
        images, rows = per_folder.setdefault(stem, ([], []))
        images.append(f"labeled-data/{stem}/{file}")
        rows.append(xy)
    if not per_folder:
        raise DataError(f"{path}: no labeled instances")
    for stem, (images, rows) in per_folder.items():
        write_labels(LabeledFrames(scorer, tuple(bodyparts), images, np.stack(rows),
                                   index_style="tuple"), project.labels_path(stem))
    project.config.set("skeleton", [[e.source.name, e.destination.name] for e in skeleton.edges])
    save_config(project.config)
    return open_project(project.root)


def _skeleton(bodyparts: tuple[str, ...], edges: tuple[tuple[str, str], ...]):
    import sleap_io as sio

    return sio.Skeleton(list(bodyparts), edges=[tuple(e) for e in edges])


def export_labels(project: str | Path | Project, out: str | Path) -> Path:
    """Write the project's human labels to `out` (``.slp``, ``.nwb``, ...)."""
    import sleap_io as sio

    if not isinstance(project, Project):
        project = open_project(project)
    labels = project.load_labels()
    skeleton = _skeleton(labels.bodyparts, project.config.skeleton)
    frames = []
    by_folder: dict[str, list[int]] = {}
    for i, image in enumerate(labels.images):
        by_folder.setdefault(image.split("/")[1], []).append(i)
    videos = []
    for rows in by_folder.values():
        video = sio.Video.from_filename([str(project.root / labels.images[i]) for i in rows])
        videos.append(video)
        for frame_idx, i in enumerate(rows):
            instance = sio.Instance.from_numpy(labels.xy[i], skeleton=skeleton)
            frames.append(sio.LabeledFrame(video=video, frame_idx=frame_idx, instances=[instance]))
    out = Path(out)
    sio.save_file(sio.Labels(labeled_frames=frames, videos=videos, skeletons=[skeleton]), str(out))
    return out


def export_predictions(poses: Poses2D, video: str | Path, out: str | Path,
                       skeleton: tuple[tuple[str, str], ...] = ()) -> Path:
    """Write an analysis of `video` as predicted instances (frames with no point skipped)."""
    import sleap_io as sio

    sk = _skeleton(poses.bodyparts, skeleton)
    movie = sio.load_video(str(video))
    frames = []
    for index in range(poses.n_frames):
        points = poses.data[index]
        if not np.isfinite(points[:, :2]).any():
            continue
        scores = np.nan_to_num(points[:, 2])
        instance = sio.PredictedInstance.from_numpy(points[:, :2], skeleton=sk,
                                                    point_scores=scores,
                                                    score=float(scores.mean()))
        frames.append(sio.LabeledFrame(video=movie, frame_idx=index, instances=[instance]))
    out = Path(out)
    sio.save_file(sio.Labels(labeled_frames=frames, videos=[movie], skeletons=[sk]), str(out))
    return out



def read_predictions(path: str | Path) -> tuple[Poses2D, str]:
    """The predicted (else user) instances of the first video of `path` as an analysis:
    one row per video frame, NaN where a frame has none; likelihood = point score (1 for
    a user instance). The scorer is the file's stem."""
    path = Path(path)
    labels = _load(path)
    if not labels.skeletons or not labels.videos:
        raise DataError(f"{path}: no skeleton or no video")
    bodyparts = tuple(str(n) for n in labels.skeletons[0].node_names)
    video = labels.videos[0]
    frames = [f for f in labels.labeled_frames if f.video is video]
    n = max([int(video.shape[0]) if video.shape else 0] + [f.frame_idx + 1 for f in frames])
    data = np.full((n, len(bodyparts), 3), np.nan, np.float32)
    for frame in frames:
        predicted = list(frame.predicted_instances)
        instances = predicted or list(frame.user_instances)
        if not instances:
            continue
        points = np.asarray(instances[0].numpy(), np.float64)[:, :2]
        scores = (np.asarray(instances[0].numpy(scores=True))[:, 2] if predicted
                  else np.ones(len(bodyparts)))
        data[frame.frame_idx] = np.column_stack([points, scores])
    return Poses2D(bodyparts, data), path.stem
