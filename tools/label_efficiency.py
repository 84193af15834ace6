"""Label efficiency: test error against the number of labeled training frames, from ImageNet
weights or from random weights, with the training defaults and a time budget.

``run`` copies a project, keeps the test frames of its shuffle-1 split, keeps the labels of
the first N training frames of a fixed random order (so 10 frames are part of the 20, the
20 part of the 50 ...), removes the others' labels, and trains with the defaults
(``--weights none`` for the random start). ``plot`` reads the runs' learning_stats.csv
and draws test error against training minutes.

    python tools/label_efficiency.py run ../shared/data/openfield --frames 20 \
        --weights imagenet --minutes 20 --out /tmp/le
    python tools/label_efficiency.py plot /tmp/le/* --png label_efficiency.png
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np


def subset_project(source: Path, dest: Path, frames: int | None, seed: int = 0) -> list[str]:
    """Copy `source` to `dest` keeping the labels of `frames` training frames (all when
    None); returns the test images (shuffle 1's split of the whole project)."""
    from train.data.config import OWN_FILE
    from train.data.keypoints import LabeledFrames
    from train.data.project import open_project
    from train.data.tables import read_labels, write_labels
    from train.model.dataset import make_split

    # the project's configs and labels only: no model folders (of either tool), training
    # sets or videos, which the subset's training neither needs nor may reuse
    dest.mkdir(parents=True)
    for name in ("config.yaml", OWN_FILE):
        if (source / name).exists():
            shutil.copy2(source / name, dest / name)
    shutil.copytree(source / "labeled-data", dest / "labeled-data")
    project = open_project(dest)
    split = make_split(project, 1)
    order = np.random.default_rng(seed).permutation(len(split.train))
    keep = set(split.test) | {split.train[i] for i in order[:frames]}
    for path in project.label_files():
        labels = read_labels(path)
        xy = labels.xy.copy()
        xy[[img not in keep for img in labels.images]] = np.nan
        write_labels(LabeledFrames(labels.scorer, labels.bodyparts, labels.images, xy,
                                   labels.index_style), path)
    shutil.rmtree(dest / "training-datasets")
    return split.test


def run(args: argparse.Namespace) -> None:
    from train.model.trainer import train_network

    name = f"{args.weights}-{args.frames or 'all'}"
    dest = Path(args.out) / name
    test = subset_project(Path(args.project), dest, args.frames)
    model_dir = train_network(dest, test_images=test, weights=args.weights,
                              max_minutes=args.minutes, progress=False)
    print(f"{name}: {model_dir.log_path}")


def read_curve(log: Path) -> list[tuple[float, float]]:
    """``(minutes, test px)`` of the rows of a learning_stats.csv that have a test error."""
    with log.open() as f:
        return [(float(r["wall_s"]) / 60, float(r["test_error"])) for r in csv.DictReader(f)
                if r["test_error"]]


def plot(args: argparse.Namespace) -> None:
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from train.model.paths import MODELS_FOLDER

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run_dir in sorted(Path(p) for p in args.runs):
        logs = sorted(run_dir.glob(f"{MODELS_FOLDER}/iteration-*/*/train/learning_stats.csv"))
        if not logs:
            continue
        minutes, error = zip(*read_curve(logs[0]), strict=True)
        style = "-" if run_dir.name.lower().startswith("imagenet") else "--"
        ax.plot(minutes, error, style, marker=".", label=run_dir.name)
        print(f"{run_dir.name}: " + ", ".join(f"{m:.1f} min {e:.2f} px"
                                              for m, e in zip(minutes, error, strict=True)))
    ax.set_yscale("log")
    ax.set_xlabel("training time (min, 1 CPU thread)")
    ax.set_ylabel("test error (px, mean over the test frames)")
    ax.set_title(args.title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.png, dpi=100)
    print(args.png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train one point of the curve")
    p.add_argument("project")
    p.add_argument("--frames", type=int, help="labeled training frames (default: all)")
    p.add_argument("--weights", default="imagenet", help="imagenet | none")
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--out", required=True, help="folder for the run's project copy")
    p.set_defaults(fn=run)
    p = sub.add_parser("plot", help="test error against time of finished runs")
    p.add_argument("runs", nargs="+", help="run folders (<out>/<weights>-<frames>, or links "
                   "to them whose names are the legend)")
    p.add_argument("--png", default="label_efficiency.png")
    p.add_argument("--title", default="openfield: test error vs labeled training frames")
    p.set_defaults(fn=plot)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.fn(args)


if __name__ == "__main__":
    main()
