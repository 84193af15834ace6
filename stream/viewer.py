"""The live viewer: the newest frame of every camera with its 2D pose drawn on it, points
colored by bodypart, likelihood as transparency, and the skeleton.

Messages come in on a receiver thread (ZeroMQ SUB sockets, tiny receive queues) that only
keeps the newest frames and poses; a Qt timer redraws from them at ``refresh_hz``. A
slow window therefore loses frames, never holds up the pipeline (its publishers drop
what it does not take). ``poseloop view RIG_OR_ENDPOINT`` opens it on a rig it runs,
or on endpoints of a running one; a ``[[viewer]]`` node runs it as part of a rig.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from stream import messages as m
from stream.bus import Bus, Listener

log = logging.getLogger(__name__)

FRAMES_KEPT = 16  # per camera, so that a pose finds the very frame it was computed on
POLL_MS = 50
COLUMNS = 3
TOPICS = (b"frame.", b"pose2d.", b"end.")


def bodypart_colors(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 RGB, evenly spread hues."""
    hues = np.linspace(0, 1, n, endpoint=False)
    return np.array([pg.hsvColor(h, 0.9, 1.0).getRgb()[:3] for h in hues], np.uint8)


class ViewState:
    """The newest frames and poses per camera, shared by the receiver and the window."""

    def __init__(self):
        self.lock = threading.Lock()
        self.frames: dict[str, deque[m.Frame]] = {}
        self.poses: dict[str, m.Poses2D] = {}
        self.ended: set[str] = set()
        self.received = 0

    def feed(self, msg: m.Message) -> None:
        with self.lock:
            self.received += 1
            if isinstance(msg, m.Frame):
                self.frames.setdefault(msg.camera, deque(maxlen=FRAMES_KEPT)).append(msg)
            elif isinstance(msg, m.Poses2D):
                self.poses[msg.camera] = msg
            elif isinstance(msg, m.End):
                self.ended.add(msg.camera)

    def newest(self) -> dict[str, tuple[m.Frame | None, m.Poses2D | None]]:
        """Per camera: the frame to show and its pose (the pose's own frame when it is
        still at hand, else the newest frame)."""
        with self.lock:
            out = {}
            for camera in sorted(set(self.frames) | set(self.poses)):
                pose = self.poses.get(camera)
                frames = self.frames.get(camera, ())
                frame = frames[-1] if frames else None
                if pose is not None:
                    frame = next((f for f in frames if f.seq == pose.seq), frame)
                out[camera] = (frame, pose)
            return out


class Receiver(Listener):
    """Subscribes to frames, 2D poses and ends on `endpoints` and feeds `state`, on its
    own thread; with no `bus` given it makes (and closes) its own."""

    def __init__(self, endpoints: list[str], state: ViewState, bus: Bus | None = None):
        self._own_bus = bus is None
        bus = bus or Bus("viewer")
        super().__init__(bus, bus.watch(endpoints, TOPICS), state.feed, POLL_MS)
        self.state = state

    def close(self) -> None:
        super().close()
        if self._own_bus:
            self.bus.close()


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

    def show(self, frame: m.Frame | None, pose: m.Poses2D | None, colors: np.ndarray,
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
        xy = pose.poses[:, :2].astype(np.float64) + 0.5
        lik = np.nan_to_num(pose.poses[:, 2], nan=0.0).clip(0, 1)
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
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.layout_widget)
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
            view.show(frame, pose, bodypart_colors(k), edges, self.pcutoff)
        if newest:
            self.drawn += 1


def app() -> QtWidgets.QApplication:
    """The process's QApplication (made on first use)."""
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
