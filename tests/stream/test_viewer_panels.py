"""The viewer's 3D scene and stats panel: a real window fed real messages, offscreen for
what the widgets hold, and on an X server (Xvfb, Qt's xcb platform, Mesa's software
OpenGL) for what the window really draws."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from stream.viewer.feed import ViewState
from tests.stream.viewer_shot import HIDDEN, fill_state
from train.synth.animal import BODYPARTS, SKELETON

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-screenshots"
COLORED = 100  # a channel spread above this is a bodypart's color (grid, skeleton are gray)


@pytest.fixture
def qt_app():
    from stream.viewer.window import app

    return app()


@pytest.fixture(scope="module")
def xvfb_display():
    """A display of a private Xvfb server (it picks a free number), stopped afterwards."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian: xvfb, libxcb-cursor0 and friends)")
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as ready:  # the number is written once the server listens
            number = ready.readline().strip()
        if not number:
            pytest.skip(f"Xvfb did not start (exit code {proc.wait(10)})")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_window_shows_3d_points_skeleton_and_node_stats(qt_app):
    from stream.viewer.window import LiveView

    state = ViewState()
    xyz = fill_state(state)
    k = len(BODYPARTS)
    window = LiveView(state, [list(e) for e in SKELETON], refresh_hz=1000)
    try:
        window.resize(900, 500)
        window.show()
        window.refresh()
        window.refresh()  # the same stats again: drops count once per message
        assert window.scene is not None and window.scene.shown == k - 1
        np.testing.assert_allclose(window.scene.points.pos, xyz[np.isfinite(xyz).all(1)])
        edges = [e for e in SKELETON if HIDDEN not in (BODYPARTS.index(a) for a in e)]
        assert len(window.scene.lines.pos) == 2 * len(edges)
        assert sorted(window.views) == ["cam0", "cam1", "cam2"]
        lines = window.stats.text().splitlines()
        assert lines == ["cam0 30.0 0.2 0.4 0 0", "pose 14.5 31.0 60.5 5 1"]
    finally:
        window.close()


def test_window_on_an_x_server_draws_the_3d_points_where_they_project(xvfb_display):
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / "viewer.png"
    # Xvfb has no GPU: Mesa's software rasterizer draws, whatever the machine has
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb",
           "LIBGL_ALWAYS_SOFTWARE": "1"}
    run = subprocess.run([sys.executable, "-m", "tests.stream.viewer_shot", str(shot)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and 'Qt platform plugin "xcb"' in run.stderr:
        pytest.skip("Qt's xcb platform cannot load: libxcb-cursor0 and friends are missing")
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads(run.stdout.splitlines()[-1])
    assert info["platform"] == "xcb"
    image = cv2.imread(str(shot)).astype(int)
    colored = image.max(2) - image.min(2) > COLORED
    points = np.array(info["points"])
    assert len(points) == len(BODYPARTS) - 1
    for x, y in points.round().astype(int):
        assert colored[y - 3:y + 4, x - 3:x + 4].any(), f"no point drawn at ({x}, {y})"
    # and nothing colored elsewhere in the 3D scene: the points are where they project
    x0, y0, width, height = info["scene"]
    ys, xs = np.nonzero(colored[y0:y0 + height, x0:x0 + width])
    near = np.hypot(xs[:, None] + x0 - points[:, 0], ys[:, None] + y0 - points[:, 1]).min(1)
    assert (near < 12).all(), f"colored pixels {len(near[near >= 12])} away from every point"
