"""movement (its own environment) loads poseloop's analyses: the DeepLabCut table, and
the NWB and SLEAP files ``poseloop convert`` writes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from train.data.keypoints import Poses2D
from train.data.tables import write_analysis
from train.io.convert import convert_analysis

pytestmark = pytest.mark.interop
MOVEMENT_PYTHON = Path(os.environ.get("POSELOOP_MOVEMENT_PYTHON",
                                      ROOT / ".venv-movement" / "bin" / "python"))
DRIVER = Path(__file__).parent / "movement_driver.py"


def _movement_reads(software: str, path: Path, tmp_path: Path) -> dict:
    if not MOVEMENT_PYTHON.exists():
        pytest.skip(f"no movement environment at {MOVEMENT_PYTHON} (tools/make_interop_env.sh)")
    out = tmp_path / f"{path.name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run([str(MOVEMENT_PYTHON), str(DRIVER), software, str(path), "30", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        pytest.fail(f"movement failed on {path.name}:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


@pytest.fixture
def analysis(tmp_path):
    rng = np.random.default_rng(2)
    data = (rng.random((20, 3, 3)) * [60, 40, 1]).astype(np.float32)
    data[3, 1] = np.nan
    poses = Poses2D(("snout", "ear", "tail"), data)
    table = write_analysis(poses, "DLC_Resnet50_mNov2shuffle1_snapshot_5",
                           tmp_path / "clipDLC_Resnet50_mNov2shuffle1_snapshot_5.h5")
    return poses, table


@pytest.mark.parametrize("software, suffix", [("DeepLabCut", ".h5"), ("NWB", ".nwb"),
                                              ("SLEAP", ".slp")])
def test_movement_loads_poseloop_outputs(analysis, tmp_path, small_video, software, suffix):
    poses, table = analysis
    path = table if suffix == ".h5" else convert_analysis(
        table, tmp_path / f"clip{suffix}", video=small_video,
        skeleton=(("snout", "ear"), ("ear", "tail")))
    read = _movement_reads(software, path, tmp_path)
    # NWB keeps one group per bodypart, which HDF5 lists by name
    assert sorted(read["keypoints"]) == sorted(poses.bodyparts)
    order = [read["keypoints"].index(b) for b in poses.bodyparts]
    position = np.array(read["position"], dtype=float)[:, order]
    confidence = np.array(read["confidence"], dtype=float)[:, order]
    np.testing.assert_allclose(position, poses.data[..., :2], rtol=1e-6)
    if software != "SLEAP":  # SLEAP stores no score for a missing point; movement reads 0
        np.testing.assert_allclose(confidence, poses.data[..., 2], rtol=1e-6)
