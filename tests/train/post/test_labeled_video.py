"""Labeled videos: frame counts, bodypart colors, likelihood as opacity, pcutoff."""

from __future__ import annotations

import numpy as np
import pytest

from calib.errors import DataError
from train.data.keypoints import Poses2D
from train.data.tables import read_analysis, write_analysis
from train.data.video import VideoReader
from train.post.labeled_video import PoseStyle, bodypart_colors, draw_pose, labeled_video
from train.synth.animal import SynthConfig, make_synthetic_project

RED, GREEN = (0, 0, 255), (0, 255, 0)


def _gray(value: int = 100) -> np.ndarray:
    return np.full((40, 60, 3), value, np.uint8)


def test_colors_are_distinct_per_bodypart():
    colors = bodypart_colors(7)
    assert len(set(colors)) == 7 and all(len(c) == 3 for c in colors)


def test_point_pixel_has_its_bodypart_color_and_opacity():
    style = PoseStyle(colors=[RED, GREEN], pcutoff=0.5, radius=4)
    img = draw_pose(_gray(), np.array([[10.0, 12.0, 1.0], [40.0, 20.0, 0.75]]), style)
    assert tuple(img[12, 10]) == RED
    expected = 0.75 * np.array(GREEN) + 0.25 * 100
    assert np.abs(img[20, 40].astype(float) - expected).max() <= 1
    assert tuple(img[30, 5]) == (100, 100, 100)  # untouched elsewhere


def test_points_under_pcutoff_are_hidden_or_hollow():
    pose = np.array([[20.0, 20.0, 0.3], [np.nan, np.nan, 0.9]])
    hidden = draw_pose(_gray(), pose, PoseStyle(colors=[RED, GREEN], pcutoff=0.5, radius=5))
    assert (hidden == 100).all()
    hollow = draw_pose(_gray(), pose, PoseStyle(colors=[RED, GREEN], pcutoff=0.5, radius=5,
                                               hollow=True))
    assert tuple(hollow[20, 20]) == (100, 100, 100)  # ring: the center stays clear
    assert hollow[20, 25, 2] > 130  # the ring is reddish


def test_skeleton_joins_confident_parts_only():
    style = PoseStyle(colors=[RED, RED, RED], skeleton=[(0, 1), (1, 2)], pcutoff=0.5, radius=2,
                      skeleton_color=(255, 255, 255))
    pose = np.array([[5.0, 10.0, 1.0], [50.0, 10.0, 1.0], [50.0, 35.0, 0.1]])
    img = draw_pose(_gray(), pose, style)
    assert (img[10, 28] > 200).all()  # midway along the confident bone (anti-aliased)
    assert (img[20:30, 50] == 100).all()  # no bone to the unconfident part


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    config = SynthConfig(width=160, height=120, n_frames=24, seed=1)
    return make_synthetic_project(tmp_path_factory.mktemp("lv"), config, n_labeled=4,
                                  progress=False)


def test_labeled_video_frames_and_colors(project, tmp_path):
    video = project.root / "videos" / "synth.mp4"
    truth = project.root / "videos" / "synth_groundtruth.h5"
    out = labeled_video(video, truth, config=project.root, dotsize=4, progress=False)
    assert out == project.root / "videos" / "synthgroundtruth_labeled.mp4"
    with VideoReader(out) as reader:
        frames = list(reader)
    assert len(frames) == 24 == reader.n_frames
    poses, _ = read_analysis(truth)
    colors = bodypart_colors(len(poses.bodyparts))
    snout = poses.data[10, 0]
    x, y = np.round(snout[:2]).astype(int)
    # mp4 compression: the dot's middle is close to its color, not exact
    patch = frames[10][y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(float).mean(axis=0)
    assert np.abs(patch - np.array(colors[0])).max() < 40


def test_filtered_table_gets_its_own_name(project):
    from train.post.filtering import filter_tables

    video = project.root / "videos" / "synth.mp4"
    (filtered,) = filter_tables([project.root / "videos" / "synth_groundtruth.h5"])
    out = labeled_video(video, filtered, progress=False)
    assert out.name == "synthgroundtruth_filtered_labeled.mp4" and out.exists()


def test_table_and_video_must_match(project, tmp_path):
    video = project.root / "videos" / "synth.mp4"
    short = write_analysis(Poses2D.empty(("a", "b"), 5), "net", tmp_path / "short.h5")
    with pytest.raises(DataError, match="5 rows"):
        labeled_video(video, short, progress=False)
    assert not list(tmp_path.glob("*.mp4"))


def test_cli(project, tmp_path):
    from stream.cli import main

    video = project.root / "videos" / "synth.mp4"
    truth = project.root / "videos" / "synth_groundtruth.h5"
    out = tmp_path / "x.mp4"
    assert main(["labeled-video", str(video), str(truth), "--out", str(out), "--hollow"]) == 0
    with VideoReader(out) as reader:
        assert reader.n_frames == 24
