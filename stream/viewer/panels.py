"""The viewer's side panels: the 3D scene of the triangulated points with their skeleton
(pyqtgraph's OpenGL widget) and the per-node stats table (frames/s, latency, drops)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtWidgets

from stream import messages as m

STATS_COLUMNS = ("node", "frames/s", "p50 ms", "p99 ms", "drops", "queue")


class StatsPanel(QtWidgets.QTableWidget):
    """One row per node: its latest frames/s, latency p50/p99, queue, and its drops over
    the run."""

    def __init__(self):
        super().__init__(0, len(STATS_COLUMNS))
        self.setHorizontalHeaderLabels(STATS_COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

    def show_stats(self, stats: dict[str, m.StatsMessage], drops: dict[str, int]) -> None:
        self.setRowCount(len(stats))
        for row, (node, s) in enumerate(sorted(stats.items())):
            cells = (node, f"{s.fps:.1f}", f"{s.p50_ms:.1f}", f"{s.p99_ms:.1f}",
                     str(drops.get(node, 0)), str(s.queue))
            for col, text in enumerate(cells):
                self.setItem(row, col, QtWidgets.QTableWidgetItem(text))

    def text(self) -> str:
        """The table as lines of text (what a screenshot shows, for tests and logs)."""
        return "\n".join(
            " ".join(self.item(r, c).text() for c in range(self.columnCount()))
            for r in range(self.rowCount()))


class Scene3D:
    """The newest 3D pose of every stream: points colored by bodypart, the skeleton, on a
    grid in the world's x, y plane; the camera looks at the points' center."""

    def __init__(self):
        import pyqtgraph.opengl as gl

        self.widget = gl.GLViewWidget()
        self.widget.setBackgroundColor("k")
        self.grid = gl.GLGridItem()
        self.widget.addItem(self.grid)
        self.points = gl.GLScatterPlotItem(size=10.0, pxMode=True)
        self.lines = gl.GLLinePlotItem(mode="lines", color=(1.0, 1.0, 1.0, 0.7), width=2.0)
        self.widget.addItem(self.points)
        self.widget.addItem(self.lines)
        self.centered = False
        self.shown = 0  # points drawn by the last update

    def show(self, poses: dict[str, m.Pose3DMessage], colors: np.ndarray,
             edges_of) -> None:
        """Draw `poses`; `edges_of(bodyparts)` gives the skeleton's index pairs."""
        xyz, rgba, segments = [], [], []
        for pose in poses.values():
            ok = np.isfinite(pose.xyz).all(1)
            xyz.append(pose.xyz[ok])
            rgba.append(np.c_[colors[np.flatnonzero(ok) % len(colors)] / 255.0,
                              np.ones(ok.sum())])
            segments += [pose.xyz[[a, b]] for a, b in edges_of(pose.bodyparts)
                         if ok[a] and ok[b]]
        pos = np.concatenate(xyz) if xyz else np.zeros((0, 3))
        self.shown = len(pos)
        if not len(pos):
            return
        self.points.setData(pos=pos, color=np.concatenate(rgba))
        self.lines.setData(pos=np.concatenate(segments) if segments else np.zeros((0, 3)))
        if not self.centered:  # once, so that the user can turn the view afterwards
            center, extent = pos.mean(0), float(np.ptp(pos, 0).max()) or 1.0
            self.grid.setSize(4 * extent, 4 * extent)
            self.grid.setSpacing(extent / 4, extent / 4)
            self.widget.setCameraPosition(pos=pg.Vector(*center), distance=3 * extent,
                                          elevation=35)
            self.centered = True
