"""Refine (the labeler on machine labels, driven by Qt events) and merge."""

import numpy as np
import pytest
from PySide6 import QtCore

from calib.errors import DataError
from stream.cli import main as cli
from tests.train.label.qt_helpers import drag, key, tolerance, window
from tests.train.label.test_outliers import SCORER, _poses
from train.data.config import save_config
from train.data.project import open_project
from train.data.tables import analysis_path, read_labels, write_analysis
from train.label.merge import merge_datasets
from train.label.outliers import extract_outliers
from train.label.session import LabelSession, correct_frames

Qt = QtCore.Qt


@pytest.fixture
def outliers(tiny_project, scene_video):
    write_analysis(_poses(), SCORER, analysis_path(scene_video, SCORER))
    r = extract_outliers(tiny_project.root, scene_video, algo="uncertain")
    assert r.frames == [60, 75]
    return tiny_project


def test_refine_prefilled_correct_save_merge(outliers, app, screenshots):
    project = outliers
    w = window(LabelSession.for_refining(project), app)
    truth = _poses().xy
    assert w.session.refine and len(w.session) == 2
    np.testing.assert_allclose(w.session.xy[0], truth[60], rtol=1e-6)
    # the doubtful tail prediction stands out, in the list and on the picture
    assert w.parts.item(2).text().endswith("p=0.00  LOW")
    assert w.parts.item(0).text() == "nose   p=0.95"
    spots = {s.data(): s for s in w.view.points.points()}
    assert spots[2].pen().color().getRgb()[:3] == (255, 40, 40)
    assert "reviewed 1/2" in w.progress.text()
    w.grab().save(str(screenshots / "refine_prefilled.png"))
    # move the tail to where it belongs: it becomes a human point
    tol = tolerance(w)
    x0, y0 = w.session.xy[0, 2]
    drag(w, (x0, y0), (x0 - 6, y0 + 5), app)
    np.testing.assert_allclose(w.session.xy[0, 2], (x0 - 6, y0 + 5), atol=2 * tol)
    assert np.isnan(w.session.likelihood[0, 2]) and "LOW" not in w.parts.item(2).text()
    w.grab().save(str(screenshots / "refine_corrected.png"))
    w.save()
    with pytest.raises(DataError, match="1 of 2 frames"):
        merge_datasets(project.root)  # frame 75 not looked at yet
    key(w, Qt.Key_Right)
    assert "reviewed 2/2" in w.progress.text()
    w.close()
    saved = read_labels(project.labels_path("scenes"))
    assert saved.images == ["labeled-data/scenes/img60.png", "labeled-data/scenes/img75.png"]
    assert saved.likelihood is None
    np.testing.assert_allclose(saved.xy[0, :2], truth[60, :2], rtol=1e-6)
    np.testing.assert_allclose(saved.xy[0, 2], (x0 - 6, y0 + 5), atol=2 * tol)
    text = project.config_path.read_text()
    assert cli(["merge", str(project.root)]) == 0
    after = project.config_path.read_text()
    assert "iteration: 1" in after and "# Project definitions (do not edit)" in after
    assert after.replace("iteration: 1", "iteration: 0") == text
    # the next iteration has no outliers yet
    with pytest.raises(DataError, match="machinelabels-iter1"):
        merge_datasets(project.root)


def test_correct_frames_uses_the_labeler_save_and_new_bodypart_survives_merge(outliers):
    project = outliers
    truth = {f"labeled-data/scenes/img{i}.png": _poses().xy[i] + 0.25 for i in (60, 75)}
    truth["labeled-data/scenes/img75.png"][1] = np.nan  # the ear is hidden
    correct_frames(project, truth)
    saved = read_labels(project.labels_path("scenes"))
    np.testing.assert_array_equal(saved.xy, np.stack([truth[i] for i in saved.images]))
    project.config.raw["bodyparts"].append("tailtip")
    save_config(project.config)
    r = merge_datasets(project.root)
    assert (r.iteration, r.refined, r.labeled) == (1, 2, 2)
    merged = read_labels(project.labels_path("scenes"))
    assert merged.bodyparts == ("nose", "ear", "tail", "tailtip")
    np.testing.assert_array_equal(merged.xy[:, :3], saved.xy)
    assert np.isnan(merged.xy[:, 3]).all()
    assert open_project(project.root).config.iteration == 1
