"""Driving the labeler with real Qt events: clicks, drags and keys at image coordinates."""

import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest

Qt = QtCore.Qt


def window(session, app, autosave_s=3600.0):
    from train.label.gui.labeler import LabelerWindow

    w = LabelerWindow(session, autosave_s)
    w.resize(1100, 700)
    w.show()
    QTest.qWaitForWindowExposed(w)
    app.processEvents()
    return w


def widget_pos(w, x, y) -> QtCore.QPoint:
    """Viewport position of image pixel (x, y)."""
    scene = w.view.mapViewToScene(QtCore.QPointF(x, y))
    return w.graphics.mapFromScene(scene)


def click(w, x, y):
    QTest.mouseClick(w.graphics.viewport(), Qt.LeftButton, Qt.NoModifier, widget_pos(w, x, y))


def key(w, key, modifier=Qt.NoModifier):
    QTest.keyClick(w, key, modifier)


def drag(w, start, end, app):
    vp = w.graphics.viewport()
    a, b = widget_pos(w, *start), widget_pos(w, *end)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    for t in np.linspace(0, 1, 6)[1:]:
        p = QtCore.QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y())))
        QTest.mouseMove(vp, p)
        app.processEvents()
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)


def tolerance(w) -> float:
    """One screen pixel in image pixels: how precisely a click can land."""
    a, b = w.view.mapSceneToView(QtCore.QPointF(0, 0)), w.view.mapSceneToView(QtCore.QPointF(1, 1))
    return abs(b.x() - a.x()) + 1e-6


def wheel(w, degrees8: int) -> None:
    """A mouse-wheel turn (in 1/8 degrees, 120 = one notch) at the view's center."""
    from PySide6 import QtGui, QtWidgets

    vp = w.graphics.viewport()
    pos = QtCore.QPointF(vp.width() / 2, vp.height() / 2)
    event = QtGui.QWheelEvent(pos, vp.mapToGlobal(pos), QtCore.QPoint(0, 0),
                              QtCore.QPoint(0, degrees8), Qt.NoButton, Qt.NoModifier,
                              Qt.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(vp, event)
