"""The labeler's picture: a pyqtgraph view of one frame with its points and skeleton.

Mouse: a left click places a point, a left drag that starts on a point moves it, a
left drag elsewhere pans, the wheel (or a right drag) zooms. Pixel centers sit at
integer coordinates, as in OpenCV and DeepLabCut's tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

PICK_RADIUS_PX = 12.0  # how close (screen pixels) a press must be to grab a point


@dataclass
class PointStyle:
    """How one bodypart's point is drawn."""

    color: tuple[int, int, int]
    current: bool = False
    machine: bool = False  # a prediction not yet touched by a human
    low: bool = False  # a prediction under pcutoff
    text: str = ""


class _Points(pg.ScatterPlotItem):
    """Scatter that leaves clicks to the view (a click on a point still places)."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()


class LabelView(pg.ViewBox):
    """One frame, its labeled points and skeleton lines."""

    sigPlace = QtCore.Signal(float, float)  # x, y in image pixels
    sigDragging = QtCore.Signal(int, float, float)  # bodypart, x, y while dragging
    sigMoved = QtCore.Signal(int, float, float)  # bodypart, final x, y

    def __init__(self, dotsize: float = 12.0):
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.dotsize = dotsize
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setPos(-0.5, -0.5)  # pixel (0, 0) spans -0.5..0.5
        self.skeleton = pg.PlotCurveItem(connect="pairs",
                                         pen=pg.mkPen((255, 255, 255, 170), width=2))
        self.points = _Points(pxMode=True)
        self.addItem(self.image)
        self.addItem(self.skeleton)
        self.addItem(self.points)
        self._labels: list[pg.TextItem] = []
        self._xy = np.empty((0, 2))
        self._dragging: int | None = None
        self._shape: tuple[int, int] | None = None

    def set_image(self, rgb: np.ndarray) -> None:
        """Show an ``(H, W, 3)`` uint8 RGB frame; the view fits it when its size changes."""
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        if rgb.shape[:2] != self._shape:
            self._shape = rgb.shape[:2]
            self.autoRange(padding=0.02)

    def in_image(self, x: float, y: float) -> bool:
        if self._shape is None:
            return False
        h, w = self._shape
        return -0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5

    def _clamped(self, p: QtCore.QPointF) -> QtCore.QPointF:
        """`p` moved inside the image (a point dragged off the edge stays on it)."""
        h, w = self._shape or (1, 1)
        return QtCore.QPointF(min(max(p.x(), -0.5), w - 0.5), min(max(p.y(), -0.5), h - 0.5))

    def set_points(self, xy: np.ndarray, styles: list[PointStyle],
                   edges: list[tuple[int, int]]) -> None:
        """Draw points ``(K, 2)`` (NaN rows are not drawn) and skeleton `edges`."""
        self._xy = np.asarray(xy, float)
        spots = []
        for j, ((x, y), style) in enumerate(zip(self._xy, styles, strict=True)):
            if not np.isfinite([x, y]).all():
                continue
            spots.append(self._spot(j, x, y, style))
        self.points.setData(spots=spots)
        segments = [self._xy[[a, b]] for a, b in edges if np.isfinite(self._xy[[a, b]]).all()]
        if segments:
            seg = np.concatenate(segments)
            self.skeleton.setData(seg[:, 0], seg[:, 1])
        else:
            self.skeleton.setData([], [])
        self._set_texts(styles)

    def _spot(self, j: int, x: float, y: float, style: PointStyle) -> dict:
        color = QtGui.QColor(*style.color)
        size = self.dotsize * (1.5 if style.current else 1.0)
        if style.low:  # a doubtful prediction: hollow, red ring, bigger
            pen, brush, symbol = pg.mkPen((255, 40, 40), width=3), pg.mkBrush(None), "o"
            size *= 1.4
        elif style.machine:
            pen, brush, symbol = pg.mkPen(color, width=2), pg.mkBrush(color), "d"
        else:
            pen, brush, symbol = pg.mkPen("w", width=1.5), pg.mkBrush(color), "o"
        if style.current:
            pen = pg.mkPen("y", width=3)
        return {"pos": (x, y), "size": size, "pen": pen, "brush": brush, "symbol": symbol,
                "data": j}

    def _set_texts(self, styles: list[PointStyle]) -> None:
        for item in self._labels:
            self.removeItem(item)
        self._labels = []
        for (x, y), style in zip(self._xy, styles, strict=True):
            if style.text and np.isfinite([x, y]).all():
                item = pg.TextItem(style.text, color=(255, 80, 80) if style.low else style.color,
                                   anchor=(0, 1))
                item.setPos(x, y)
                self.addItem(item)
                self._labels.append(item)

    def nearest_point(self, scene_pos: QtCore.QPointF) -> int | None:
        """The bodypart whose point is within PICK_RADIUS_PX of `scene_pos`, if any."""
        best, best_d = None, PICK_RADIUS_PX
        for j, (x, y) in enumerate(self._xy):
            if not np.isfinite([x, y]).all():
                continue
            p = self.mapViewToScene(QtCore.QPointF(x, y))
            d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
            if d <= best_d:
                best, best_d = j, d
        return best

    # ------------------------------------------------------------ mouse

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if self.in_image(p.x(), p.y()):
            self.sigPlace.emit(p.x(), p.y())

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        if ev.isStart():
            self._dragging = self.nearest_point(ev.buttonDownScenePos())
        if self._dragging is None:
            super().mouseDragEvent(ev, axis)  # pan
            return
        ev.accept()
        p = self._clamped(self.mapSceneToView(ev.scenePos()))
        if ev.isFinish():
            j, self._dragging = self._dragging, None
            self.sigMoved.emit(j, p.x(), p.y())
        else:
            self.sigDragging.emit(self._dragging, p.x(), p.y())
