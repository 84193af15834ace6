import shutil

import cv2
import numpy as np

from stream.cli import main as cli
from train.data.project import open_project
from train.label.check import check_labels
from train.label.extract import extract_frames
from train.label.session import LabelSession
from train.post.labeled_video import bodypart_colors


def test_check_labels_draws_points_and_skeleton(tiny_project):
    extract_frames(tiny_project.root, "uniform")
    session = LabelSession.for_labeling(tiny_project)
    session.set_point(0, 0, (10.0, 40.0))
    session.set_point(0, 1, (40.0, 40.0))
    session.save()
    assert check_labels(tiny_project.root) == {"scenes": 1}
    out = tiny_project.labeled_data / "scenes_labeled" / session.image_path(0).name
    drawn, raw = cv2.imread(str(out)), cv2.imread(str(session.image_path(0)))
    nose_bgr = bodypart_colors(3, "rainbow")[0]
    assert np.abs(drawn[40, 10].astype(int) - nose_bgr).max() <= 2  # point in its color
    assert drawn[40, 25].max() < 12 and raw[40, 25].min() > 25  # black skeleton line
    assert np.array_equal(drawn[5, 60], raw[5, 60])  # the rest untouched


def test_check_labels_openfield_cli(openfield, tmp_path, capsys):
    root = tmp_path / "openfield"
    shutil.copytree(openfield, root)
    assert cli(["check-labels", str(root)]) == 0
    out = sorted((root / "labeled-data" / "m4s1_labeled").glob("img*.png"))
    assert len(out) == 116
    assert "m4s1: 116 frames" in capsys.readouterr().out
    from tests.train.label.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(out[0], SCREENSHOTS / "check_labels_openfield.png")
    assert open_project(root).config.iteration == 0
