import numpy as np
import pandas as pd
import pytest

from calib.errors import DataError
from train.data import tables
from train.data.keypoints import LabeledFrames, Poses2D, Poses3D


def _raw(path):
    return tables._read_frame(path)


@pytest.mark.parametrize("source", ["h5", "csv"])
def test_openfield_labels_round_trip_exactly(openfield, tmp_path, source):
    folder = openfield / "labeled-data" / "m4s1"
    labels = tables.read_labels(folder / f"CollectedData_Pranav.{source}")
    assert labels.bodyparts == ("snout", "leftear", "rightear", "tailbase")
    assert len(labels) == 116 and labels.index_style == "flat"
    tables.write_labels(labels, tmp_path / "CollectedData_Pranav.h5")
    for ext in ("h5", "csv"):
        original, written = _raw(folder / f"CollectedData_Pranav.{ext}"), _raw(
            tmp_path / f"CollectedData_Pranav.{ext}")
        pd.testing.assert_frame_equal(original, written, check_exact=True)
        assert written.columns.names == ["scorer", "bodyparts", "coords"]
    original_csv = (folder / "CollectedData_Pranav.csv").read_text().splitlines()
    assert (tmp_path / "CollectedData_Pranav.csv").read_text().splitlines() == original_csv


def test_tuple_index_round_trip(tmp_path):
    xy = np.array([[[1.5, 2.25], [np.nan, np.nan]], [[3.0, 4.0], [5.125, 6.0]]])
    images = ["labeled-data/v1/img001.png", "labeled-data/v1/img007.png"]
    labels = LabeledFrames("alice", ("nose", "tail"), images, xy, index_style="tuple")
    tables.write_labels(labels, tmp_path / "CollectedData_alice.h5")
    for ext in ("h5", "csv"):
        back = tables.read_labels(tmp_path / f"CollectedData_alice.{ext}")
        assert back.index_style == "tuple" and back.images == images
        np.testing.assert_array_equal(back.xy, xy)
        assert isinstance(_raw(tmp_path / f"CollectedData_alice.{ext}").index, pd.MultiIndex)


def test_analysis_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.random((30, 3, 3)).astype(np.float32) * 100
    data[4, 1] = np.nan
    poses = Poses2D(("a", "b", "c"), data)
    path = tables.analysis_path(tmp_path / "mouse.mp4", "DLC_poseloop_test")
    assert path.name == "mouseDLC_poseloop_test.h5"
    tables.write_analysis(poses, "DLC_poseloop_test", path, csv=True)
    for p in (path, path.with_suffix(".csv")):
        back, scorer = tables.read_analysis(p)
        assert scorer == "DLC_poseloop_test" and back.bodyparts == poses.bodyparts
        np.testing.assert_allclose(back.data, data, rtol=1e-6)
        assert np.isnan(back.data[4, 1]).all()
    df = pd.read_hdf(path, "df_with_missing")
    assert list(df.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
    assert list(df.index) == list(range(30))


def test_poses3d_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    p = Poses3D(("a", "b"), rng.random((5, 2, 3)), rng.random((5, 2)), rng.random((5, 2)),
                rng.integers(0, 4, (5, 2)))
    tables.write_poses3d(p, "poseloop3d", tmp_path / "out3d.h5")
    for ext in ("h5", "csv"):
        back, scorer = tables.read_poses3d(tmp_path / f"out3d.{ext}")
        np.testing.assert_allclose(back.xyz, p.xyz, rtol=1e-6)
        np.testing.assert_array_equal(back.n_cameras, p.n_cameras)


def test_unreadable_table_names_file(tmp_path):
    bad = tmp_path / "CollectedData_x.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="CollectedData_x.h5"):
        tables.read_labels(bad)
    with pytest.raises(DataError, match="no such table"):
        tables.read_labels(tmp_path / "missing.h5")


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    labels = LabeledFrames("s", ("a",), ["labeled-data/v/i.png"], np.ones((1, 1, 2)))
    path = tables.write_labels(labels, tmp_path / "CollectedData_s.h5")
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_hdf", boom)
    labels.xy[:] = 7
    with pytest.raises(RuntimeError):
        tables.write_labels(labels, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_labels_with_unknown_bodypart_is_an_error():
    labels = LabeledFrames("s", ("a", "zz"), ["x"], np.ones((1, 2, 2)))
    with pytest.raises(DataError, match="zz"):
        labels.with_bodyparts(("a", "b"))
    grown = LabeledFrames("s", ("a",), ["x"], np.ones((1, 1, 2))).with_bodyparts(("a", "b"))
    assert grown.bodyparts == ("a", "b") and np.isnan(grown.xy[0, 1]).all()


def test_written_tables_get_the_umask_mode(tmp_path):
    import os

    labels = LabeledFrames("s", ("a",), ["labeled-data/v/i.png"], np.ones((1, 1, 2)))
    old = os.umask(0o022)
    try:
        path = tables.write_labels(labels, tmp_path / "CollectedData_s.h5")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.with_suffix(".csv").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("style", ["flat", "tuple"])
def test_written_h5_carries_the_format_version_pandas_2_reads(tmp_path, style):
    # pandas 3 stopped writing this attribute; pandas 2 (DeepLabCut's) cannot read a
    # table without it. tests/interop reads these files with pandas 2 itself.
    import tables as pytables

    images = ["labeled-data/v1/img001.png"] if style == "tuple" else ["img001.png"]
    labels = LabeledFrames("alice", ("nose",), images, np.ones((1, 1, 2)), index_style=style)
    path = tables.write_labels(labels, tmp_path / "CollectedData_alice.h5", csv=False)
    with pytables.open_file(path) as h5:
        assert h5.get_node("/df_with_missing")._v_attrs.pandas_version == "0.15.2"
