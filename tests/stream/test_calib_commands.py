"""The calibration commands end to end: board, calibrate (rendered board videos of the
virtual rig), undistort-check, triangulate (DeepLabCut analysis tables)."""

import numpy as np
import pytest

from calib.calibration import load_calibration, save_calibration
from calib.virtual_rig import RENDER_BOARD, board_motion, make_rig, render_views
from stream.cli import main
from train.data.keypoints import Poses2D
from train.data.tables import read_poses3d, write_analysis

BOARD_ARGS = ["--squares", "7", "5", "--square-length", "90", "--marker-length", "70"]


def test_board_command_writes_png_and_pdf(tmp_path, capsys):
    assert main(["board", str(tmp_path / "charuco"), "--dpi", "100"]) == 0
    assert (tmp_path / "charuco.png").stat().st_size > 0
    assert (tmp_path / "charuco.pdf").read_bytes().startswith(b"%PDF")
    assert main(["board", str(tmp_path / "x"), "--marker-length", "50"]) == 1
    assert "marker_length" in capsys.readouterr().err


def _calibrate_and_check(true_rig, sources, tmp_path, capsys, focal_tol, rms_max,
                         pp_tol=5.0, pp_sigmas=None):
    out = tmp_path / "calibration.toml"
    assert main(["calibrate", *map(str, sources), "-o", str(out), *BOARD_ARGS]) == 0
    printed = capsys.readouterr().out
    assert "cam0" in printed and "overall RMS" in printed
    rig = load_calibration(out)
    assert rig.names == [c.name for c in true_rig.cameras]
    for true, est in zip(true_rig.cameras, rig.cameras, strict=True):
        assert abs(est.matrix[0, 0] / true.matrix[0, 0] - 1) < focal_tol
        pp_err = np.abs(est.matrix[:2, 2] - true.matrix[:2, 2])
        if pp_sigmas is None:
            assert pp_err.max() < pp_tol
        else:  # the reported uncertainty must cover the error
            std = rig.metadata[est.name]["std"]
            assert (pp_err < pp_sigmas * np.array([std["cx"], std["cy"]])).all()
        assert np.linalg.norm(est.center - true.center) < 0.02 * true_rig.size()
        assert rig.metadata[est.name]["rms_px"] < rms_max
    for suffix in ("_report.txt", "_rig.png", "_errors.png"):
        assert (tmp_path / f"calibration{suffix}").stat().st_size > 0
    checks = tmp_path / "checks"
    # the board comes from the calibration's metadata
    assert main(["undistort-check", str(out), str(sources[0]), "-o", str(checks),
                 "--views", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(f.suffix == ".png" for f in checks.iterdir())
    assert all(float(line.split("line RMS")[1].split()[0]) < 0.5 for line in lines)


def test_calibrate_and_undistort_check_on_rendered_image_folders(tmp_path, capsys):
    # fast: sharp frames, no supersampling, as PNG folders
    rig, a2w = make_rig(3, seed=11)
    poses = board_motion(30, a2w, RENDER_BOARD, seed=12)
    folders = render_views(rig, poses, tmp_path / "frames", RENDER_BOARD, blur=0,
                           supersample=1, video=False)
    _calibrate_and_check(rig, folders, tmp_path, capsys, focal_tol=0.01, rms_max=0.5)


@pytest.mark.slow
def test_calibrate_and_undistort_check_on_rendered_videos(tmp_path, capsys):
    # motion blur (the board moves ~3 px during the exposure), anti-aliasing, mp4 compression
    rig, a2w = make_rig(3, seed=11)
    poses = board_motion(60, a2w, RENDER_BOARD, seed=12)
    videos = render_views(rig, poses, tmp_path / "videos", RENDER_BOARD)
    # ~30 blurred views per camera leave the principal point uncertain by ~2 px
    _calibrate_and_check(rig, videos, tmp_path, capsys, focal_tol=0.005, rms_max=0.5,
                         pp_sigmas=4.0)


def test_triangulate_command_on_analysis_tables(tmp_path, capsys):
    rig, a2w = make_rig(3, seed=1)
    calib_path = save_calibration(rig, tmp_path / "calibration.toml")
    frames, parts = 50, ("snout", "tail")
    t = np.linspace(0, 2 * np.pi, frames)
    arena = np.stack([np.stack([200 * np.cos(t), 200 * np.sin(t), 50 + 0 * t], -1),
                      np.stack([150 * np.cos(t), 150 * np.sin(t), 30 + 0 * t], -1)], 1)
    xyz = arena @ a2w[:3, :3].T + a2w[:3, 3]
    rng = np.random.default_rng(0)
    tables = []
    for cam in reversed(rig.cameras):  # argument order differs from the calibration's
        data = np.concatenate([cam.project(xyz) + rng.normal(0, 0.5, (frames, 2, 2)),
                               np.full((frames, 2, 1), 0.95)], -1)
        if cam.name == "cam2":
            data[5, 0, 2] = 0.01  # under pcutoff in one camera
        path = write_analysis(Poses2D(parts, data), "DLC_test",
                              tmp_path / f"mouse_{cam.name}DLC_test.h5")
        tables.append(str(path))
    out = tmp_path / "mouse_3d.h5"
    assert main(["triangulate", str(calib_path), *tables, "-o", str(out)]) == 0
    assert "100.0% triangulated" in capsys.readouterr().out
    poses, scorer = read_poses3d(out)
    assert scorer == "DLC_test" and poses.bodyparts == parts
    assert np.sqrt(np.mean(np.sum((poses.xyz - xyz) ** 2, -1))) < 2.0
    assert poses.n_cameras[5, 0] == 2 and (np.delete(poses.n_cameras, 5, 0) == 3).all()
    assert (poses.reprojection_error < 3).all() and np.allclose(poses.score[6:], 0.95)
    assert out.with_suffix(".csv").exists() and out.with_suffix(".png").stat().st_size > 0
    # tables named for no camera, fewer than 2 tables, a broken calibration: clear errors
    assert main(["triangulate", str(calib_path), tables[0]]) == 1
    (tmp_path / "bad.toml").write_text("[cam_0\n")
    assert main(["triangulate", str(tmp_path / "bad.toml"), *tables]) == 1
    err = capsys.readouterr().err
    assert "at least 2 cameras" in err and "bad.toml" in err


def test_calibrate_compare_opencv_prints_both_pipelines(tmp_path, capsys):
    from dataclasses import replace

    from calib.photo_look import PHOTO_CHECKERBOARD, SHARP, photo_views

    views = photo_views(PHOTO_CHECKERBOARD, replace(SHARP, psf_sigma=1.0), 6, seed=4,
                        supersample=2)
    folders = views.write(tmp_path / "frames")
    assert main(["calibrate", *map(str, folders), "-o", str(tmp_path / "c.toml"),
                 "--board", "checkerboard", "--squares", "10", "7", "--square-length", "30",
                 "--no-report", "--compare-opencv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("pipeline"))
    rows = [line.split() for line in lines[head + 1:head + 11]]
    assert [" ".join(r[:2]) for r in rows[:4]] == ["poseloop left", "poseloop right",
                                                   "poseloop intrinsics", "poseloop intrinsics"]
    opencv = {" ".join(r[:3]) for r in rows[4:]}
    assert opencv == {"opencv subpix 5x5", "opencv subpix 7x7", "opencv subpix 11x11"}
    baselines = [float(r[-2]) for r in rows[4:] if r[3] == "right"]
    assert len(baselines) == 3 and all(np.isfinite(baselines))
    assert abs(float(rows[1][-1]) / 99.6 - 1) < 0.005  # poseloop's baseline (true: 99.6)
