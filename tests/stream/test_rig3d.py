"""Rig files with sync, triangulation and viewer nodes: what links each mode allows,
and errors that name the file and the field."""

import shutil
from pathlib import Path

import pytest

from calib.calibration import save_calibration
from calib.errors import ConfigError
from calib.virtual_rig import make_rig
from stream.rig import load_rig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rig_3d.toml"


@pytest.fixture
def folder(tmp_path, tiny_model):
    shutil.copy(tiny_model, tmp_path / "model.pt2")
    save_calibration(make_rig(3, seed=1)[0], tmp_path / "calibration.toml")
    return tmp_path


def test_example_3d_rig_loads_with_fan_out(folder):
    shutil.copy(EXAMPLE, folder / "rig.toml")
    rig = load_rig(folder / "rig.toml")
    roles = [role for role, _ in rig.nodes()]
    assert roles == ["recorder", "triangulate", "sync", "inference"] + ["source"] * 3
    (inf,), (sync,), (tri,), (rec,) = rig.inference, rig.syncs, rig.triangulates, rig.recorders
    assert sync.cameras == tri.cameras == tri.calib_cameras == ["cam0", "cam1", "cam2"]
    assert sync.input_endpoints == [inf.endpoint] and tri.input_endpoints == [sync.endpoint]
    # the recorder and the sync node both read the inference node (live: published)
    assert rec.input_endpoints == [inf.endpoint, tri.endpoint]
    assert rec.cameras == ["cam0", "cam1", "cam2", "pose3d"]
    assert tri.calibration == str(folder / "calibration.toml") and rec.mode == "live"


def _text(mode="live", sync="", tri="", extra=""):
    cams = "".join(
        f'[[source]]\nname = "cam{i}"\nkind = "synthetic"\n' for i in range(3)
    )
    return (
        f'mode = "{mode}"\n{cams}'
        '[[inference]]\nname = "pose"\nmodel = "model.pt2"\ninputs = ["cam0", "cam1", "cam2"]\n'
        f'[[sync]]\nname = "sync"\ninputs = ["pose"]\n{sync}'
        '[[triangulate]]\nname = "tri"\ninputs = ["sync"]\n'
        f'calibration = "calibration.toml"\n{tri}'
        '[[recorder]]\nname = "rec"\ninputs = ["tri"]\n' + extra
    )


@pytest.mark.parametrize(
    "text, field",
    [
        (_text(sync='by = "clock"\n'), "'by'"),
        (_text(sync="max_wait_ms = 0\n"), "'max_wait_ms'"),
        (_text(sync='inputs = ["cam0"]\n').replace('inputs = ["pose"]\n', "", 1), "'inputs'"),
        (_text(tri="pcutoff = 1.5\n"), "'pcutoff'"),
        (_text().replace("calibration.toml", "absent.toml"), "'calibration'"),
        (_text(tri='calib_cameras = ["cam0", "cam1"]\n'), "'calib_cameras'"),
        (_text(tri='calib_cameras = ["cam0", "cam1", "X"]\n'), "['X'] not in"),
        (_text().replace('inputs = ["sync"]', 'inputs = ["pose"]'), "sync nodes"),
        (_text(mode="batch", extra='[[recorder]]\nname = "r2"\ninputs = ["pose"]\nfolder = "r2"\n'),
         "exactly one recorder, sync or processor"),
        (_text(mode="batch", extra='[[recorder]]\nname = "r2"\ninputs = ["tri"]\nfolder = "r2"\n'),
         "exactly one recorder"),
        (_text(extra='[[viewer]]\nname = "v"\ninputs = ["pose"]\n').replace('"live"', '"batch"'),
         "viewer needs mode"),
        (_text().replace('[[recorder]]\nname = "rec"\ninputs = ["tri"]\n', ""),
         "at least one recorder"),
    ],
)
def test_3d_rig_errors_name_file_and_field(folder, text, field):
    path = folder / "bad_rig.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="bad_rig.toml") as err:
        load_rig(path)
    assert field in str(err.value)


def test_live_fan_out_and_viewer_previews(folder):
    path = folder / "rig.toml"
    path.write_text(
        _text(extra='[[recorder]]\nname = "r2"\ninputs = ["pose"]\nfolder = "r2"\n'
              '[[viewer]]\nname = "v"\ninputs = ["pose"]\n')
    )
    rig = load_rig(path)
    (view,) = rig.viewers
    previews = [s.preview_endpoint for s in rig.sources]
    assert all(previews) and view.input_endpoints == [rig.inference[0].endpoint, *previews]
