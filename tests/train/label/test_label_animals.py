"""Labeling several animals: the labeler (choose the individual, then the part; copy an
individual from the previous frame), refine, outliers and merge on a multi-animal project."""

import numpy as np
import pytest
from PySide6 import QtCore

from tests.train.label.qt_helpers import click, key, tolerance, window
from train.data import tables
from train.data.config import save_config
from train.data.keypoints import LabeledFrames, Poses2D
from train.data.project import create_project, open_project
from train.label.extract import extract_frames
from train.label.merge import merge_datasets
from train.label.outliers import extract_outliers
from train.label.session import LabelSession, correct_frames

Qt = QtCore.Qt


@pytest.fixture
def herd_project(tmp_path, scene_video):
    project = create_project("mice", [scene_video], ["nose", "tail"], scorer="bob",
                             working_directory=tmp_path, individuals=["m1", "m2"])
    project.config.set("skeleton", [["nose", "tail"]])
    project.config.set("numframes2pick", 4)
    save_config(project.config)
    extract_frames(project.root, "uniform")
    return open_project(project.root)


def test_label_individuals_and_copy_from_previous_frame(herd_project, app, screenshots):
    w = window(LabelSession.for_labeling(herd_project), app)
    tol = tolerance(w)
    assert w.individuals.count() == 2 and w.parts.count() == 2
    assert w.session.columns == ["m1 nose", "m1 tail", "m2 nose", "m2 tail"]
    click(w, 10, 12)  # m1 nose
    click(w, 20, 14)  # m1 tail, then on to m2's first part
    assert w.cells[w.part] == (1, 0) and w.individuals.currentRow() == 1
    click(w, 40, 30)
    click(w, 50, 32)
    w.individuals.setCurrentRow(0)  # choose m1 again: its first part
    assert w.cells[w.part] == (0, 0)
    w.grab().save(str(screenshots / "labeler_animals.png"))
    key(w, Qt.Key_Right)
    key(w, Qt.Key_Tab)  # to m2 on the new frame ...
    assert w.cells[w.part][0] == 1
    key(w, Qt.Key_C)  # ... and copy its points from the previous frame
    np.testing.assert_allclose(w.session.xy[1, 2:], [[40, 30], [50, 32]], atol=tol)
    assert np.isnan(w.session.xy[1, :2]).all()
    key(w, Qt.Key_Z, Qt.ControlModifier)  # the copy is one undo step
    assert np.isnan(w.session.xy[1]).all()
    key(w, Qt.Key_Y, Qt.ControlModifier)
    w.save()
    saved = tables.read_labels(herd_project.labels_path("scenes"))
    assert saved.individuals == ("m1", "m2") and saved.xy.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(saved.xy[0], [[[10, 12], [20, 14]], [[40, 30], [50, 32]]],
                               atol=tol)
    np.testing.assert_allclose(saved.xy[1, 1], [[40, 30], [50, 32]], atol=tol)
    w.close()


def test_outliers_refine_merge_on_several_animals(herd_project, scene_video, tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(5, 40, (90, 2, 2, 3)).astype(np.float32)
    data[..., 2] = 0.95
    data[30, 1, :, 2] = 0.001  # one doubtful animal
    table = tables.write_analysis(Poses2D(("nose", "tail"), data, ("m1", "m2")), "DLC_x",
                                  tmp_path / "scenesDLC_x.h5")
    result = extract_outliers(herd_project, scene_video, table, algo="uncertain", p_bound=0.01)
    assert result.frames == [30]
    machine = tables.read_labels(result.machinelabels)
    assert machine.individuals == ("m1", "m2") and machine.likelihood.shape == (1, 2, 2)
    session = LabelSession.for_refining(herd_project)
    np.testing.assert_allclose(session.xy[0], data[30, ..., :2].reshape(4, 2), atol=1e-4)
    truth = {session.images[0]: np.full((2, 2, 2), 7.0)}
    correct_frames(herd_project, truth)
    merged = merge_datasets(herd_project)
    assert merged.refined == 1 and open_project(herd_project.root).config.iteration == 1
    labels = open_project(herd_project.root).load_labels()
    assert (labels.xy[labels.images.index(session.images[0])] == 7.0).all()


def test_check_labels_draws_each_individual(herd_project):
    from train.label.check import check_labels

    labels = LabeledFrames("bob", ("nose", "tail"), ["labeled-data/scenes/img00.png"],
                                  np.full((1, 2, 2, 2), 20.0), individuals=("m1", "m2"))
    image = sorted((herd_project.labeled_data / "scenes").glob("*.png"))[0]
    labels.images = [f"labeled-data/scenes/{image.name}"]
    tables.write_labels(labels, herd_project.labels_path("scenes"))
    assert check_labels(herd_project) == {"scenes": 1}
    assert (herd_project.labeled_data / "scenes_labeled" / image.name).exists()
