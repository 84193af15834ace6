"""Camera model against OpenCV, fast undistortion, and the calibration TOML."""

import cv2
import numpy as np
import pytest

from calib.calibration import Calibration, load_calibration, save_calibration
from calib.camera import Camera, UndistortTable, rodrigues
from calib.errors import CalibrationError


def _points(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-400, 400, n), rng.uniform(-300, 300, n),
                     rng.uniform(600, 1500, n)], 1)


@pytest.mark.parametrize("fisheye", [False, True])
def test_project_matches_opencv(fisheye):
    k = np.array([[700.0, 0, 410], [0, 705, 290], [0, 0, 1]])
    dist = np.array([0.05, -0.01, 0.002, -0.001]) if fisheye else np.array(
        [-0.2, 0.05, 1e-3, -5e-4, 0.01])
    cam = Camera("a", (800, 600), k, dist, [0.1, -0.2, 0.05], [10, -20, 30], fisheye)
    pts = _points()
    ours = cam.project(pts)
    if fisheye:
        ref = cv2.fisheye.projectPoints(pts[None], cam.rvec, cam.tvec, k, dist)[0][0]
    else:
        ref = cv2.projectPoints(pts, cam.rvec, cam.tvec, k, dist)[0][:, 0]
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    np.testing.assert_allclose(rodrigues(cam.rvec), cv2.Rodrigues(cam.rvec)[0], atol=1e-12)
    # undistort inverts the lens: back to x/z, y/z in the camera frame
    cam_pts = cam.to_camera_frame(pts)
    np.testing.assert_allclose(cam.undistort(ours), cam_pts[:, :2] / cam_pts[:, 2:], atol=1e-7)


def test_undistort_table_matches_exact_within_001_px():
    cam = Camera("a", (800, 600), [[700, 0, 410], [0, 700, 290], [0, 0, 1]],
                 [-0.25, 0.08, 1e-3, -1e-3, 0])
    rng = np.random.default_rng(1)
    px = rng.uniform([-50, -50], [850, 650], (20000, 2))  # some outside: exact fallback
    diff = (UndistortTable(cam)(px) - cam.undistort(px)) * cam.focal
    assert np.abs(diff).max() < 0.01


def test_rig_toml_round_trip_exact(tmp_path):
    cams = [Camera(f"cam{i}", (640 + i, 480), [[600.5 + i, 0, 320.25], [0, 601.0, 240.125],
                                                [0, 0, 1]],
                   [-0.1, 0.01, 1e-4, -2e-4, 0.0], [0.1 * i, 0.2, -0.3], [100.0 * i, 2.5, 1e3])
            for i in range(3)]
    cams.append(Camera("fish", (1280, 720), np.eye(3) * 500 + [[0, 0, 640], [0, 0, 360], [0, 0, 0]],
                       [0.01, 0.002, -1e-3, 1e-4], fisheye=True))
    meta = {"board": {"kind": "charuco", "squares_x": 7}, "error": 0.31, "cam0": {"rms_px": 0.3}}
    path = save_calibration(Calibration(cams, meta), tmp_path / "calibration.toml")
    back = load_calibration(path)
    assert back.names == [c.name for c in cams]
    for a, b in zip(cams, back.cameras, strict=True):
        assert a.size == b.size and a.fisheye == b.fisheye
        for field in ("matrix", "dist", "rvec", "tvec"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert back.metadata == meta
    text = path.read_text()
    assert "[cam_0]" in text and "distortions = " in text and "[metadata.board]" in text


def test_reads_anipose_calibration(tmp_path):
    # layout written by aniposelib's CameraGroup.dump (toml package style)
    text = """[cam_0]
name = "A"
size = [ 1280, 1024,]
matrix = [ [ 1500.0, 0.0, 640.0,], [ 0.0, 1500.0, 512.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.2, 0.1, 0.0, 0.0, 0.0,]
rotation = [ 0.0, 0.0, 0.0,]
translation = [ 0.0, 0.0, 0.0,]

[cam_1]
name = "B"
size = [ 1280, 1024,]
matrix = [ [ 1510.0, 0.0, 630.0,], [ 0.0, 1510.0, 500.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.21, 0.09, 0.0, 0.0, 0.0,]
rotation = [ 0.1, 0.5, 0.0,]
translation = [ -300.0, 0.0, 50.0,]

[metadata]
adjusted = true
error = 0.4
"""
    (tmp_path / "calibration.toml").write_text(text)
    rig = load_calibration(tmp_path / "calibration.toml")
    assert rig.names == ["A", "B"]
    assert rig.cameras[1].tvec[0] == -300.0 and rig.metadata["error"] == 0.4


def test_bad_calibration_files_name_the_problem(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[cam_0]\nname = "A"\nsize = [640, 480]\nmatrix = [[1, 0], [0, 1]]\n'
                   'distortions = [0, 0, 0, 0, 0]\nrotation = [0, 0, 0]\ntranslation = [0, 0, 0]\n')
    with pytest.raises(CalibrationError, match=r"cam_0.*matrix must be 3x3"):
        load_calibration(bad)
    bad.write_text('[cam_0]\nname = "A"\n')
    with pytest.raises(CalibrationError, match=r"cam_0.*missing field"):
        load_calibration(bad)
    bad.write_text("[cam_0\n")
    with pytest.raises(CalibrationError, match="not valid TOML"):
        load_calibration(bad)
