"""Top-down against bottom-up on one multi-animal project, measured.

Top-down here: the animals are found first (the box of the parts the bottom-up model
assembled, or, as the best any detector could do, of the labeled parts), then a
single-animal network trained on crops around each labeled animal predicts each animal's
parts from a crop around it. Both (the last snapshot of each) are scored with the same
metrics (matched RMSE, OKS mAP) on the same test frames and timed on the same frames,
with the single-animal network of the same backbone (untrained: only its speed counts)
as the reference.

    python tools/bench_topdown.py crops PROJECT --shuffle 3 --out DIR
    poseloop train DIR/crops-topdown-<date> --epochs E --threads 1 --test-images ...
    python tools/bench_topdown.py compare PROJECT CROPS_PROJECT --shuffle 3 --clip CLIP.mp4

``crops`` writes a single-animal project of square crops (side ``--side``) centered on
each labeled animal of the shuffle's frames (test crops from test frames) and prints the
train command whose number of epochs gives as many training samples as the bottom-up
shuffle saw. ``compare`` prints accuracy and frames/s (run it under ``measure``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from bench_animals import single_animal_twin

from train.data.keypoints import LabeledFrames
from train.data.project import create_project, open_project
from train.data.tables import write_labels
from train.data.video import VideoReader
from train.model.animals.metrics import match_and_score, per_bodypart_rmse
from train.model.artifact import load_model
from train.model.dataset import make_split
from train.model.evaluate import predict_split
from train.model.export import export_network
from train.model.train_config import ModelDir


def crop_around(frame: np.ndarray, center: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``side`` x ``side`` crop of `frame` centered on `center` (x, y), padded with black
    outside the frame, and the frame position of its top-left pixel."""
    x0, y0 = (np.round(center) - side // 2).astype(int)
    pad = side
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    x0c, y0c = np.clip([x0 + pad, y0 + pad], 0, [padded.shape[1] - side, padded.shape[0] - side])
    return padded[y0c:y0c + side, x0c:x0c + side], np.array([x0c - pad, y0c - pad], float)


def animal_centers(animals: np.ndarray) -> np.ndarray:
    """``(I, 2)`` mean of each animal's points (``(I, K, >=2)``, NaN where absent); NaN
    for an animal with fewer than two points."""
    xy = animals[..., :2]
    seen = np.isfinite(xy).all(-1)
    with np.errstate(invalid="ignore"):
        center = np.nanmean(np.where(seen[..., None], xy, np.nan), axis=1)
    center[seen.sum(-1) < 2] = np.nan
    return center


def make_crops(project_path: str, shuffle: int, out: Path, side: int) -> None:
    project = open_project(project_path)
    c = project.config
    model_dir = ModelDir.of(project, shuffle)
    labels = project.load_labels()
    split = make_split(project, shuffle, model_dir.training_fraction, labels=labels)
    index = {img: i for i, img in enumerate(labels.images)}
    crops = create_project("crops", [], list(c.bodyparts), scorer="topdown",
                           working_directory=out)
    folder = crops.labeled_data / "crops"
    folder.mkdir(parents=True, exist_ok=True)
    names, xy, test = [], [], []
    for name in split.train + split.test:
        frame = cv2.imread(str(project.root / name))
        animals = labels.xy[index[name]]
        for a, center in enumerate(animal_centers(animals)):
            if not np.isfinite(center).all():
                continue
            crop, origin = crop_around(frame, center, side)
            rel = f"labeled-data/crops/{Path(name).stem}_a{a}.png"
            cv2.imwrite(str(crops.root / rel), crop)
            names.append(rel)
            xy.append(animals[a] - origin)
            if name in split.test:
                test.append(rel)
    write_labels(LabeledFrames("topdown", c.bodyparts, names, np.stack(xy)),
                 folder / "CollectedData_topdown.h5")
    stats = model_dir.train_dir / "learning_stats.csv"
    steps = int(stats.read_text().strip().splitlines()[-1].split(",")[1])
    n_train = len(names) - len(test)
    epochs = round(steps * 8 / n_train)  # batch 8, as the CPU defaults train
    print(f"{len(names)} crops ({n_train} train, {len(test)} test) in {crops.root}\n"
          f"the bottom-up shuffle trained {steps} steps: {epochs} epochs of these crops\n"
          f"poseloop train {crops.root} --epochs {epochs} --threads 1 --test-images "
          + " ".join(test))


class TopDown:
    """Detector (the bottom-up model: the box of each animal it assembled) + the
    single-animal model on a crop around each animal."""

    def __init__(self, detector, pose, side: int):
        self.detector, self.pose, self.side = detector, pose, side

    def from_centers(self, frames: list[np.ndarray], centers: np.ndarray) -> np.ndarray:
        """``(N, M, K, 3)`` poses of the animals centered at ``centers (N, M, 2)``."""
        n, m = centers.shape[:2]
        out = np.full((n, m, len(self.pose.bodyparts), 3), np.nan, np.float32)
        crops, where, origins = [], [], []
        for i, frame in enumerate(frames):
            for a in range(m):
                if np.isfinite(centers[i, a]).all():
                    crop, origin = crop_around(frame, centers[i, a], self.side)
                    crops.append(crop)
                    where.append((i, a))
                    origins.append(origin)
        if crops:
            poses = self.pose(np.stack(crops))
            poses[..., :2] += np.stack(origins)[:, None, :]
            for (i, a), p in zip(where, poses, strict=True):
                out[i, a] = p
        return out

    def __call__(self, frames: list[np.ndarray]) -> np.ndarray:
        found = self.detector(np.stack(frames))
        return self.from_centers(frames, np.stack([animal_centers(f) for f in found]))


def scores(gt: np.ndarray, pred: np.ndarray, pcutoff: float, bodyparts) -> dict:
    out = match_and_score(gt, pred, pcutoff)
    out["per_bodypart"] = dict(zip(bodyparts, per_bodypart_rmse(gt, pred).tolist(),
                                   strict=True))
    return out


def timed(fn, frames: list[np.ndarray], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        fn(frames[i:i + batch])
    return len(frames) / (time.perf_counter() - t0)


def compare(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    project = open_project(args.project)
    split = predict_split(project, args.shuffle, "last", "cpu", False, args.batch)
    crops = open_project(args.crops)
    pose = load_model(export_network(crops, args.crop_shuffle, Path(args.out) / "topdown.pt2",
                                     snapshot="last"))
    top = TopDown(split.model, pose, args.side)
    test = slice(split.n_train, None)
    gt, images = split.gt[test], split.images[test]
    pcut = project.config.pcutoff
    parts = project.config.bodyparts
    report = {
        "bottom_up": scores(gt, split.preds[test], pcut, parts),
        "top_down": scores(gt, top(images), pcut, parts),
        "top_down_label_boxes": scores(
            gt, top.from_centers(images, np.stack([animal_centers(g) for g in gt])), pcut,
            parts),
    }
    if args.clip:
        with VideoReader(args.clip) as reader:
            frames = [f for _, f in zip(range(args.frames), reader, strict=False)]
        # the single-animal network of the same backbone, on the same frames
        config = ModelDir.of(project, args.shuffle).read_config()
        single = load_model(single_animal_twin(split.model_path, config, len(parts),
                                               Path(args.out) / "single_twin.pt2"))
        models = {"bottom_up": split.model, "top_down": top, "single_animal": single}
        speed: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(args.repeats):  # alternated, so all see the same load
            for name, model in models.items():
                speed[name].append(timed(model, frames, args.batch))
        med = {k: float(np.median(v)) for k, v in speed.items()}
        report["speed"] = {**med, "ratio_top_down": med["top_down"] / med["bottom_up"],
                           "ratio_bottom_up_to_single": med["bottom_up"] / med["single_animal"],
                           "runs": speed, "frames": len(frames), "threads": args.threads,
                           "input": list(frames[0].shape[:2]), "side": args.side}
    print(json.dumps(report, indent=1))
    Path(args.out, "topdown_report.json").write_text(json.dumps(report, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("crops", help="the single-animal project of crops around each animal")
    p.add_argument("project")
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("topdown"))
    p.add_argument("--side", type=int, default=192, help="crop side, px")
    p = sub.add_parser("compare", help="accuracy and frames/s, bottom-up vs top-down")
    p.add_argument("project")
    p.add_argument("crops", help="the crops project, trained")
    p.add_argument("--shuffle", type=int, default=1)
    p.add_argument("--crop-shuffle", type=int, default=1)
    p.add_argument("--side", type=int, default=160, help="crop side at test time, px")
    p.add_argument("--clip", type=Path, help="a video to time both on")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    if args.cmd == "crops":
        args.out.mkdir(parents=True, exist_ok=True)
        make_crops(args.project, args.shuffle, args.out, args.side)
    else:
        compare(args)


if __name__ == "__main__":
    main()
