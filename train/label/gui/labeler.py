"""The labeling window (``poseloop label`` and ``poseloop refine``).

Left: the frames with progress; middle: the frame with its points; right: the
bodyparts in their colors, with the ones not labeled on this frame called out.
Every edit is an undoable command on a :class:`train.label.session.LabelSession`;
saving (Ctrl+S, a timer, leaving a frame, closing) goes through ``session.save()``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from calib.errors import PoseloopError
from calib.fileio import read_image
from train.data.project import Project, open_project
from train.label.gui.canvas import LabelView, PointStyle
from train.label.session import LabelSession
from train.post.labeled_video import bodypart_colors

log = logging.getLogger(__name__)

HELP = ("click: place current part, then next · drag a point: move · drag: pan · wheel: zoom · "
        "Home: fit · ←/→ or PgUp/PgDn: frame · ↑/↓: bodypart · Del: delete point · "
        "Ctrl+Z / Ctrl+Y: undo / redo · Ctrl+S: save")
HELP_ANIMALS = "Tab: next individual · C: copy this individual's points from the previous frame"


class SetPoint(QtGui.QUndoCommand):
    """Set (or delete, with None) one point; undo puts back what was there."""

    def __init__(self, window: LabelerWindow, i: int, j: int,
                 new: tuple[float, float] | None, text: str):
        super().__init__(text)
        self.window, self.i, self.j, self.new = window, i, j, new
        x, y, lik = window.session.point(i, j)
        self.old = None if np.isnan(x) else (x, y)
        self.old_lik = lik

    def redo(self) -> None:
        self.window.session.set_point(self.i, self.j, self.new)
        self.window.show_frame(self.i, keep_part=True)

    def undo(self) -> None:
        self.window.session.set_point(self.i, self.j, self.old, self.old_lik)
        self.window.show_frame(self.i, keep_part=True)
        self.window.set_part(self.j)


class LabelerWindow(QtWidgets.QMainWindow):
    """Label (or refine) the frames of a session; see :data:`HELP` for the controls."""

    def __init__(self, session: LabelSession, autosave_s: float = 30.0):
        super().__init__()
        self.session = session
        cfg = session.project.config
        self.cells = session.cells  # (individual, bodypart) of each point column
        self.multi = cfg.multianimal
        # several animals: a color per individual, so whose point it is shows at a glance
        n_colors = len(cfg.label_individuals) if self.multi else len(cfg.bodyparts)
        bgr = bodypart_colors(n_colors, str(cfg.raw.get("colormap") or "rainbow"))
        self.colors = [bgr[i if self.multi else j][::-1] for i, j in self.cells]  # RGB for Qt
        column = {cell: c for c, cell in enumerate(self.cells)}
        self.edges = [(column[(i, cfg.bodyparts.index(a))], column[(i, cfg.bodyparts.index(b))])
                      for i in sorted({i for i, _ in self.cells}) for a, b in cfg.skeleton
                      if (i, cfg.bodyparts.index(a)) in column
                      and (i, cfg.bodyparts.index(b)) in column]
        self.frame, self.part = 0, 0
        self._drag_preview: tuple[int, float, float] | None = None
        self.undo_stack = QtGui.QUndoStack(self)
        mode = "refine" if session.refine else "label"
        self.setWindowTitle(f"poseloop {mode}: {session.project.root.name}")
        self._build(max(9.0, float(cfg.raw.get("dotsize") or 12)))  # screen px
        self._shortcuts()
        self.autosave = QtCore.QTimer(self)
        self.autosave.setInterval(int(autosave_s * 1000))
        self.autosave.timeout.connect(self.save_if_dirty)
        self.autosave.start()
        self.resize(1200, 760)
        self.show_frame(0)

    # ------------------------------------------------------------ layout

    def _build(self, dotsize: float) -> None:
        self.progress = QtWidgets.QLabel()
        self.frames = QtWidgets.QListWidget()
        self.frames.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        for i in range(len(self.session)):
            self.frames.addItem(QtWidgets.QListWidgetItem())
            self._update_frame_item(i)
        self.frames.currentRowChanged.connect(lambda i: i >= 0 and self.show_frame(i))
        left = _column(QtWidgets.QLabel("<b>Frames</b>"), self.progress, self.frames)

        self.view = LabelView(dotsize)
        self.graphics = pg.GraphicsView()
        self.graphics.setCentralItem(self.view)
        self.graphics.setBackground((30, 30, 30))
        self.view.sigPlace.connect(self.place)
        self.view.sigDragging.connect(self._preview)
        self.view.sigMoved.connect(self.move_point)

        self.individuals = QtWidgets.QListWidget()
        self.individuals.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        cfg = self.session.project.config
        for i, name in enumerate(cfg.label_individuals):
            color = self.colors[[c for c, (ind, _) in enumerate(self.cells) if ind == i][0]]
            self.individuals.addItem(QtWidgets.QListWidgetItem(_dot_icon(color), name))
        self.individuals.currentRowChanged.connect(
            lambda i: i >= 0 and self.set_individual(i))
        self.parts = QtWidgets.QListWidget()
        self.parts.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.parts.currentRowChanged.connect(
            lambda r: r >= 0 and self.set_part(self._part_columns()[r]))
        self.missing = QtWidgets.QLabel()
        self.missing.setWordWrap(True)
        self.missing.setStyleSheet("QLabel { color: #c00000; font-weight: bold; }")
        helptext = QtWidgets.QLabel(
            (HELP + (" · " + HELP_ANIMALS if self.multi else "")).replace(" · ", "<br>"))
        helptext.setStyleSheet("QLabel { color: #666666; }")
        animals = [QtWidgets.QLabel("<b>Individuals</b>"), self.individuals] if self.multi else []
        right = _column(*animals, QtWidgets.QLabel("<b>Bodyparts</b>"), self.parts,
                        self.missing, helptext)

        splitter = QtWidgets.QSplitter()
        for widget in (left, self.graphics, right):
            splitter.addWidget(widget)
        splitter.setSizes([230, 740, 230])
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.statusBar().showMessage("edits are saved on Ctrl+S, when leaving a frame, on a timer "
                                     "and on closing")

    def _shortcuts(self) -> None:
        keys = QtCore.Qt.Key
        bindings = [
            ((keys.Key_Right, keys.Key_PageDown, keys.Key_N), lambda: self.step_frame(1)),
            ((keys.Key_Left, keys.Key_PageUp, keys.Key_P), lambda: self.step_frame(-1)),
            ((keys.Key_Down,), lambda: self.step_part(1)),
            ((keys.Key_Up,), lambda: self.step_part(-1)),
            ((keys.Key_Delete, keys.Key_Backspace), self.delete_point),
            ((keys.Key_Tab,), self.step_individual),
            ((keys.Key_C,), self.copy_previous),
            ((keys.Key_Home,), lambda: self.view.autoRange(padding=0.02)),
            ((keys.Key_Plus, keys.Key_Equal), lambda: self.view.scaleBy((0.8, 0.8))),
            ((keys.Key_Minus,), lambda: self.view.scaleBy((1.25, 1.25))),
        ]
        for seqs, slot in bindings:
            for key in seqs:
                QtGui.QShortcut(QtGui.QKeySequence(key), self, activated=slot)
        std = QtGui.QKeySequence.StandardKey
        undo = self.undo_stack.createUndoAction(self)
        redo = self.undo_stack.createRedoAction(self)
        save = QtGui.QAction("Save", self, triggered=self.save)
        for action, standard, extra in ((undo, std.Undo, None), (redo, std.Redo, "Ctrl+Y"),
                                        (save, std.Save, None)):
            seqs = QtGui.QKeySequence.keyBindings(standard)
            if extra and QtGui.QKeySequence(extra) not in seqs:
                seqs.append(QtGui.QKeySequence(extra))
            action.setShortcuts(seqs)
            self.addAction(action)

    # ------------------------------------------------------------ navigation

    def show_frame(self, i: int, keep_part: bool = False) -> None:
        """Display frame `i`; unless `keep_part`, select its first unlabeled bodypart."""
        if i != self.frame:
            self.save_if_dirty()
        self.frame = i
        self.session.mark_reviewed(i)
        self.view.set_image(_load_rgb(self.session.image_path(i)))
        if not keep_part:
            todo = np.flatnonzero(~self.session.labeled(i))
            self.part = int(todo[0]) if todo.size else 0
        with QtCore.QSignalBlocker(self.frames):
            self.frames.setCurrentRow(i)
        self.redraw()

    def step_frame(self, delta: int) -> None:
        self.show_frame(min(max(self.frame + delta, 0), len(self.session) - 1))

    def set_part(self, j: int) -> None:
        self.part = j
        self.redraw()

    def _part_columns(self, individual: int | None = None) -> list[int]:
        """Point columns of `individual` (default: the current point's), in bodypart order;
        every column for one animal."""
        who = self.cells[self.part][0] if individual is None else individual
        return [c for c, (i, _) in enumerate(self.cells) if i == who]

    def step_part(self, delta: int) -> None:
        cols = self._part_columns()
        self.set_part(cols[(cols.index(self.part) + delta) % len(cols)])

    def set_individual(self, i: int) -> None:
        """Choose individual `i`: its first unlabeled part (else its first part)."""
        cols = self._part_columns(i)
        labeled = self.session.labeled(self.frame)
        todo = [c for c in cols if not labeled[c]]
        self.set_part(todo[0] if todo else cols[0])

    def step_individual(self) -> None:
        n = len(self.session.project.config.label_individuals)
        if n:
            self.set_individual((self.cells[self.part][0] + 1) % n)

    def _next_part(self) -> None:
        """After placing: the next unlabeled part of this individual, else of the next
        individual with one."""
        labeled = self.session.labeled(self.frame)
        cols = self._part_columns()
        order = cols[cols.index(self.part) + 1:] + [
            c for c in range(self.part + 1, len(self.cells)) if c not in cols] + [
            c for c in range(self.part) if c not in cols] + cols[:cols.index(self.part)]
        for c in order:
            if not labeled[c]:
                self.set_part(c)
                return
        self.redraw()

    def copy_previous(self) -> None:
        """Copy the current individual's points from the previous frame (one undo step);
        where the previous frame lacks a point, this frame's is kept."""
        if self.frame == 0:
            return
        s, prev = self.session, self.frame - 1
        cols = [c for c in self._part_columns() if s.labeled(prev)[c]]
        if not cols:
            self.statusBar().showMessage("the previous frame has no points of this individual",
                                         5_000)
            return
        who = s.project.config.label_individuals[self.cells[self.part][0]] if self.multi else ""
        self.undo_stack.beginMacro(f"copy {who} from the previous frame")
        for c in cols:
            x, y, _ = s.point(prev, c)
            self.undo_stack.push(SetPoint(self, self.frame, c, (x, y), "copy"))
        self.undo_stack.endMacro()

    # ------------------------------------------------------------ edits

    def place(self, x: float, y: float) -> None:
        name = self.session.columns[self.part]
        self.undo_stack.push(SetPoint(self, self.frame, self.part, (x, y), f"place {name}"))
        self._next_part()

    def move_point(self, j: int, x: float, y: float) -> None:
        self._drag_preview = None
        self.part = j
        self.undo_stack.push(SetPoint(self, self.frame, j, (x, y),
                                      f"move {self.session.columns[j]}"))

    def delete_point(self) -> None:
        if self.session.labeled(self.frame)[self.part]:
            name = self.session.columns[self.part]
            self.undo_stack.push(SetPoint(self, self.frame, self.part, None, f"delete {name}"))

    def _preview(self, j: int, x: float, y: float) -> None:
        self._drag_preview = (j, x, y)
        self.part = j
        self.redraw()

    # ------------------------------------------------------------ saving

    def save(self) -> list[Path]:
        """Save through the session; a failure is shown, the edits stay unsaved (dirty)."""
        try:
            paths = self.session.save()
        except (OSError, PoseloopError) as exc:
            log.error("saving labels failed: %s", exc)
            self.statusBar().showMessage(f"SAVING FAILED (edits kept, will retry): {exc}")
            return []
        self.statusBar().showMessage(
            f"saved {', '.join(str(p.relative_to(self.session.project.root)) for p in paths)} "
            f"at {QtCore.QTime.currentTime().toString('HH:mm:ss')}", 10_000)
        return paths

    def save_if_dirty(self) -> None:
        if self.session.dirty:
            self.save()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.save_if_dirty()
        if self.session.dirty:  # saving failed: closing now would lose the edits
            answer = QtWidgets.QMessageBox.question(
                self, "Labels not saved",
                "Saving the labels failed (see the status bar). Close and lose the edits?")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.autosave.stop()
        super().closeEvent(event)

    # ------------------------------------------------------------ drawing

    def redraw(self) -> None:
        s, i = self.session, self.frame
        xy = s.xy[i].copy()
        if self._drag_preview is not None:
            j, x, y = self._drag_preview
            xy[j] = (x, y)
        pcutoff = s.project.config.pcutoff
        styles = []
        for j, color in enumerate(self.colors):
            lik = s.likelihood[i, j]
            machine = not np.isnan(lik)
            styles.append(PointStyle(color, current=j == self.part, machine=machine,
                                     low=machine and lik < pcutoff,
                                     text=f"{lik:.2f}" if machine and lik < pcutoff else ""))
        self.view.set_points(xy, styles, self.edges)
        self._update_parts()
        self._update_frame_item(i)
        self._update_progress()

    def _update_parts(self) -> None:
        s, i = self.session, self.frame
        labeled = s.labeled(i)
        pcutoff = s.project.config.pcutoff
        cols = self._part_columns()
        if self.multi:
            with QtCore.QSignalBlocker(self.individuals):
                self.individuals.setCurrentRow(self.cells[self.part][0])
        while self.parts.count() > len(cols):
            self.parts.takeItem(self.parts.count() - 1)
        while self.parts.count() < len(cols):
            self.parts.addItem(QtWidgets.QListWidgetItem())
        for row, j in enumerate(cols):
            item = self.parts.item(row)
            name = s.bodyparts[self.cells[j][1]]
            item.setIcon(_dot_icon(self.colors[j]))
            item.setForeground(QtGui.QColor(*self.colors[j]).darker(130))
            lik = s.likelihood[i, j]
            if not labeled[j]:
                text = f"{name}   (not labeled)"
            elif np.isnan(lik):
                text = name
            else:
                text = f"{name}   p={lik:.2f}" + ("  LOW" if lik < pcutoff else "")
            item.setText(text)
            font = item.font()
            font.setItalic(not labeled[j])
            font.setBold(j == self.part)
            item.setFont(font)
        with QtCore.QSignalBlocker(self.parts):
            self.parts.setCurrentRow(cols.index(self.part))
        missing = [n for n, ok in zip(s.columns, labeled, strict=True) if not ok]
        self.missing.setText(f"Not labeled: {', '.join(missing)}" if missing
                             else "All bodyparts labeled")
        self.missing.setStyleSheet(
            f"QLabel {{ color: {'#c00000' if missing else '#007000'}; font-weight: bold; }}")

    def _update_frame_item(self, i: int) -> None:
        s = self.session
        n, k = int(s.labeled(i).sum()), len(s.cells)
        mark = "✓" if n == k else "·"
        if s.refine and not s.reviewed[i]:
            mark = "?"
        self.frames.item(i).setText(f"{mark} {s.images[i].split('/', 1)[1]}   {n}/{k}")

    def _update_progress(self) -> None:
        s = self.session
        text = f"labeled {s.complete_frames()}/{len(s)} frames"
        if s.refine:
            text += f" · reviewed {int(s.reviewed.sum())}/{len(s)}"
        self.progress.setText(text)


def _column(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
    box = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    for w in widgets:
        layout.addWidget(w)
    return box


def _dot_icon(color: tuple[int, int, int]) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(14, 14)
    pixmap.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(pixmap)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    painter.setBrush(QtGui.QColor(*color))
    painter.setPen(QtGui.QPen(QtGui.QColor(40, 40, 40)))
    painter.drawEllipse(1, 1, 12, 12)
    painter.end()
    return QtGui.QIcon(pixmap)


def _load_rgb(path: Path) -> np.ndarray:
    image = read_image(path)
    if image is None:
        log.warning("%s: missing, cut off or not an image; showing a blank frame", path)
        return np.full((480, 640, 3), 64, np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _check_display() -> None:
    """Qt aborts the process when it finds no display; say so as an error instead."""
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        raise PoseloopError("no display to open the labeler on (DISPLAY is not set); run it "
                            "on a desktop, through ssh -X, or under xvfb-run")


def _run(session: LabelSession, autosave_s: float) -> LabelSession:
    if QtWidgets.QApplication.instance() is None:
        _check_display()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    pg.setConfigOptions(antialias=True)
    window = LabelerWindow(session, autosave_s)
    window.show()
    app.exec()
    return session


def label(project: str | Path | Project, videos: list[str] | None = None,
          autosave_s: float = 30.0) -> LabelSession:
    """Open the labeler on the extracted frames of `project` (all videos, or `videos`)."""
    if not isinstance(project, Project):
        project = open_project(project)
    return _run(LabelSession.for_labeling(project, videos), autosave_s)


def refine(project: str | Path | Project, videos: list[str] | None = None,
           autosave_s: float = 30.0) -> LabelSession:
    """Open the labeler on the outlier frames, prefilled with the machine's labels."""
    if not isinstance(project, Project):
        project = open_project(project)
    return _run(LabelSession.for_refining(project, videos), autosave_s)
