"""Close the active-learning loop on the synthetic animal and print the numbers.

1. a synthetic project: a clip with exact ground truth and a few labeled frames;
2. train a deliberately weak network (few labels, few epochs), export it, analyze the clip;
3. ``outliers`` on the analysis: the share of picked frames whose true error is > 10 px;
4. correct those frames from the ground truth through ``train.label.session.correct_frames``
   (the labeler's own save path), ``merge``;
5. retrain with the same settings, export, analyze again; the error against ground truth
   over the whole clip (mostly frames no network was trained on) before and after.

Usage: python tools/close_the_loop.py [--workdir DIR] [--epochs 30] [--labeled 12] ...
[--json FILE] (the numbers as JSON too, for tests/train/label/test_close_the_loop.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from train.data.keypoints import Poses2D  # noqa: E402
from train.data.project import Project, open_project  # noqa: E402
from train.data.tables import read_analysis  # noqa: E402
from train.label.framepick import frame_index  # noqa: E402
from train.label.merge import merge_datasets  # noqa: E402
from train.label.outliers import candidate_frames, extract_outliers  # noqa: E402
from train.label.session import correct_frames, read_machine_labels  # noqa: E402
from train.synth.animal import SynthConfig, groundtruth_path, make_synthetic_project  # noqa: E402

log = logging.getLogger("close_the_loop")
TRUE_ERROR_PX = 10.0


@dataclass
class Round:
    """One iteration: its labeled frames and its network's error on the whole clip."""

    iteration: int
    labeled: int
    mean_error: float  # px, visible points of every frame of the clip
    frames_over_10px: float  # share of frames with some visible point > 10 px off
    minutes: float


@dataclass
class LoopResult:
    before: Round
    after: Round
    outliers: list[int]
    outlier_true_error: list[float]  # worst visible point of each picked frame, px
    candidates: int
    detectors: list[tuple[str, int, float, float]]  # setting, candidates, precision, recall

    @property
    def precision(self) -> float:
        """Share of extracted frames whose true error exceeds 10 px."""
        return float(np.mean(np.array(self.outlier_true_error) > TRUE_ERROR_PX))


def frame_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(frames, bodyparts)`` px distance of predictions to the ground truth, NaN where
    the part is hidden (truth likelihood 0) or not predicted."""
    dist = np.linalg.norm(pred[..., :2].astype(np.float64) - truth[..., :2], axis=2)
    dist[truth[..., 2] < 0.5] = np.nan
    return dist


def detector_table(pred: Poses2D, worst: np.ndarray) -> list[tuple[str, int, float, float]]:
    """Candidates, precision and recall (frames whose worst visible point is > 10 px off)
    of each outlier detector at a few settings, on one analysis."""
    rows = []
    bad = np.flatnonzero(worst > TRUE_ERROR_PX)
    settings = [("jump", {"epsilon": e}) for e in (10, 20)]
    settings += [("fitting", {"epsilon": e}) for e in (5, 10)]
    settings += [("uncertain", {"p_bound": p}) for p in (0.01, 0.05, 0.1, 0.3)]
    for algo, kw in settings:
        c = candidate_frames(pred, algo, **kw)
        precision = float(np.mean(worst[c] > TRUE_ERROR_PX)) if len(c) else float("nan")
        recall = float(np.mean(np.isin(bad, c))) if len(bad) else float("nan")
        name = f"{algo} " + " ".join(f"{k}={v:g}" for k, v in kw.items())
        rows.append((name, len(c), precision, recall))
    return rows


def _analyze(model: Path, video: Path, dest: Path) -> Path:
    """The video's analysis table, made by the batch runtime (``poseloop analyze``)."""
    from stream.batch import analyze_videos

    return analyze_videos(model, [video], destfolder=dest, progress=False)[0]


def _train_and_analyze(project: Project, video: Path, truth: np.ndarray, epochs: int,
                       max_minutes: float, seed: int) -> tuple[Round, Path]:
    # training and export come from another part of poseloop (torch)
    from train.model.export import export_network
    from train.model.trainer import train_network

    start = time.perf_counter()
    train_network(project, progress=False, epochs=epochs, max_minutes=max_minutes, seed=seed)
    model = export_network(project)
    table = _analyze(model, video, project.root / f"analysis-iter{project.config.iteration}")
    pred, _ = read_analysis(table)
    err = frame_errors(pred.data, truth)
    labeled = len(project.load_labels())
    r = Round(project.config.iteration, labeled, float(np.nanmean(err)),
              float(np.mean(np.nanmax(np.nan_to_num(err, nan=0.0), axis=1) > TRUE_ERROR_PX)),
              (time.perf_counter() - start) / 60)
    log.info("iteration %d: %d labeled frames, mean error %.2f px, %.0f%% of frames > 10 px",
             r.iteration, r.labeled, r.mean_error, 100 * r.frames_over_10px)
    return r, table


def close_the_loop(workdir: str | Path, frames: int = 600, size: tuple[int, int] = (160, 120),
                   labeled: int = 12, numframes2pick: int = 20, epochs: int = 30,
                   max_minutes: float = 10.0, algo: str = "uncertain", epsilon: float = 10.0,
                   p_bound: float = 0.1, seed: int = 0) -> LoopResult:
    """Run the loop once in `workdir` (see the module docstring) and return its numbers."""
    from train.data.config import save_config

    project = make_synthetic_project(workdir, SynthConfig(width=size[0], height=size[1],
                                                          n_frames=frames, seed=seed),
                                     n_labeled=labeled, seed=seed, progress=False)
    project.config.set("numframes2pick", numframes2pick)
    save_config(project.config)
    project = open_project(project.root)
    video = project.videos()[0]
    truth, _ = read_analysis(groundtruth_path(video))
    before, table = _train_and_analyze(project, video, truth.data, epochs, max_minutes, seed)

    found = extract_outliers(project, video, table, algo=algo, epsilon=epsilon, p_bound=p_bound,
                             seed=seed)
    pred, _ = read_analysis(table)
    worst = np.nanmax(np.nan_to_num(frame_errors(pred.data, truth.data), nan=0.0), axis=1)
    detectors = detector_table(pred, worst)
    corrections = {}  # every frame of this iteration's machinelabels, from ground truth
    for image in read_machine_labels(project, video.stem).images:
        f = frame_index(image)
        xy = truth.data[f, :, :2].astype(np.float64)
        xy[truth.data[f, :, 2] < 0.5] = np.nan  # hidden parts stay unlabeled, as a human would
        corrections[image] = xy
    correct_frames(project, corrections)
    merge_datasets(project)
    project = open_project(project.root)
    after, _ = _train_and_analyze(project, video, truth.data, epochs, max_minutes, seed)
    return LoopResult(before, after, found.frames, [float(worst[f]) for f in found.frames],
                      found.candidates, detectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--labeled", type=int, default=12, help="frames labeled at iteration 0")
    parser.add_argument("--pick", type=int, default=20, help="outlier frames to extract")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-minutes", type=float, default=10.0, help="per training run")
    parser.add_argument("--algo", default="uncertain")
    parser.add_argument("--epsilon", type=float, default=10.0)
    parser.add_argument("--p-bound", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="poseloop-loop-"))
    r = close_the_loop(workdir, args.frames, labeled=args.labeled, numframes2pick=args.pick,
                       epochs=args.epochs, max_minutes=args.max_minutes, algo=args.algo,
                       epsilon=args.epsilon, p_bound=args.p_bound, seed=args.seed)
    print(f"project in {workdir}")
    for name, rnd in (("before", r.before), ("after", r.after)):
        print(f"{name:6s}: iteration {rnd.iteration}, {rnd.labeled} labeled frames, mean error "
              f"{rnd.mean_error:.2f} px on the clip, {100 * rnd.frames_over_10px:.0f}% of frames "
              f"> 10 px ({rnd.minutes:.1f} min train+export+analyze)")
    print("outlier detectors on the iteration-0 analysis (true error > 10 px):")
    for name, n, precision, recall in r.detectors:
        print(f"  {name:22s} {n:4d} candidates  precision {precision:.2f}  recall {recall:.2f}")
    print(f"outliers ({args.algo}, epsilon {args.epsilon:g} px, p-bound {args.p_bound:g}): "
          f"{r.candidates} candidates, "
          f"{len(r.outliers)} extracted, {100 * r.precision:.0f}% with true error > 10 px")
    print(f"error ratio after/before: {r.after.mean_error / r.before.mean_error:.2f}")
    if args.json:
        args.json.write_text(json.dumps({**asdict(r), "precision": r.precision}, indent=1))


if __name__ == "__main__":
    main()
