"""A viewer window fed what a three-camera rig sends: each camera's frame with its 2D pose,
the triangulated 3D pose and the nodes' stats (:func:`fill_state`).

Run as ``python -m tests.stream.viewer_shot OUT.png`` on an X display (Xvfb, Qt's xcb
platform: a real window, the 3D scene drawn by OpenGL), it shows that window, saves a
screenshot of it to OUT.png and prints, as JSON, the Qt platform, the OpenGL renderer, the
3D scene's rectangle and where in the screenshot each 3D point projects. It runs in its
own process because Qt's platform is chosen once per process (the other viewer tests use
``offscreen``).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from stream import messages as m
from stream.viewer.feed import ViewState
from train.synth.animal import BODYPARTS, SyntheticAnimal
from train.synth.arena import ArenaView, arena_calibration, floor_config

CAMERAS = ("cam0", "cam1", "cam2")
FRAME = 5
HIDDEN = 2  # the bodypart no two cameras saw: no 3D point


def fill_state(state: ViewState) -> np.ndarray:
    """Feed `state` frame FRAME of every camera with its exact 2D pose, the 3D pose (part
    HIDDEN missing) and two nodes' stats; returns the 3D points sent, ``(K, 3)``."""
    calibration = arena_calibration(list(CAMERAS), (320, 240))
    animal = SyntheticAnimal(floor_config(10, seed=1))
    k = len(BODYPARTS)
    t = m.now_ns()
    for camera in calibration.cameras:
        view = ArenaView(camera, animal)
        xy = view.keypoints(FRAME).astype(np.float32)
        poses = np.c_[xy, np.ones(k, np.float32)]
        state.feed(m.FrameMessage(camera.name, FRAME, FRAME, t, view.render(FRAME)))
        state.feed(m.Pose2DMessage(camera.name, FRAME, FRAME, t, t, "DLC_synth", BODYPARTS,
                                   poses))
    xyz = view.world()[FRAME].astype(np.float32)
    xyz[HIDDEN] = np.nan
    state.feed(m.Pose3DMessage(
        "pose3d", FRAME, FRAME, t, BODYPARTS, xyz, np.ones(k, np.float32),
        np.zeros(k, np.float32), np.full(k, 3, np.int16)))
    for tick, drops in ((1, 2), (2, 3)):
        state.feed(m.StatsMessage("pose", tick, 14.5, 31.0, 60.5, drops, 1, {"cam0": 10 * tick}))
    state.feed(m.StatsMessage("cam0", 1, 30.0, 0.2, 0.4, 0, 0, {"cam0": 30}))
    return xyz


def _projected(window, xyz: np.ndarray) -> list[list[float]]:
    """Where the finite points of `xyz` land in the window's pixels, as the 3D scene's
    OpenGL camera projects them."""
    from pyqtgraph.Qt import QtCore, QtGui

    gl = window.scene.widget
    viewport = gl.getViewport()
    mvp = gl.projectionMatrix(viewport, viewport) * gl.viewMatrix()
    origin = gl.mapTo(window, QtCore.QPoint(0, 0))
    out = []
    for p in xyz[np.isfinite(xyz).all(1)]:
        ndc = mvp.map(QtGui.QVector3D(*map(float, p)))  # divided by w: normalized coordinates
        out.append([origin.x() + (ndc.x() + 1) / 2 * gl.width(),
                    origin.y() + (1 - ndc.y()) / 2 * gl.height()])
    return out


def main(out: str) -> None:
    from OpenGL import GL

    from stream.viewer.window import LiveView, app
    from train.synth.animal import SKELETON

    qt = app()
    state = ViewState()
    xyz = fill_state(state)
    window = LiveView(state, [list(e) for e in SKELETON], refresh_hz=50, title="poseloop view")
    window.resize(1280, 420)
    window.show()
    # the timer draws; the side panels it adds are shown by queued events, and the first
    # OpenGL frame takes a while on a loaded machine: wait for both, then settle
    deadline = time.monotonic() + 60
    while window.scene is None or not window.scene.widget.isVisible():
        if time.monotonic() > deadline:
            raise SystemExit("the 3D scene was never shown")
        qt.processEvents()
        time.sleep(0.02)
    for _ in range(25):
        qt.processEvents()
        time.sleep(0.02)
    window.scene.widget.makeCurrent()
    renderer = GL.glGetString(GL.GL_RENDERER).decode()
    if not window.grab().save(out):
        raise SystemExit(f"{out}: the screenshot could not be written")
    gl = window.scene.widget
    corner = gl.mapTo(window, gl.rect().topLeft())
    print(json.dumps({"platform": qt.platformName(), "renderer": renderer,
                      "scene": [corner.x(), corner.y(), gl.width(), gl.height()],
                      "points": _projected(window, xyz)}))
    window.close()


if __name__ == "__main__":
    main(sys.argv[1])
