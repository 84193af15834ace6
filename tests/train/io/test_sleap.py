"""SLEAP labels and predictions through sleap-io, the SLEAP team's own reader and writer."""

import numpy as np
import pytest

from calib.errors import DataError
from stream.cli import main as cli
from train.data.keypoints import Poses2D
from train.data.project import open_project
from train.data.tables import write_analysis
from train.data.video import VideoReader

sio = pytest.importorskip("sleap_io")
NODES = ("snout", "ear", "tail")


def _sleap_labels(video, path):
    """A SLEAP project's labels: frames 2, 7 and 11, the tail missing on frame 7."""
    skeleton = sio.Skeleton(list(NODES), edges=[("snout", "ear"), ("ear", "tail")])
    movie = sio.load_video(str(video))
    points = {2: [[10, 12], [20, 14], [30, 16]], 7: [[11, 13], [21, 15], [np.nan, np.nan]],
              11: [[12.5, 14.25], [22, 16], [32, 18]]}
    frames = [sio.LabeledFrame(video=movie, frame_idx=i, instances=[
        sio.Instance.from_numpy(np.array(p, float), skeleton=skeleton)]) for i, p in points.items()]
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[movie], skeletons=[skeleton]),
                 str(path), verbose=False)
    return points


def test_import_sleap_labels_into_a_project_and_export_back(tmp_path, small_video):
    points = _sleap_labels(small_video, tmp_path / "mice.slp")
    assert cli(["import-labels", str(tmp_path / "mice.slp"), "--workdir", str(tmp_path)]) == 0
    (root,) = tmp_path.glob("mice-imported-*")
    project = open_project(root)
    assert project.config.bodyparts == tuple(NODES)
    assert project.config.skeleton == (("snout", "ear"), ("ear", "tail"))
    labels = project.load_labels()
    assert labels.images == [f"labeled-data/clip/img{i:02d}.png" for i in (2, 7, 11)]
    np.testing.assert_array_equal(labels.xy, np.array(list(points.values())))  # NaN kept
    import cv2

    with VideoReader(small_video) as reader:
        frame = reader.read(7)
    png = cv2.imread(str(root / labels.images[1]))
    assert np.abs(png.astype(int) - frame.astype(int)).mean() < 2

    out = tmp_path / "back.slp"
    assert cli(["export-labels", str(root), str(out)]) == 0
    back = sio.load_slp(str(out))
    assert back.skeletons[0].node_names == list(NODES) and len(back.labeled_frames) == 3
    np.testing.assert_array_equal(back.labeled_frames[1].instances[0].numpy(),
                                  np.array(points[7]))


def test_predictions_to_and_from_slp(tmp_path, small_video):
    rng = np.random.default_rng(0)
    data = (rng.random((20, 3, 3)) * [60, 40, 1]).astype(np.float32)
    data[5] = np.nan  # no pose on frame 5
    table = write_analysis(Poses2D(tuple(NODES), data), "DLC_x", tmp_path / "clipDLC_x.h5")
    out = tmp_path / "clip.predictions.slp"
    assert cli(["convert", str(table), str(out), "--video", str(small_video)]) == 0
    labels = sio.load_slp(str(out))
    assert len(labels.labeled_frames) == 19
    first = labels.labeled_frames[0].instances[0]
    np.testing.assert_allclose(first.numpy(scores=True), data[0], rtol=1e-6)
    assert cli(["convert", str(out), str(tmp_path / "again.h5")]) == 0
    from train.io.convert import read_poses

    again, _ = read_poses(tmp_path / "again.h5")
    np.testing.assert_allclose(again.data, data, rtol=1e-6)


def test_unreadable_labels_are_named(tmp_path):
    bad = tmp_path / "broken.slp"
    bad.write_bytes(b"nope")
    with pytest.raises(DataError, match="broken.slp"):
        from train.io.sleap import import_labels

        import_labels(bad, tmp_path)
