"""Several animals, measured: evaluation (matched RMSE, OKS mAP), tracking on a clip with
ground truth (ID switches per 1000 frames, MOTA, IDF1) and analysis speed against the
single-animal network of the same backbone at the same input size.

    python tools/bench_animals.py PROJECT CLIP.mp4 [--out DIR] [--threads 1]

PROJECT is a trained multi-animal project (e.g. ``poseloop synth DIR --animals 3
--project --labeled 200`` then ``poseloop train``); CLIP a synthetic clip with its
``<stem>_groundtruth.h5`` (``poseloop synth DIR --animals 3 --frames 2000 --seed 1``).
Run under ``measure`` for timings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from train.data.keypoints import Poses2D
from train.data.project import open_project
from train.data.tables import analysis_path, read_analysis, write_analysis
from train.data.video import VideoReader
from train.model.artifact import ModelMeta, export_model, load_model
from train.model.evaluate import evaluate_network
from train.model.network import DeployNet, build_network
from train.model.train_config import ModelDir
from train.post.labeled_video import PoseStyle, bodypart_colors, draw_poses
from train.post.track_metrics import tracking_scores
from train.post.tracking import TrackConfig, track_table
from train.synth.animal import groundtruth_path


def predict_clip(model, frames: list[np.ndarray], batch: int) -> tuple[np.ndarray, float]:
    """Poses of every frame and the frames/s of the model (decode excluded)."""
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        out.append(model(np.stack(frames[i:i + batch])))
    return np.concatenate(out), len(frames) / (time.perf_counter() - t0)


def single_animal_twin(model_path: Path, config, n_parts: int, out: Path) -> Path:
    """The single-animal network of the same backbone and head, exported (untrained:
    only its speed is used)."""
    net = build_network(config, n_parts, weights="none")
    meta = ModelMeta(bodyparts=[f"p{k}" for k in range(n_parts)], scorer="twin",
                     stride=config.stride, min_size=64, input_scale=config.input_scale)
    return export_model(DeployNet(net, config.locref_std), meta, out, example_hw=(240, 320))


def contact_sheet(frames: list[np.ndarray], poses: np.ndarray, picks: list[int],
                  path: Path) -> None:
    style = PoseStyle(colors=bodypart_colors(poses.shape[1]), pcutoff=0.3, radius=2.5,
                      skeleton=[(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 5), (5, 6)])
    tiles = [cv2.putText(draw_poses(frames[i].copy(), poses[i], style), f"frame {i}", (4, 14),
                         cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1) for i in picks]
    rows = [np.hstack(tiles[r:r + 3]) for r in range(0, len(tiles), 3)]
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project")
    parser.add_argument("clip", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench-animals"))
    parser.add_argument("--shuffle", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    project = open_project(args.project)
    report: dict = {}

    result = evaluate_network(project, args.shuffle, progress=False)
    report["evaluation"] = json.loads(result.summary.to_json(orient="index"))
    report["per_bodypart_test_rmse"] = {
        bp: float(v) for (s, bp), v in result.bodyparts["rmse"].items() if s == "test"}
    report["pictures"] = str(result.folder / "images")

    model = load_model(result.model_path)
    with VideoReader(args.clip) as reader:
        frames = list(reader)
    poses, _ = predict_clip(model, frames, args.batch)
    scorer = model.meta.scorer
    raw = write_analysis(Poses2D(model.bodyparts, poses, model.individuals), scorer,
                         analysis_path(args.clip, scorer, args.out))
    config = ModelDir.of(project, args.shuffle).read_config()
    tracks = track_table(raw, TrackConfig(), identity=model.meta.identity)
    truth, _ = read_analysis(groundtruth_path(args.clip))
    tracked, _ = read_analysis(tracks)
    report["clip"] = {"frames": len(frames), "table": str(raw), "tracked": str(tracks)}
    report["untracked"] = tracking_scores(truth.data, poses)
    report["tracked"] = tracking_scores(truth.data, tracked.data)
    contact_sheet(frames, tracked.data, list(np.linspace(0, len(frames) - 1, 6).astype(int)),
                  args.out / "tracked_frames.png")

    twin = load_model(single_animal_twin(result.model_path, config, len(model.bodyparts),
                                         args.out / "single_twin.pt2"))
    speeds: dict[str, list[float]] = {"multi": [], "single": []}
    sample = frames[:400]
    for _ in range(args.repeats):  # alternate, so all see the same machine load
        speeds["multi"].append(predict_clip(model, sample, args.batch)[1])
        speeds["single"].append(predict_clip(twin, sample, args.batch)[1])
    report["speed"] = {k: float(np.median(v)) for k, v in speeds.items()}
    sp = report["speed"]
    sp["ratio"] = sp["multi"] / sp["single"]
    report["speed"]["input"] = list(frames[0].shape[:2])
    report["speed"]["threads"] = args.threads
    print(json.dumps(report, indent=1, default=float))
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
