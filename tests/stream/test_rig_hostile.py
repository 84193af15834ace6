"""Rig files that cannot work are refused when the rig loads, in one line naming the file
and the field, before any process starts: a host that does not resolve, a recorder
folder that cannot be created."""

from __future__ import annotations

import shutil

import pytest

from calib.errors import ConfigError
from stream.cli import main as cli
from stream.rig import load_rig
from tests.stream.test_rig import BASE


@pytest.fixture
def rig_dir(tmp_path, tiny_model):
    shutil.copy(tiny_model, tmp_path / "model.pt2")
    (tmp_path / "v.mp4").write_bytes(b"")
    return tmp_path


def test_unresolvable_host(rig_dir, capsys):
    path = rig_dir / "rig.toml"
    path.write_text('host = "no-such-host.invalid"\n' + BASE)
    with pytest.raises(ConfigError, match=r"rig.toml: field 'host': cannot resolve"):
        load_rig(path)
    assert cli(["run", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field 'host'" in err[0]


def test_recorder_folder_that_cannot_be_created(rig_dir, capsys):
    (rig_dir / "blocker").write_text("a file where the folder should go")
    path = rig_dir / "rig.toml"
    path.write_text(BASE.replace('inputs = ["pose"]', 'inputs = ["pose"]\nfolder = "blocker/rec"'))
    with pytest.raises(ConfigError, match=r"rig.toml: recorder\[0\] \(rec\): field 'folder'"):
        load_rig(path)
    assert cli(["run", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field 'folder'" in err[0]


def test_two_recorders_in_one_folder(rig_dir):
    path = rig_dir / "rig.toml"
    path.write_text(BASE + "[[recorder]]\nname = 'r2'\ninputs = ['pose']\n")
    with pytest.raises(ConfigError, match=r"recorder\[1\] \(r2\): field 'folder'.*also the "
                                          r"folder of recorder 'rec'"):
        load_rig(path)


def test_rerun_never_overwrites_a_recording(rig_dir):
    path = rig_dir / "rig.toml"
    path.write_text(BASE)
    load_rig(path)
    old = rig_dir / "recording" / "cam0.rec.h5"
    old.write_bytes(b"an earlier run's recording")
    with pytest.raises(ConfigError, match=r"field 'folder': .*cam0.rec.h5 holds the recording "
                                          "of an earlier run"):
        load_rig(path)
    assert old.read_bytes() == b"an earlier run's recording"
