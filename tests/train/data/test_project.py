import shutil

import numpy as np
import pytest

from calib.errors import ConfigError, DataError, VideoError
from stream.cli import main as cli
from train.data.config import load_config
from train.data.keypoints import LabeledFrames
from train.data.project import add_videos, create_project, open_project
from train.data.tables import write_labels
from train.data.video import VideoReader


def test_new_and_add_videos_via_cli(tmp_path, small_video, capsys):
    assert (
        cli(
            [
                "new",
                "mouse",
                "--videos",
                str(small_video),
                "--bodyparts",
                "nose,tail",
                "--scorer",
                "ann",
                "--workdir",
                str(tmp_path),
            ]
        )
        == 0
    )
    config_path = capsys.readouterr().out.strip().splitlines()[-1]
    project = open_project(config_path)
    assert project.config.bodyparts == ("nose", "tail") and project.config.scorer == "ann"
    for sub in ("videos", "labeled-data", "training-datasets"):
        assert (project.root / sub).is_dir()
    (key,) = project.config.video_sets
    assert project.config.crop(key) == (0, 64, 0, 48)
    second = tmp_path / "second.mp4"
    shutil.copy(small_video, second)
    assert cli(["add-videos", str(project.root), str(second)]) == 0
    project = open_project(project.root / "config.yaml")
    assert [p.name for p in project.videos()] == ["clip.mp4", "second.mp4"]
    assert all(p.exists() for p in project.videos())
    # comments of the template survive the rewrite
    assert "# Project definitions (do not edit)" in project.config_path.read_text()


def test_openfield_opens_as_is(openfield, tmp_path):
    copy = tmp_path / "openfield"
    shutil.copytree(openfield, copy)
    before = (copy / "config.yaml").read_bytes()
    project = open_project(copy)
    labels = project.load_labels()
    assert labels.xy.shape == (116, 4, 2) and np.isfinite(labels.xy).all()
    assert project.config.training_fraction == (0.95,) and project.config.pcutoff == 0.4
    assert (copy / "config.yaml").read_bytes() == before


def _config(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


GOOD = """Task: t
scorer: s
date: Jan1
video_sets: {}
bodyparts: [a, b]
TrainingFraction: [0.9]
iteration: 0
pcutoff: 0.5
"""


@pytest.mark.parametrize(
    "change, field",
    [
        (("bodyparts: [a, b]\n", ""), "bodyparts"),
        (("iteration: 0", "iteration: zero"), "iteration"),
        (("pcutoff: 0.5", "pcutoff: high"), "pcutoff"),
        (("TrainingFraction: [0.9]", "TrainingFraction: [1.5]"), "TrainingFraction"),
        (("bodyparts: [a, b]", "bodyparts: [a, a]"), "bodyparts"),
        (("Task: t\n", ""), "Task"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, change, field):
    path = _config(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_labels_with_other_bodyparts_name_the_file(tmp_path):
    path = _config(tmp_path, GOOD)
    table = tmp_path / "labeled-data" / "v" / "CollectedData_s.h5"
    write_labels(
        LabeledFrames("s", ("a", "c"), ["labeled-data/v/1.png"], np.ones((1, 2, 2))), table
    )
    with pytest.raises(DataError) as err:
        open_project(path).load_labels()
    assert "CollectedData_s.h5" in str(err.value) and "'c'" in str(err.value)


def test_added_bodypart_keeps_old_labels(tmp_path):
    path = _config(tmp_path, GOOD.replace("[a, b]", "[a, b, new]"))
    table = tmp_path / "labeled-data" / "v" / "CollectedData_s.h5"
    write_labels(
        LabeledFrames("s", ("a", "b"), ["labeled-data/v/1.png"], np.ones((1, 2, 2))), table
    )
    labels = open_project(path).load_labels()
    assert labels.bodyparts == ("a", "b", "new")
    assert (labels.xy[0, :2] == 1).all() and np.isnan(labels.xy[0, 2]).all()


def test_bad_videos_fail_before_anything_is_written(tmp_path, small_video):
    with pytest.raises(VideoError, match="nope.mp4"):
        create_project("p", [tmp_path / "nope.mp4"], ["a"], "s", tmp_path)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(small_video.read_bytes()[:300])
    with pytest.raises(VideoError, match="corrupt.mp4"):
        VideoReader(corrupt)
    assert not any(p.is_dir() for p in tmp_path.iterdir())
    project = create_project("p", [small_video], ["a"], "s", tmp_path)
    before = project.config_path.read_bytes()
    with pytest.raises(VideoError, match="corrupt.mp4"):
        add_videos(project, [corrupt])
    assert project.config_path.read_bytes() == before


def test_video_reader_counts_frames(small_video):
    with VideoReader(small_video) as r:
        frames = list(r)
    assert len(frames) == 20 == r.n_frames and frames[0].shape == (48, 64, 3)


def test_placeholder_skeleton_entries_warn_once_and_are_skipped(tmp_path, caplog):
    # DeepLabCut's template skeleton, left in place after the bodyparts were renamed
    text = GOOD + "skeleton:\n- [bodypart1, bodypart2]\n- [objectA, b]\n- [a, b]\n"
    with caplog.at_level("WARNING"):
        config = load_config(_config(tmp_path, text))
    assert config.skeleton == (("a", "b"),)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "bodypart1" in warnings[0] and "objectA" in warnings[0]
    with pytest.raises(ConfigError, match="skeleton"):
        load_config(_config(tmp_path, GOOD + "skeleton:\n- [a, b, c]\n"))


def test_own_keys_live_in_poseloop_yaml(tmp_path):
    # DeepLabCut 3 refuses config.yaml keys it does not know: poseloop's go beside it
    from train.data.config import save_config

    path = _config(tmp_path, GOOD + "flip_pairs: [[a, b]]\n")
    config = load_config(path)
    assert config.flip_pairs == (("a", "b"),)
    config.set("reference_length", ["a", "b"])
    save_config(config)
    assert "flip_pairs" not in path.read_text() and "reference_length" not in path.read_text()
    again = load_config(path)
    assert again.flip_pairs == (("a", "b"),) and again.reference_length == ("a", "b")
    (tmp_path / "poseloop.yaml").write_text("flip_pairs: [[a, zz]]\n")
    with pytest.raises(ConfigError, match="poseloop.yaml.*zz"):
        load_config(path)
