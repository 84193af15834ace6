"""Filtering against the synthetic animal's ground truth: smoothing lowers the error,
short gaps are filled within a bound, long gaps stay NaN."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calib.errors import ConfigError
from train.data.keypoints import Poses2D
from train.data.tables import read_analysis, write_analysis
from train.post.filtering import FilterConfig, filter_poses, filter_tables, filtered_path
from train.synth.animal import SynthConfig, SyntheticAnimal


@pytest.fixture(scope="module")
def truth() -> Poses2D:
    poses = SyntheticAnimal(SynthConfig(n_frames=300, seed=5, occlusion=0.0)).poses()
    data = poses.data.copy()
    data[..., 2] = 1.0
    return Poses2D(poses.bodyparts, data)


def _noisy(truth: Poses2D, sigma: float, outliers: float = 0.0, seed: int = 0) -> Poses2D:
    rng = np.random.default_rng(seed)
    data = truth.data.copy()
    data[..., :2] += rng.normal(0, sigma, data[..., :2].shape)
    jumps = rng.random(data.shape[:2]) < outliers
    data[..., :2][jumps] += rng.choice([-25.0, 25.0], (jumps.sum(), 2))
    return Poses2D(truth.bodyparts, data)


def _error(a: Poses2D, b: Poses2D) -> float:
    return float(np.nanmean(np.linalg.norm(a.xy - b.xy, axis=2)))


@pytest.mark.parametrize("method, window, outliers", [
    ("median", 5, 0.03), ("savgol", 9, 0.0),
])
def test_filtering_lowers_error(truth, method, window, outliers):
    noisy = _noisy(truth, sigma=1.5, outliers=outliers)
    smooth = filter_poses(noisy, FilterConfig(method=method, window=window))
    assert np.isfinite(smooth.xy).all()
    assert _error(smooth, truth) < 0.75 * _error(noisy, truth)


def _with_gap(truth: Poses2D, part: int, start: int, length: int, how: str) -> Poses2D:
    data = truth.data.copy()
    if how == "nan":
        data[start:start + length, part, :2] = np.nan
    else:  # a confident-looking jump the network got wrong, flagged by low likelihood
        data[start:start + length, part, :2] = 0.0
        data[start:start + length, part, 2] = 0.1
    return Poses2D(truth.bodyparts, data)


@pytest.mark.parametrize("how", ["nan", "low likelihood"])
def test_short_gap_is_filled_long_gap_stays(truth, how):
    gappy = _with_gap(truth, part=4, start=100, length=8, how=how)
    gappy = _with_gap(gappy, part=4, start=200, length=15, how=how)
    out = filter_poses(gappy, FilterConfig(window=3, max_gap=10))
    filled = out.xy[100:108, 4]
    err = np.linalg.norm(filled - truth.xy[100:108, 4], axis=1)
    assert np.isfinite(filled).all() and err.max() < 1.5
    assert np.isnan(out.xy[200:215, 4]).all()
    assert np.isfinite(out.xy[199, 4]).all() and np.isfinite(out.xy[215, 4]).all()
    assert np.array_equal(out.likelihood, gappy.likelihood)  # kept as it was


def test_gaps_at_the_ends_stay(truth):
    gappy = _with_gap(truth, part=0, start=0, length=3, how="nan")
    out = filter_poses(gappy, FilterConfig(max_gap=10))
    assert np.isnan(out.xy[:3, 0]).all() and np.isfinite(out.xy[3:, 0]).all()


def test_clean_track_with_median_stays_close(truth):
    out = filter_poses(truth, FilterConfig(window=3))
    assert _error(out, truth) < 0.5


@pytest.mark.parametrize("kwargs, field", [
    ({"window": 4}, "window"), ({"method": "mean"}, "method"), ({"max_gap": -1}, "max_gap"),
    ({"method": "savgol", "window": 3, "polyorder": 3}, "polyorder"), ({"pcutoff": 2.0}, "pcutoff"),
])
def test_bad_settings(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        FilterConfig(**kwargs)


def test_tables_and_cli(truth, tmp_path):
    from stream.cli import main

    a = write_analysis(_noisy(truth, 1.0), "DLC_net", tmp_path / "videoDLC_net.h5")
    b = write_analysis(_noisy(truth, 1.0, seed=1), "DLC_net", tmp_path / "otherDLC_net.h5")
    written = filter_tables([a, b], method="savgol", window=7)
    assert written == [tmp_path / "videoDLC_net_filtered.h5", tmp_path / "otherDLC_net_filtered.h5"]
    poses, scorer = read_analysis(written[0])
    assert scorer == "DLC_net" and poses.n_frames == truth.n_frames
    assert main(["filter", str(a), "--method", "median", "--window", "5", "--csv", "--plot"]) == 0
    assert filtered_path(a).with_suffix(".csv").exists()
    png = cv2.imread(str(filtered_path(a).with_suffix(".png")))
    assert png is not None and png.shape[0] > 7 * 100  # one panel per bodypart
    assert main(["filter", str(a), "--window", "4"]) == 1
