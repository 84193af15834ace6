"""Fixtures for the network/training/evaluation tests: a tiny labeled project of
colored disks on a textured background, with exact labels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from train.data.config import save_config
from train.data.keypoints import LabeledFrames
from train.data.project import create_project, open_project
from train.data.tables import write_labels

COLORS = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}  # BGR


def make_blob_project(workdir: Path, n: int = 16, size: tuple[int, int] = (64, 96),
                      seed: int = 0, fraction: float = 0.75):
    """Project with `n` frames ``size = (h, w)``; bodypart i is a disk of color i whose
    center is the label. The last image leaves 'blue' unlabeled (NaN)."""
    rng = np.random.default_rng(seed)
    project = create_project("blobs", [], list(COLORS), "tester", workdir)
    project.config.set("TrainingFraction", [fraction])
    save_config(project.config)
    project = open_project(project.root)
    folder = project.labeled_data / "clip"
    folder.mkdir(parents=True)
    h, w = size
    images, xy = [], np.full((n, len(COLORS), 2), np.nan)
    for i in range(n):
        frame = (rng.random((h, w, 3)) * 60 + 40).astype(np.uint8)
        for j, color in enumerate(COLORS.values()):
            x, y = rng.uniform(8, w - 9), rng.uniform(8, h - 9)
            cv2.circle(frame, (int(round(x * 16)), int(round(y * 16))), 4 * 16, color, -1,
                       cv2.LINE_AA, shift=4)
            xy[i, j] = (x, y)
        name = f"img{i:03d}.png"
        cv2.imwrite(str(folder / name), frame)
        images.append(f"labeled-data/clip/{name}")
    xy[-1, 2] = np.nan
    labels = LabeledFrames("tester", tuple(COLORS), images, xy)
    write_labels(labels, project.labels_path("clip"))
    return project


@pytest.fixture
def blob_project(tmp_path):
    return make_blob_project(tmp_path)


TINY = dict(net="resnet_18", weights="none", epochs=4, batch_size=4, head_channels=32,
            eval_every=2, save_every=1, lr=2e-3)


@pytest.fixture(scope="module")
def trained_blobs(tmp_path_factory):
    """A blob project trained for a few epochs (shared by a test module)."""
    import torch

    from train.model.train_config import TrainConfig
    from train.model.trainer import train_network

    torch.set_num_threads(1)
    project = make_blob_project(tmp_path_factory.mktemp("blobs"))
    model_dir = train_network(project, TrainConfig(**TINY), progress=False)
    return project, model_dir
