import shutil

import numpy as np
import pytest
import torch

from calib.errors import ConfigError
from train.data.project import open_project
from train.model.dataset import LabeledImages, crop_batch, load_images, make_split, split_path
from train.model.targets import make_targets


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


def _animal_on_the_left(n: int = 4) -> LabeledImages:
    """Frames of 120 x 200 noise with a 3-point animal in the left quarter, as in a
    recording where the animal never visits the rest of the arena."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 200, 3), dtype=np.uint8) for _ in range(n)]
    keypoints = rng.uniform((10, 40), (40, 80), (n, 3, 2)).astype(np.float32)
    return LabeledImages([f"f{i}.png" for i in range(n)], images, keypoints)


def _crop_origins(data: LabeledImages, idx: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """``(B, 2)`` x, y of each crop's top-left corner in its frame (labels move by it)."""
    return np.round(data.keypoints[idx, 0] - kps[:, 0]).astype(int)


def test_anywhere_crops_show_the_frame_corners_as_often_as_its_middle():
    data = _animal_on_the_left()
    idx = np.arange(8000) % len(data)
    crops, kps = crop_batch(data, idx, (40, 40), 2.0, np.random.default_rng(0), anywhere=1.0)
    x0, y0 = _crop_origins(data, idx, kps).T
    assert crops.shape == (8000, 40, 40, 3) and x0.min() >= 0 and x0.max() <= 160

    def shown(x: int, y: int) -> int:
        return int(((x0 <= x) & (x < x0 + 40) & (y0 <= y) & (y < y0 + 40)).sum())

    # every placement overlapping the frame, clamped into it: a pixel is in 40 to 79 of every
    # 239 x 159 crops along x, y; a start uniform over the valid ones would show a corner
    # pixel in about 1 of 161 x 81 crops (0.6 of 8000) against a central one's 980
    middle = shown(100, 60)
    assert middle > 250
    for corner in ((0, 0), (199, 0), (0, 119), (199, 119)):
        assert shown(*corner) > 0.6 * middle, corner


def test_background_crops_come_at_the_configured_rate_and_teach_only_negatives():
    data = _animal_on_the_left()
    idx = np.arange(4000) % len(data)

    def background(anywhere: float) -> np.ndarray:
        """Which crops show no labeled point."""
        _, kps = crop_batch(data, idx, (40, 40), 2.0, np.random.default_rng(1), anywhere)
        inside = ((kps >= 0) & (kps <= 39)).all(axis=2)
        return ~inside.any(axis=1)

    assert not background(0.0).any()  # crops around the animal always hold it
    empty_share = background(1.0).mean()  # anywhere crops miss this animal most of the time
    assert empty_share > 0.5
    assert abs(background(0.25).mean() - 0.25 * empty_share) < 0.03
    # a background crop's targets: its labels lie outside, so every cell is a negative
    _, kps = crop_batch(data, idx[:64], (40, 40), 2.0, np.random.default_rng(2), 1.0)
    empty = ~((kps >= 0) & (kps <= 39)).all(axis=2).any(axis=1)
    kp = torch.from_numpy(kps[empty])
    targets = make_targets(kp, (10, 10), 4, 6.0, 7.2801, 16.0)
    assert len(kp) and targets.valid.all()  # labeled: they enter the heatmap loss
    far = (kp.amin(dim=2) < -18) | (kp.amax(dim=2) > 57)  # 3 sigma outside the crop
    assert targets.heatmap[far].max() < 0.01 and targets.locref_mask[:, ::2][far].sum() == 0
