"""Triangulation on the virtual rig against the Cramer-Rao bound (issue 5, item 7): RMSE
<= 1.02x the bound with equal noise, <= 1.05x when the 2D noise grows as the likelihood
falls, and with 10% wrong views at most 0.5% of points off by more than 5x the median."""

import numpy as np
import pytest

from calib.errors import CalibrationError
from calib.triangulate import Triangulator, cramer_rao_rmse, triangulate
from calib.virtual_rig import arena_points

N = 20000


def _project(cameras, points):
    return np.stack([c.project(points) for c in cameras])


def _rmse(a, b):
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, -1))))


@pytest.mark.parametrize("rig_name", ["rig3", "rig4"])
@pytest.mark.parametrize("refine", [False, True])
def test_equal_noise_reaches_cramer_rao(rig_name, refine, request):
    rig, a2w = request.getfixturevalue(rig_name)
    points = arena_points(a2w, N, seed=1)
    rng = np.random.default_rng(2)
    pixels = _project(rig.cameras, points) + rng.normal(0, 1.0, (len(rig.cameras), N, 2))
    result = triangulate(rig.cameras, pixels, refine=refine)
    bound = cramer_rao_rmse(rig.cameras, points, np.ones((len(rig.cameras), N)))
    assert _rmse(result.xyz, points) <= 1.02 * bound
    assert (result.n_cameras == len(rig.cameras)).all()
    # mean over views of the reprojection error of 1-px noise: close to E|n| ~ 1.25 px,
    # less the fit's share
    assert 0.8 < np.mean(result.reprojection_error) < 1.3


@pytest.mark.parametrize("rig_name", ["rig3", "rig4"])
def test_likelihood_weighting_reaches_cramer_rao(rig_name, request):
    rig, a2w = request.getfixturevalue(rig_name)
    points = arena_points(a2w, N, seed=3)
    rng = np.random.default_rng(4)
    n_cams = len(rig.cameras)
    lik = rng.uniform(0.2, 1.0, (n_cams, N))
    sigma = 1.0 / lik  # 2D noise grows as the likelihood falls
    pixels = _project(rig.cameras, points) + rng.normal(0, 1, (n_cams, N, 2)) * sigma[..., None]
    bound = cramer_rao_rmse(rig.cameras, points, sigma)
    weighted = triangulate(rig.cameras, pixels, lik)
    assert _rmse(weighted.xyz, points) <= 1.05 * bound
    np.testing.assert_allclose(weighted.score, lik.mean(0), rtol=1e-12)
    unweighted = triangulate(rig.cameras, pixels)
    assert _rmse(unweighted.xyz, points) > 1.1 * bound  # the weighting is what gets there


def test_robust_survives_ten_percent_wrong_views(rig4):
    rig, a2w = rig4
    points = arena_points(a2w, N, seed=5)
    rng = np.random.default_rng(6)
    truth = _project(rig.cameras, points)
    pixels = truth + rng.normal(0, 1.0, (4, N, 2))
    wrong = rng.random((4, N)) < 0.10
    pixels[wrong] = rng.uniform([0, 0], rig.cameras[0].size, (int(wrong.sum()), 2))
    result = triangulate(rig.cameras, pixels, robust=True, threshold=10.0)
    err = np.linalg.norm(result.xyz - points, axis=1)
    returned = np.isfinite(err)
    off = err[returned] > 5 * np.median(err[returned])
    assert off.sum() <= 0.005 * N  # wrong 3D points among all points
    # Missing points: those left with fewer than two good views (0.37% of points with 4
    # cameras), plus a few where wrong views agreed with each other better than the good.
    unrecoverable = (~wrong).sum(0) < 2
    assert (~returned).mean() <= unrecoverable.mean() + 0.002
    assert (off.sum() + (~returned).sum()) <= unrecoverable.sum() + 0.003 * N
    # Wrong views are left out, except rare chance agreements: near the right place, or
    # two wrong views consistent with each other (an ambiguity no consensus can resolve).
    used_wrong = result.used & wrong & ~unrecoverable
    assert used_wrong.sum() <= 0.02 * (wrong & ~unrecoverable).sum()
    plain = triangulate(rig.cameras, pixels)
    plain_err = np.linalg.norm(plain.xyz - points, axis=1)
    assert (plain_err > 5 * np.median(plain_err)).mean() > 0.2  # what robust fixes


def test_pcutoff_missing_views_and_shapes(rig3):
    rig, a2w = rig3
    frames, parts = 30, 5
    points = arena_points(a2w, frames * parts, seed=7).reshape(frames, parts, 3)
    pixels = _project(rig.cameras, points)  # (C, frames, parts, 2)
    lik = np.full(pixels.shape[:-1], 0.9)
    lik[0, :, 0] = 0.05  # under pcutoff in camera 0: bodypart 0 from cameras 1, 2
    pixels[1, :, 1] = np.nan  # camera 1 lost bodypart 1
    lik[1:, :, 2] = 0.0  # bodypart 2 seen by camera 0 only: missing in 3D
    pixels[0, :, 3] += 300.0  # garbage but confident: the wrong view is left out
    result = Triangulator(rig.cameras).triangulate(pixels, lik, pcutoff=0.1, robust=True)
    assert result.xyz.shape == (frames, parts, 3) and result.used.shape == (3, frames, parts)
    assert (result.n_cameras[:, 0] == 2).all() and not result.used[0, :, 0].any()
    assert (result.n_cameras[:, 1] == 2).all() and not result.used[1, :, 1].any()
    assert np.isnan(result.xyz[:, 2]).all() and (result.n_cameras[:, 2] == 0).all()
    assert np.isnan(result.reprojection_error[:, 2]).all() and np.isnan(result.score[:, 2]).all()
    assert (result.n_cameras[:, 3] == 2).all() and not result.used[0, :, 3].any()
    ok = np.array([0, 1, 3, 4])
    np.testing.assert_allclose(result.xyz[:, ok], points[:, ok], atol=1e-6)
    assert np.nanmax(result.reprojection_error) < 1e-5


def test_large_batches_match_small_ones(rig4):
    # >= 4096 points go through the undistortion tables and blocks of 32768 points
    rig, a2w = rig4
    points = arena_points(a2w, 70000, seed=8)
    rng = np.random.default_rng(9)
    pixels = _project(rig.cameras, points) + rng.normal(0, 1.0, (4, 70000, 2))
    tri = Triangulator(rig.cameras)
    big = tri.triangulate(pixels)
    small = np.concatenate([tri.triangulate(pixels[:, i:i + 1000]).xyz
                            for i in range(0, 70000, 10000)])
    idx = np.concatenate([np.arange(i, i + 1000) for i in range(0, 70000, 10000)])
    np.testing.assert_allclose(big.xyz[idx], small, atol=0.02)


def test_bad_shapes_are_errors(rig3):
    tri = Triangulator(rig3[0].cameras)
    with pytest.raises(CalibrationError, match=r"pixels must be \(3"):
        tri.triangulate(np.zeros((2, 10, 2)))
    with pytest.raises(CalibrationError, match="likelihood must be"):
        tri.triangulate(np.zeros((3, 10, 2)), np.ones((3, 9)))
    with pytest.raises(CalibrationError, match="at least 2 cameras"):
        Triangulator(rig3[0].cameras[:1])
