"""Tiny exported models for the runtime tests (fast on CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from train.model.artifact import ModelMeta, export_model
from train.model.decode import HeatmapDecoder


class SpotNet(nn.Module):
    """Two bodyparts from a fixed random conv on stride-4 pooled input, decoded as heatmaps.

    Cheap, deterministic, and its outputs move with the image content, so equality
    tests compare real numbers rather than constants.
    """

    def __init__(self, stride: int = 4):
        super().__init__()
        torch.manual_seed(0)
        self.pool = nn.AvgPool2d(stride)
        self.head = nn.Conv2d(3, 2 + 4, 3, padding=1)
        self.decoder = HeatmapDecoder(stride, locref_std=1.0)

    def forward(self, x):
        y = self.head(self.pool(x))
        return self.decoder(y[:, :2] * 5, y[:, 2:])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    meta = ModelMeta(
        bodyparts=["head", "tail"],
        scorer="DLC_tiny",
        stride=4,
        min_size=16,
        skeleton=[["head", "tail"]],
    )
    path = tmp_path_factory.mktemp("model") / "tiny.pt2"
    return export_model(SpotNet(), meta, path, example_hw=(64, 64))


class SlowNet(SpotNet):
    """SpotNet behind two full-resolution 32-channel convolutions: tens of ms per
    320x240 frame on one core, so inference is the slowest stage of a pipeline."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1)
        )

    def forward(self, x):
        return super().forward(self.body(x))


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory) -> Path:
    meta = ModelMeta(bodyparts=["head", "tail"], scorer="DLC_slow", stride=4, min_size=16)
    path = tmp_path_factory.mktemp("model") / "slow.pt2"
    return export_model(SlowNet(), meta, path, example_hw=(64, 64))


def write_random_video(path: Path, n: int, seed: int, size=(48, 64)) -> Path:
    from train.data.video import write_video

    rng = np.random.default_rng(seed)
    write_video(path, [rng.integers(0, 255, (*size, 3), dtype=np.uint8) for _ in range(n)])
    return path
