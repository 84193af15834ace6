import shutil

import numpy as np
import pytest

from calib.errors import ConfigError
from train.data.project import open_project
from train.model.dataset import crop_batch, load_images, make_split, split_path


def test_split_is_seeded_recorded_and_reused(blob_project):
    split = make_split(blob_project, shuffle=1)
    assert (len(split.train), len(split.test)) == (12, 4)
    assert split.path == split_path(blob_project, 1, 0.75) and split.path.exists()
    assert "training-datasets/iteration-0/UnaugmentedDataSet_blobs" in split.path.as_posix()
    assert make_split(blob_project, shuffle=1) == split
    other = make_split(blob_project, shuffle=2)
    assert other.test != split.test and sorted(other.train + other.test) == sorted(
        split.train + split.test)


def test_user_split(blob_project):
    test = ["labeled-data/clip/img000.png", "labeled-data/clip/img005.png"]
    split = make_split(blob_project, shuffle=3, test_images=test)
    assert split.test == test and len(split.train) == 14
    assert make_split(blob_project, shuffle=3).test == test
    with pytest.raises(ConfigError, match="nope.png"):
        make_split(blob_project, shuffle=3, test_images=["labeled-data/clip/nope.png"])


def test_openfield_split_has_six_test_frames(openfield, tmp_path):
    shutil.copytree(openfield, tmp_path / "of")
    split = make_split(open_project(tmp_path / "of"), shuffle=1)
    assert (len(split.train), len(split.test)) == (110, 6)


def test_crops_keep_the_animal_and_its_pixels(blob_project):
    labels = blob_project.load_labels()
    data = load_images(blob_project, labels, labels.images)
    rng = np.random.default_rng(0)
    idx = np.arange(len(data))
    crops, kps = crop_batch(data, idx, (32, 64), margin=2, rng=rng)
    assert crops.shape == (16, 32, 64, 3)
    for b in idx:
        for k in range(3):
            if np.isnan(data.keypoints[b, k]).any():
                assert np.isnan(kps[b, k]).all()
                continue
            x, y = (int(round(v)) for v in kps[b, k])
            if 0 <= x < 64 and 0 <= y < 32:  # pixel under the label is the same
                ox, oy = (int(round(v)) for v in data.keypoints[b, k])
                assert (crops[b, y, x] == data.images[b][oy, ox]).all()
