"""Calibration calibration on the virtual rig against its known cameras (issue 5, item 7):
focal lengths within 0.1%, principal points within 1 px, camera centers within 0.5% of the
rig's size, per-camera RMS reprojection error close to the injected noise."""

import numpy as np
import pytest

from calib.calibrate_rig import calibrate_rig
from calib.calibration import Calibration
from calib.virtual_rig import ARENA_BOARD, board_motion, make_rig, observe


def check_against_truth(true_rig, result, noise_px):
    size = true_rig.size()
    injected = noise_px * np.sqrt(2)  # RMS of the 2D error vector
    for true, est in zip(true_rig.cameras, result.rig.cameras, strict=True):
        focal_err = np.abs(np.diag(est.matrix)[:2] / np.diag(true.matrix)[:2] - 1)
        assert focal_err.max() < 1e-3, (true.name, focal_err)
        pp_err = np.abs(est.matrix[:2, 2] - true.matrix[:2, 2])
        assert pp_err.max() < 1.0, (true.name, pp_err)
        center_err = np.linalg.norm(est.center - true.center) / size
        assert center_err < 0.005, (true.name, center_err)
        rms = result.rig.metadata[true.name]["rms_px"]
        assert 0.9 * injected < rms < 1.1 * injected, (true.name, rms, injected)


def _run(n_cameras, n_views, noise_px, seed):
    true_rig, a2w = make_rig(n_cameras, seed=seed)
    poses = board_motion(n_views, a2w, seed=seed + 1)
    views = observe(true_rig, poses, noise_px=noise_px, seed=seed + 2)
    return true_rig, views, calibrate_rig(views.detections, ARENA_BOARD)


@pytest.mark.parametrize("n_cameras", [3, 4])
def test_calibration_recovers_virtual_rig(n_cameras):
    # Small and fast: 100 board poses with 0.1 px corner noise.
    true_rig, views, result = _run(n_cameras, 100, 0.1, seed=1)
    check_against_truth(true_rig, result, 0.1)
    meta = result.rig.metadata
    assert meta["board"] == ARENA_BOARD.to_dict()
    for det in views.detections:  # views without the board are skipped and counted
        assert meta[det.name]["frames_failed"] == det.n_failed > 0
        assert meta[det.name]["frames_with_board"] + det.n_failed == 100
        assert set(meta[det.name]["std"]) >= {"fx", "fy", "cx", "cy", "k1", "k2"}


@pytest.mark.slow
@pytest.mark.parametrize("n_cameras", [3, 4])
def test_calibration_recovers_virtual_rig_realistic_noise(n_cameras):
    true_rig, _, result = _run(n_cameras, 600, 0.2, seed=5)
    check_against_truth(true_rig, result, 0.2)


def test_outlier_views_are_rejected(rig3):
    true_rig, a2w = rig3
    views = observe(true_rig, board_motion(60, a2w, seed=7), noise_px=0.1, seed=8)
    det = views.detections[1]
    bad = sorted(det.frames)[:3]
    rng = np.random.default_rng(0)
    for k in bad:  # a detector gone wrong: corners shuffled by many pixels
        corners = det.frames[k].corners
        det.frames[k].corners = corners + rng.normal(0, 8, corners.shape)
    result = calibrate_rig(views.detections, ARENA_BOARD)
    assert set(bad) <= set(result.intrinsics[1].rejected)
    check_against_truth(true_rig, result, 0.1)


def test_single_camera_gives_intrinsics_only(rig3):
    true_rig, a2w = rig3
    views = observe(true_rig, board_motion(60, a2w, seed=3), noise_px=0.1, seed=4)
    result = calibrate_rig(views.detections[:1], ARENA_BOARD)
    cam, true = result.rig.cameras[0], true_rig.cameras[0]
    assert result.bundle is None
    assert np.abs(np.diag(cam.matrix)[:2] / np.diag(true.matrix)[:2] - 1).max() < 2e-3
    assert result.intrinsics[0].std["fx"] > 0


def test_fisheye_rig(rig3):
    true_rig, a2w = rig3
    cams = []
    for cam in true_rig.cameras:
        fish = cam.copy()
        fish.fisheye, fish.dist = True, np.array([0.05, -0.02, 0.004, -0.001])
        cams.append(fish)
    fish_rig = Calibration(cams)
    views = observe(fish_rig, board_motion(80, a2w, seed=2), noise_px=0.1, seed=3)
    result = calibrate_rig(views.detections, ARENA_BOARD, fisheye=True)
    assert all(c.fisheye and c.dist.size == 4 for c in result.rig.cameras)
    check_against_truth(fish_rig, result, 0.1)
