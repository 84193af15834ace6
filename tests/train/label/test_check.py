import shutil

import cv2
import numpy as np

from stream.cli import main as cli
from train.data.project import open_project
from train.label.check import check_labels, swapped_sides
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


def _mice(n: int, seed: int = 0) -> np.ndarray:
    """`n` frames of snout, leftear, rightear, tailbase seen from above (y down), turned and
    moved at random: the snout lies left of the line from the left to the right ear."""
    rng = np.random.default_rng(seed)
    body = np.array([[0, -30], [-8, -18], [8, -18], [0, 40]], float)
    out = []
    for angle, x, y in zip(rng.uniform(0, 2 * np.pi, n), rng.uniform(50, 600, n),
                           rng.uniform(50, 400, n), strict=True):
        c, s = np.cos(angle), np.sin(angle)
        out.append(body @ np.array([[c, s], [-s, c]]) + (x, y) + rng.normal(0, 2, (4, 2)))
    return np.stack(out)


def test_swapped_left_right_labels_are_found_from_above_not_from_the_side():
    names, pair = ("snout", "leftear", "rightear", "tailbase"), ("leftear", "rightear")
    xy = _mice(40)
    xy[[7, 30]] = xy[[7, 30]][:, [0, 2, 1, 3]]  # two frames with the ears exchanged
    xy[12, 3] = np.nan  # an unlabeled tailbase: the snout alone still votes
    xy[[12]] = xy[[12]][:, [0, 2, 1, 3]]
    assert swapped_sides(xy, names, (pair,)) == [(7, pair), (12, pair), (30, pair)]
    # from the side an animal heading left shows its sides mirrored: nothing to judge
    side = _mice(40, seed=1)
    side[::2, :, 0] *= -1
    assert swapped_sides(side, names, (pair,)) == []
    assert swapped_sides(xy[:5], names, (pair,)) == []  # too few frames to know the sides


def test_check_labels_openfield_cli(openfield, tmp_path, capsys, caplog):
    root = tmp_path / "openfield"
    shutil.copytree(openfield, root)
    caplog.set_level("WARNING")
    assert cli(["check-labels", str(root)]) == 0
    out = sorted((root / "labeled-data" / "m4s1_labeled").glob("img*.png"))
    assert len(out) == 116
    assert "m4s1: 116 frames" in capsys.readouterr().out
    # img0101 and img0102 show the same pose, with the ears labeled the other way round
    warned = [r.getMessage() for r in caplog.records if "look exchanged" in r.getMessage()]
    assert warned == ["labeled-data/m4s1/img0102.png: leftear and rightear look exchanged: the "
                      "other bodyparts lie on the other side of the line between them than in "
                      "nearly every labeled frame"]
    from tests.train.label.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(out[0], SCREENSHOTS / "check_labels_openfield.png")
    assert open_project(root).config.iteration == 0
