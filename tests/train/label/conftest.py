"""Fixtures for the labeling workflow: a tiny project with a video of three scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

SCREENSHOTS = ROOT / "test-screenshots"


def scene_frame(i: int, n: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """Frame `i` of `n`: three scenes (dark, mid, bright thirds) with a moving square."""
    w, h = size
    level = (40, 128, 220)[min(2, 3 * i // n)]
    frame = np.full((h, w, 3), level, np.uint8)
    x = 4 + (i * 3) % (w - 16)
    frame[10:22, x:x + 12] = (0, 0, 255)
    return frame


@pytest.fixture
def scene_video(tmp_path) -> Path:
    from train.data.video import write_video

    path = tmp_path / "src" / "scenes.mp4"
    path.parent.mkdir()
    write_video(path, (scene_frame(i, 90) for i in range(90)))
    return path


@pytest.fixture
def tiny_project(tmp_path, scene_video):
    """A fresh project with bodyparts nose, ear, tail, skeleton nose-ear-tail, one video."""
    from train.data.config import save_config
    from train.data.project import create_project

    project = create_project("mouse", [scene_video], ["nose", "ear", "tail"], scorer="alice",
                             working_directory=tmp_path)
    project.config.set("skeleton", [["nose", "ear"], ["ear", "tail"]])
    project.config.set("numframes2pick", 6)
    save_config(project.config)
    from train.data.project import open_project

    return open_project(project.root)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def app():
    from PySide6 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
