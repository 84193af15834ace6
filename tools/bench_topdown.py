"""Top-down against bottom-up on one multi-animal project, measured: two shuffles of the
same project and split, one trained with each approach (``poseloop train P --shuffle S
--approach topdown|bottomup``), scored with the same metrics (matched RMSE, OKS mAP) on
the same test frames through their exported models (the last snapshots), and timed on the
same frames of a clip against the single-animal network of the same backbone
(untrained: only its speed counts).

    python tools/bench_topdown.py PROJECT --topdown 4 --bottomup 3 --clip CLIP.mp4

Run it under ``measure`` (1 thread by default); the report is printed and written to
``--out``/topdown_report.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from bench_animals import single_animal_twin

from train.data.project import open_project
from train.data.video import VideoReader
from train.model.animals.metrics import match_and_score, per_bodypart_rmse
from train.model.artifact import load_model
from train.model.evaluate import predict_split
from train.model.train_config import ModelDir


def scores(gt: np.ndarray, pred: np.ndarray, pcutoff: float, bodyparts) -> dict:
    out = match_and_score(gt, pred, pcutoff)
    out["per_bodypart"] = dict(zip(bodyparts, per_bodypart_rmse(gt, pred).tolist(),
                                   strict=True))
    return out


def timed(fn, frames: list[np.ndarray], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        fn(np.stack(frames[i:i + batch]))
    return len(frames) / (time.perf_counter() - t0)


def compare(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    project = open_project(args.project)
    c = project.config
    splits = {name: predict_split(project, shuffle, "last", "cpu", False, args.batch)
              for name, shuffle in (("top_down", args.topdown), ("bottom_up", args.bottomup))}
    tests = {name: s.names[s.n_train:] for name, s in splits.items()}
    if tests["top_down"] != tests["bottom_up"]:
        raise SystemExit(f"the two shuffles test different frames: {tests}")
    report: dict = {name: scores(s.gt[s.n_train:], s.preds[s.n_train:], c.pcutoff,
                                 c.bodyparts) for name, s in splits.items()}
    report["test_frames"] = tests["top_down"]
    if args.clip:
        with VideoReader(args.clip) as reader:
            frames = [f for _, f in zip(range(args.frames), reader, strict=False)]
        # the single-animal network of the same backbone as the bottom-up one, same frames
        config = ModelDir.of(project, args.bottomup).read_config()
        single = load_model(single_animal_twin(splits["bottom_up"].model_path, config,
                                               len(c.bodyparts),
                                               Path(args.out) / "single_twin.pt2"))
        models = {"top_down": splits["top_down"].model, "bottom_up": splits["bottom_up"].model,
                  "single_animal": single}
        speed: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(args.repeats):  # alternated, so all see the same load
            for name, model in models.items():
                speed[name].append(timed(model, frames, args.batch))
        med = {k: float(np.median(v)) for k, v in speed.items()}
        report["speed"] = {**med, "ratio_top_down_to_bottom_up": med["top_down"] / med["bottom_up"],
                           "ratio_top_down_to_single": med["top_down"] / med["single_animal"],
                           "ratio_bottom_up_to_single": med["bottom_up"] / med["single_animal"],
                           "runs": speed, "frames": len(frames), "threads": args.threads,
                           "batch": args.batch, "input": list(frames[0].shape[:2])}
    print(json.dumps(report, indent=1))
    Path(args.out, "topdown_report.json").write_text(json.dumps(report, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project")
    parser.add_argument("--topdown", type=int, required=True, help="the top-down shuffle")
    parser.add_argument("--bottomup", type=int, required=True, help="the bottom-up shuffle")
    parser.add_argument("--clip", type=Path, help="a video to time the models on")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    compare(args)


if __name__ == "__main__":
    main()
