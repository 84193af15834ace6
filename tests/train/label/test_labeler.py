"""The labeler driven by real Qt events on the real widgets (offscreen platform)."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from tests.train.label.qt_helpers import click, drag, key, tolerance, wheel, window
from train.data import tables
from train.data.project import open_project
from train.label.extract import extract_frames
from train.label.session import LabelSession

Qt = QtCore.Qt


@pytest.fixture
def labeled_project(tiny_project):
    extract_frames(tiny_project.root, "uniform")
    return tiny_project


def test_click_label_navigate_undo_save(labeled_project, app, screenshots):
    project = labeled_project
    w = window(LabelSession.for_labeling(project), app)
    tol = tolerance(w)
    assert w.missing.text() == "Not labeled: nose, ear, tail"
    click(w, 10, 12)  # nose, then the current part advances to ear
    click(w, 30, 20)
    assert w.part == 2
    w.grab().save(str(screenshots / "labeler_partial.png"))
    assert w.missing.text() == "Not labeled: tail"
    click(w, 50, 30)
    np.testing.assert_allclose(w.session.xy[0], [[10, 12], [30, 20], [50, 30]], atol=tol)
    assert "labeled 1/6" in w.progress.text()
    sx, sy = w.view.skeleton.getData()  # nose-ear and ear-tail, as line pairs
    np.testing.assert_allclose(np.c_[sx, sy], [[10, 12], [30, 20], [30, 20], [50, 30]], atol=tol)
    # drag the ear to a new place, then undo and redo the move
    drag(w, (30, 20), (35, 25), app)
    np.testing.assert_allclose(w.session.xy[0, 1], [35, 25], atol=2 * tol)
    key(w, Qt.Key_Z, Qt.ControlModifier)
    np.testing.assert_allclose(w.session.xy[0, 1], [30, 20], atol=tol)
    key(w, Qt.Key_Y, Qt.ControlModifier)
    np.testing.assert_allclose(w.session.xy[0, 1], [35, 25], atol=2 * tol)
    # delete the tail (select it with the arrow keys), undo brings it back
    key(w, Qt.Key_Down)
    assert w.part == 2
    key(w, Qt.Key_Delete)
    assert np.isnan(w.session.xy[0, 2]).all() and "tail" in w.missing.text()
    key(w, Qt.Key_Z, Qt.ControlModifier)
    assert np.isfinite(w.session.xy[0, 2]).all()
    w.grab().save(str(screenshots / "labeler_frame0.png"))
    # next frame: label only the nose; leaving the frame autosaves
    key(w, Qt.Key_Right)
    assert w.frame == 1 and w.part == 0
    click(w, 20, 8)
    key(w, Qt.Key_Right)
    key(w, Qt.Key_Left)
    assert w.frame == 1
    saved = tables.read_labels(project.labels_path("scenes"))
    assert saved.scorer == "alice" and saved.bodyparts == ("nose", "ear", "tail")
    assert saved.images == [w.session.images[0], w.session.images[1]]
    np.testing.assert_allclose(saved.xy[0], [[10, 12], [35, 25], [50, 30]], atol=2 * tol)
    np.testing.assert_allclose(saved.xy[1, 0], [20, 8], atol=tol)
    assert np.isnan(saved.xy[1, 1:]).all()
    w.close()


def test_zoom_and_pan_keep_clicks_in_image_pixels(labeled_project, app):
    w = window(LabelSession.for_labeling(labeled_project), app)
    before = w.view.viewRange()
    key(w, Qt.Key_Plus)
    key(w, Qt.Key_Plus)
    zoomed = w.view.viewRange()
    assert zoomed[0][1] - zoomed[0][0] < 0.7 * (before[0][1] - before[0][0])
    # a drag on the empty picture pans
    vp = w.graphics.viewport()
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, QtCore.QPoint(300, 300))
    for x in range(310, 400, 15):
        QTest.mouseMove(vp, QtCore.QPoint(x, 300))
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, QtCore.QPoint(400, 300))
    panned = w.view.viewRange()
    assert panned[0][0] < zoomed[0][0]
    assert np.isnan(w.session.xy).all()  # panning placed nothing
    wheel(w, 120)  # one notch of the wheel zooms in further
    wheeled = w.view.viewRange()
    assert wheeled[0][1] - wheeled[0][0] < panned[0][1] - panned[0][0]
    tol = tolerance(w)
    x, y = np.mean(wheeled[0]), np.mean(wheeled[1])
    click(w, x, y)
    np.testing.assert_allclose(w.session.xy[0, 0], [x, y], atol=tol)
    key(w, Qt.Key_Home)
    w.close()


def test_autosave_timer(labeled_project, app):
    w = window(LabelSession.for_labeling(labeled_project), app, autosave_s=0.05)
    click(w, 10, 10)
    QTest.qWait(300)
    assert labeled_project.labels_path("scenes").exists()
    assert not w.session.dirty
    w.close()


def test_deeplabcut_labels_open_unchanged(openfield, tmp_path, app, screenshots):
    root = tmp_path / "openfield"
    shutil.copytree(openfield, root)
    project = open_project(root)
    w = window(LabelSession.for_labeling(project), app)
    assert len(w.session) == 116 and "labeled 116/116" in w.progress.text()
    assert w.missing.text() == "All bodyparts labeled"
    w.grab().save(str(screenshots / "labeler_openfield.png"))
    w.save()
    w.close()
    folder = "labeled-data/m4s1/CollectedData_Pranav"
    for ext in ("h5", "csv"):
        pd.testing.assert_frame_equal(tables._read_frame(openfield / f"{folder}.{ext}"),
                                      tables._read_frame(root / f"{folder}.{ext}"),
                                      check_exact=True)
    assert (root / f"{folder}.csv").read_text() == (openfield / f"{folder}.csv").read_text()


def test_new_bodypart_keeps_old_labels(openfield, tmp_path, app):
    from train.data.config import save_config

    root = tmp_path / "openfield"
    shutil.copytree(openfield, root)
    project = open_project(root)
    project.config.raw["bodyparts"].append("tailtip")
    save_config(project.config)
    project = open_project(root)
    w = window(LabelSession.for_labeling(project), app)
    assert w.part == 4 and w.missing.text() == "Not labeled: tailtip"
    click(w, 100, 200)
    w.close()
    before = tables.read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.h5")
    after = tables.read_labels(root / "labeled-data/m4s1/CollectedData_Pranav.h5")
    assert after.bodyparts == (*before.bodyparts, "tailtip")
    np.testing.assert_array_equal(after.xy[:, :4], before.xy)
    assert np.isfinite(after.xy[0, 4]).all() and np.isnan(after.xy[1:, 4]).all()


def test_failed_save_keeps_the_old_file(labeled_project, app, monkeypatch):
    w = window(LabelSession.for_labeling(labeled_project), app)
    click(w, 10, 10)
    w.save()
    path = labeled_project.labels_path("scenes")
    before = path.read_bytes()
    click(w, 20, 20)

    def crash(self, tmp, *args, **kwargs):
        Path(tmp).write_bytes(b"half a table")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_hdf", crash)
    assert w.save() == [] and "SAVING FAILED" in w.statusBar().currentMessage()
    assert path.read_bytes() == before and w.session.dirty
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]
    monkeypatch.undo()
    w.close()  # closing retries and succeeds
    assert tables.read_labels(path).labeled_mask()[0, :2].all()


def test_synthetic_animal_screenshot(tmp_path, app, screenshots):
    from train.synth.animal import SynthConfig, make_synthetic_project

    project = make_synthetic_project(tmp_path, SynthConfig(width=320, height=240, n_frames=60),
                                     n_labeled=4, progress=False)
    w = window(LabelSession.for_labeling(project), app)
    assert "labeled" in w.progress.text() and len(w.session) == 4
    w.set_part(0)
    key(w, Qt.Key_Delete)  # the snout is now missing, and called out
    assert w.missing.text().startswith("Not labeled: snout")
    w.grab().save(str(screenshots / "labeler_synthetic.png"))
    key(w, Qt.Key_Z, Qt.ControlModifier)
    w.close()
