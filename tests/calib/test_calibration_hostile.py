"""Hostile calibration files: a camera matrix that cannot project, random bytes, a size
with one number, a metadata table that is not a table. Each is refused with one line
naming the file, the camera table and the field, by the loader and by the command."""

from __future__ import annotations

import numpy as np
import pytest

from calib.calibration import load_calibration
from calib.errors import CalibrationError
from stream.cli import main as cli
from train.data.keypoints import Poses2D
from train.data.tables import write_analysis

CAMERA = """[cam_{i}]
name = "{name}"
size = {size}
matrix = {matrix}
distortions = [0.0, 0.0, 0.0, 0.0, 0.0]
rotation = [0.0, {ry}, 0.0]
translation = [{tx}, 0.0, 0.0]
"""
GOOD = "[[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]]"


def _calibration(path, matrix_b=GOOD, size_b="[640, 480]", head=""):
    a = CAMERA.format(i=0, name="A", size="[640, 480]", matrix=GOOD, ry=0.0, tx=0.0)
    b = CAMERA.format(i=1, name="B", size=size_b, matrix=matrix_b, ry=-0.3, tx=-200.0)
    path.write_text(head + a + b)
    return path


@pytest.mark.parametrize("matrix", [
    "[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]",  # zero
    "[[800.0, 0.0, 320.0], [800.0, 0.0, 240.0], [0.0, 0.0, 1.0]]",  # singular
    "[[-800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]]",  # negative focal length
], ids=["zero", "singular", "negative-focal"])
def test_camera_matrix_that_cannot_project_is_refused(tmp_path, matrix):
    path = _calibration(tmp_path / "calibration.toml", matrix_b=matrix)
    with pytest.raises(CalibrationError, match=r"calibration.toml \[cam_1\].*'B'.*matrix"):
        load_calibration(path)


@pytest.mark.parametrize("size", ["[640]", "[640, 480, 3]", "[640.5, 480]", "640"])
def test_size_that_is_not_width_and_height_is_refused(tmp_path, size):
    path = _calibration(tmp_path / "calibration.toml", size_b=size)
    with pytest.raises(CalibrationError, match=r"calibration.toml \[cam_1\].*size"):
        load_calibration(path)


def test_random_bytes_and_bad_metadata_are_refused(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(CalibrationError, match="calibration.toml: (not valid TOML|cannot be read)"):
        load_calibration(path)
    _calibration(path, head="metadata = 5\n")
    with pytest.raises(CalibrationError, match=r"calibration.toml: \[metadata\]"):
        load_calibration(path)


def test_triangulate_command_refuses_a_zero_matrix_in_one_line(tmp_path, capsys):
    path = _calibration(tmp_path / "calibration.toml",
                        matrix_b="[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]")
    data = np.full((5, 1, 3), 0.9, np.float32)
    tables = [write_analysis(Poses2D(("nose",), data), "DLC_x", tmp_path / f"{c}DLC_x.h5")
              for c in ("A", "B")]
    assert cli(["triangulate", str(path), *map(str, tables)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "calibration.toml [cam_1]" in err[0] and "matrix" in err[0]
