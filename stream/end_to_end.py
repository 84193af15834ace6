"""``poseloop demo``: the whole loop on synthetic data, on a CPU, in minutes.

Renders a labeled synthetic project, trains with the defaults for this machine, exports the
deployable model, analyzes the video through the streaming runtime in batch mode
(video source -> inference -> recorder processes over ZeroMQ) and scores the poses
against the renderer's exact ground truth on frames the network never trained on.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    project: Path
    model: Path
    table: Path
    test_error: float  # px, labeled frames held out of training
    video_error: float  # px, every video frame not used for training
    video_frames: int
    minutes: float


def _frame_index(image: str) -> int:
    match = re.search(r"(\d+)\.png$", image)
    if match is None:
        raise ValueError(f"cannot read a frame index from {image}")
    return int(match.group(1))


def heldout_error(table: Path, groundtruth: Path, train_frames: set[int]) -> tuple[float, int]:
    """Mean pixel error of `table` against `groundtruth` over visible points of frames
    not in `train_frames`; returns ``(error, number of frames scored)``."""
    from train.data.tables import read_analysis

    poses, _ = read_analysis(table)
    truth, _ = read_analysis(groundtruth)
    if poses.n_frames != truth.n_frames or poses.bodyparts != truth.bodyparts:
        raise ValueError(
            f"{table}: {poses.n_frames} frames of {poses.bodyparts}, ground truth "
            f"has {truth.n_frames} of {truth.bodyparts}"
        )
    keep = np.ones(poses.n_frames, bool)
    keep[[i for i in train_frames if i < poses.n_frames]] = False
    dist = np.linalg.norm(poses.xy[keep] - truth.xy[keep], axis=2)
    visible = truth.likelihood[keep] > 0.5
    return float(np.nanmean(dist[visible])), int(keep.sum())


def run_demo(
    outdir: str | Path,
    frames: int = 600,
    labeled: int = 120,
    minutes: float = 5.0,
    seed: int = 0,
    batch_size: int = 8,
) -> DemoResult:
    from stream.batch import analyze_videos
    from train.model.dataset import make_split
    from train.model.evaluate import evaluate_network
    from train.model.export import export_network
    from train.model.trainer import train_network
    from train.synth.animal import SynthConfig, groundtruth_path, make_synthetic_project

    start = time.monotonic()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    print(f"[1/4] rendering a labeled synthetic project ({frames} frames, {labeled} labeled)")
    project = make_synthetic_project(outdir, SynthConfig(n_frames=frames, seed=seed), labeled)
    print(f"[2/4] training with the defaults for this machine, at most {minutes:g} min")
    train_network(project, max_minutes=minutes, seed=seed)
    split = make_split(project)
    print("[3/4] evaluating and exporting the deployable model")
    evaluation = evaluate_network(project)
    model = export_network(project)
    print("[4/4] analyzing the video through the streaming runtime (batch mode)")
    video = project.videos()[0]
    (table,) = analyze_videos(model, [video], destfolder=outdir, csv=True, batch_size=batch_size)
    train_frames = {_frame_index(img) for img in split.train}
    video_error, scored = heldout_error(table, groundtruth_path(video), train_frames)
    result = DemoResult(
        project.root,
        model,
        table,
        evaluation.error("test"),
        video_error,
        scored,
        (time.monotonic() - start) / 60,
    )
    print(f"\nproject: {result.project}\nmodel:   {result.model}\nposes:   {result.table}")
    print(f"test error (held-out labeled frames): {result.test_error:.2f} px")
    print(
        f"video error vs ground truth ({scored} frames not used for training): "
        f"{result.video_error:.2f} px"
    )
    print(f"total: {result.minutes:.1f} min")
    return result
