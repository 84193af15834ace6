"""The viewer's 3D scene and stats panel: a real window (offscreen Qt) fed real messages."""

import os
from pathlib import Path

import numpy as np
import pytest

from stream import messages as m
from stream.viewer.feed import ViewState
from train.synth.animal import BODYPARTS, SKELETON, SyntheticAnimal
from train.synth.arena import ArenaView, arena_calibration, floor_config

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


@pytest.fixture
def qt_app():
    from stream.viewer.window import app

    return app()


def test_window_shows_3d_points_skeleton_and_node_stats(qt_app):
    from stream.viewer.window import LiveView

    camera = arena_calibration(["cam0"], (320, 240)).cameras[0]
    view = ArenaView(camera, SyntheticAnimal(floor_config(10, seed=1)))
    state = ViewState()
    xyz = view.world()[5].astype(np.float32)
    xyz[2] = np.nan  # a point no two cameras saw
    k = len(BODYPARTS)
    state.feed(m.Pose3DMessage(
        "pose3d", 5, 5, m.now_ns(), BODYPARTS, xyz, np.ones(k, np.float32),
        np.zeros(k, np.float32), np.full(k, 3, np.int16)))
    for t, drops in ((1, 2), (2, 3)):
        state.feed(m.StatsMessage("pose", t, 14.5, 31.0, 60.5, drops, 1, {"cam0": 10 * t}))
    state.feed(m.StatsMessage("cam0", 1, 30.0, 0.2, 0.4, 0, 0, {"cam0": 30}))
    window = LiveView(state, [list(e) for e in SKELETON], refresh_hz=1000)
    try:
        window.resize(900, 500)
        window.show()
        window.refresh()
        window.refresh()  # the same stats again: drops count once per message
        assert window.scene is not None and window.scene.shown == k - 1
        np.testing.assert_allclose(window.scene.points.pos, xyz[np.isfinite(xyz).all(1)])
        edges = [e for e in SKELETON if BODYPARTS.index(e[0]) != 2 and BODYPARTS.index(e[1]) != 2]
        assert len(window.scene.lines.pos) == 2 * len(edges)
        lines = window.stats.text().splitlines()
        assert lines == ["cam0 30.0 0.2 0.4 0 0", "pose 14.5 31.0 60.5 5 1"]
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / "viewer_3d_stats.png"
        qt_app.processEvents()  # lay out the panels added since the window was shown
        assert window.grab().save(str(shot))
    finally:
        window.close()
