"""The viewer window: the newest frame of every camera with its 2D pose drawn on it,
points colored by bodypart (several animals: by animal), likelihood as transparency, and
the skeleton; beside them, once there is something to show, the 3D scene of the
triangulated points and the per-node stats (:mod:`stream.viewer.panels`).

A Qt timer redraws from the :class:`~stream.viewer.feed.ViewState` at ``refresh_hz``;
the feed's receiver thread only keeps the newest frames and poses, so a slow window
loses frames and never holds up the pipeline (its publishers drop what it does not take).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from stream import messages as m
from stream.bus import Bus
from stream.viewer.feed import Receiver, ViewState
from stream.viewer.panels import Scene3D, StatsPanel

COLUMNS = 3
TICK_S = 0.01


def bodypart_colors(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 RGB, evenly spread hues."""
    hues = np.linspace(0, 1, n, endpoint=False)
    return np.array([pg.hsvColor(h, 0.9, 1.0).getRgb()[:3] for h in hues], np.uint8)


class CameraView:
    """One camera's panel: image, skeleton lines, and points."""

    def __init__(self, layout: pg.GraphicsLayoutWidget, camera: str, row: int, col: int):
        self.box = layout.addViewBox(row=row, col=col, lockAspect=True, invertY=True)
        self.box.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.lines = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 160), width=2))
        self.points = pg.ScatterPlotItem(size=9, pen=pg.mkPen(None))
        self.label = pg.TextItem(camera, color=(255, 255, 0), anchor=(0, 0))
        for item in (self.image, self.lines, self.points, self.label):
            self.box.addItem(item)
        self.shape: tuple[int, ...] | None = None

    def show(self, frame: m.FrameMessage | None, pose: m.Pose2DMessage | None, colors: np.ndarray,
             edges: list[tuple[int, int]], pcutoff: float) -> None:
        if frame is not None:
            self.image.setImage(frame.image[..., ::-1], autoLevels=False, levels=(0, 255))
            if frame.image.shape != self.shape:
                self.shape = frame.image.shape
                self.box.autoRange(padding=0)
        if pose is None:
            return
        # OpenCV puts the center of the top-left pixel at (0, 0); an ImageItem spans it
        # over [0, 1], hence the half pixel
        points = pose.poses.reshape(-1, 3)  # several animals: one after the other
        xy = points[:, :2].astype(np.float64) + 0.5
        lik = np.nan_to_num(points[:, 2], nan=0.0).clip(0, 1)
        ok = np.isfinite(xy).all(1)
        brushes = [
            pg.mkBrush(*colors[k % len(colors)], int(40 + 215 * lik[k])) for k in np.flatnonzero(ok)
        ]
        self.points.setData(pos=xy[ok], brush=brushes)
        pairs = [(a, b) for a, b in edges if ok[a] and ok[b] and min(lik[a], lik[b]) >= pcutoff]
        if pairs:
            seg = xy[np.array(pairs).ravel()]
            self.lines.setData(seg[:, 0], seg[:, 1])
        else:
            self.lines.setData([], [])


class LiveView(QtWidgets.QWidget):
    """The viewer window; :meth:`refresh` draws the newest state (a timer calls it)."""

    def __init__(self, state: ViewState, skeleton: list[list[str]] | None = None,
                 pcutoff: float = 0.1, refresh_hz: float = 30.0, title: str = "poseloop"):
        super().__init__()
        self.state = state
        self.skeleton = skeleton or []
        self.pcutoff = pcutoff
        self.setWindowTitle(title)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("k")
        box = QtWidgets.QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.layout_widget, stretch=3)
        self.side = QtWidgets.QVBoxLayout()  # the 3D scene and the stats, when they come
        box.addLayout(self.side, stretch=2)
        self.scene: Scene3D | None = None
        self.stats: StatsPanel | None = None
        self.views: dict[str, CameraView] = {}
        self.drawn = 0  # refreshes that drew something
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(max(1, int(1000 / refresh_hz)))

    def _edges(self, bodyparts: tuple[str, ...]) -> list[tuple[int, int]]:
        index = {b: i for i, b in enumerate(bodyparts)}
        return [(index[a], index[b]) for a, b in self.skeleton if a in index and b in index]

    def refresh(self) -> None:
        newest = self.state.newest()
        for camera, (frame, pose) in newest.items():
            view = self.views.get(camera)
            if view is None:
                n = len(self.views)
                view = self.views[camera] = CameraView(
                    self.layout_widget, camera, n // COLUMNS, n % COLUMNS
                )
            k = len(pose.bodyparts) if pose is not None else 1
            edges = self._edges(pose.bodyparts) if pose is not None else []
            colors = bodypart_colors(k)
            if pose is not None and pose.individuals:  # a color per animal, same skeleton
                n = len(pose.individuals)
                colors = np.repeat(bodypart_colors(n), k, axis=0)
                edges = [(a + i * k, b + i * k) for i in range(n) for a, b in edges]
            view.show(frame, pose, colors, edges, self.pcutoff)
        poses3d, stats, drops = self.state.newest_3d()
        if poses3d:
            if self.scene is None:
                self.scene = Scene3D()
                self.side.insertWidget(0, self.scene.widget, stretch=3)
            k = max(len(p.bodyparts) for p in poses3d.values())
            self.scene.show(poses3d, bodypart_colors(k), self._edges)
        if stats:
            if self.stats is None:
                self.stats = StatsPanel()
                self.side.addWidget(self.stats, stretch=1)
            self.stats.show_stats(stats, drops)
        if newest or poses3d:
            self.drawn += 1


def app() -> QtWidgets.QApplication:
    """The process's QApplication (made on first use)."""
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def open_viewer(endpoints: list[str], skeleton: list[list[str]], pcutoff: float, title: str,
                refresh_hz: float = 30.0, bus: Bus | None = None,
                cameras: list[str] | None = None,
                on_failure: Callable[[BaseException], None] | None = None,
                state: ViewState | None = None) -> tuple[LiveView, Receiver]:
    """A shown window fed by a started receiver of `endpoints` (frames and poses of
    `cameras`, None: any; `on_failure` is told if the receiver thread dies), into `state`
    if given (the caller may feed it too, e.g. with the supervisor's stats)."""
    app()
    state = state or ViewState()
    receiver = Receiver(endpoints, state, bus, cameras, on_failure)
    receiver.start()
    window = LiveView(state, skeleton, pcutoff, refresh_hz, title=title)
    window.resize(1400, 520)
    window.show()
    return window, receiver


def run_viewer(window: LiveView, receiver: Receiver, done: Callable[[], bool]) -> int:
    """Process Qt events until the window is closed or `done()`, then close the window and
    its receiver; returns how many refreshes drew."""
    qt = app()
    try:
        while window.isVisible() and not done():
            qt.processEvents()
            time.sleep(TICK_S)
    finally:
        window.close()
        receiver.close()
    return window.drawn
