"""Shared fixtures: real data from ../shared/data (skipped when absent) and small videos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
OPENFIELD = SHARED_DATA / "openfield"
REACHING = SHARED_DATA / "reaching"


@pytest.fixture
def openfield() -> Path:
    """The DeepLabCut openfield example project (read-only)."""
    if not (OPENFIELD / "config.yaml").exists():
        pytest.skip(f"real data not present at {OPENFIELD}")
    return OPENFIELD


@pytest.fixture
def reaching() -> Path:
    """DeepLabCut's Reaching example project (read-only; Tongue unlabeled in 40 frames)."""
    if not (REACHING / "config.yaml").exists():
        pytest.skip(f"real data not present at {REACHING}")
    return REACHING


@pytest.fixture
def small_video(tmp_path) -> Path:
    """A 20-frame 64x48 mp4 whose frame i has a bright square at x = 2 i."""
    from train.data.video import write_video

    frames = []
    for i in range(20):
        f = np.zeros((48, 64, 3), np.uint8)
        f[10:20, 2 * i: 2 * i + 10] = 255
        frames.append(f)
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=30)
    return path


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def write_moving_video(path: Path, n: int, codec: str = "mp4v", size=(64, 96)) -> Path:
    """`n` frames, each different (a square moving over a brightening textured floor)."""
    from train.data.video import write_video

    h, w = size
    floor = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8) // 2

    def frames():
        for i in range(n):
            frame = floor + np.uint8((5 * i) % 120)
            x = (3 * i) % (w - 12)
            frame[20:32, x:x + 12] = 255
            yield frame

    write_video(path, frames(), fps=30, codec=codec)
    return path


def damage_middle(path: Path, out: Path, nbytes: int = 4096, seed: int = 1) -> Path:
    """A copy of `path` with `nbytes` random bytes written over its middle."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    noise = np.random.default_rng(seed).integers(0, 256, nbytes, np.uint8)
    data[mid:mid + nbytes] = noise.tobytes()
    out.write_bytes(bytes(data))
    return out


def truncate_half(path: Path, out: Path) -> Path:
    """A copy of `path` cut in half: its header still promises every frame."""
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out
