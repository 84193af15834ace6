import numpy as np
import pytest

from calib.errors import DataError
from stream.cli import main as cli
from train.data.keypoints import Poses2D
from train.data.tables import write_analysis
from train.io.convert import read_poses

pytest.importorskip("ndx_pose")


def _analysis(tmp_path):
    rng = np.random.default_rng(0)
    data = (rng.random((12, 3, 3)) * [100, 80, 1]).astype(np.float32)
    data[4, 1] = np.nan
    poses = Poses2D(("snout", "ear", "tail"), data)
    return poses, write_analysis(poses, "DLC_Resnet50_mNov2shuffle1_snapshot_5",
                                 tmp_path / "mouseDLC.h5")


def test_analysis_to_nwb_read_back_by_pynwb(tmp_path, small_video):
    from pynwb import NWBHDF5IO

    poses, table = _analysis(tmp_path)
    out = tmp_path / "mouse.nwb"
    assert cli(["convert", str(table), str(out), "--video", str(small_video)]) == 0
    with NWBHDF5IO(str(out), mode="r") as io:  # pynwb itself, with ndx-pose's types
        estimation = io.read().processing["behavior"]["PoseEstimation"]
        assert estimation.scorer == "DLC_Resnet50_mNov2shuffle1_snapshot_5"
        assert estimation.source_software == "poseloop"
        assert list(estimation.source_video.dimension[:]) == [64, 48]
        ear = estimation.pose_estimation_series["ear"]
        np.testing.assert_array_equal(ear.data[:], poses.data[:, 1, :2])
        np.testing.assert_array_equal(ear.confidence[:], poses.data[:, 1, 2])
        assert ear.unit == "pixels" and ear.timestamps[1] == pytest.approx(1 / 30)
    back, scorer = read_poses(out)
    assert back.bodyparts == poses.bodyparts
    np.testing.assert_array_equal(back.data, poses.data)
    assert cli(["convert", str(out), str(tmp_path / "again.h5")]) == 0
    np.testing.assert_array_equal(read_poses(tmp_path / "again.h5")[0].data, poses.data)


def test_foreign_files_are_named(tmp_path):
    fake = tmp_path / "fake.nwb"
    fake.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="fake.nwb"):
        read_poses(fake)
    with pytest.raises(DataError, match="unknown format '.xyz'"):
        read_poses(tmp_path / "a.xyz")
