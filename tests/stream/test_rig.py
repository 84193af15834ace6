import shutil
from pathlib import Path

import pytest

from calib.errors import ConfigError
from stream.rig import load_rig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rig_two_cameras.toml"


def test_example_rig_loads(tmp_path, tiny_model):
    shutil.copy(EXAMPLE, tmp_path / "rig.toml")
    shutil.copy(tiny_model, tmp_path / "model.pt2")
    rig = load_rig(tmp_path / "rig.toml")
    assert rig.mode == "live" and [s.name for s in rig.sources] == ["cam0", "cam1"]
    (inf,) = rig.inference
    assert inf.cameras == ["cam0", "cam1"] and inf.model == str(tmp_path / "model.pt2")
    endpoints = [s.endpoint for s in rig.sources] + [inf.endpoint, rig.supervisor_endpoint]
    assert all(e.startswith("tcp://127.0.0.1:") for e in endpoints)  # loopback by default
    assert len(set(endpoints)) == len(endpoints)
    assert rig.recorders[0].folder == str(tmp_path / "recording")
    assert [role for role, _ in rig.nodes()] == ["recorder", "inference", "source", "source"]


BASE = """
[[recorder]]
name = "rec"
inputs = ["pose"]

[[source]]
name = "cam0"
kind = "video"
path = "v.mp4"

[[inference]]
name = "pose"
model = "model.pt2"
inputs = ["cam0"]
"""


@pytest.mark.parametrize(
    "text, field",
    [
        ('mode = "fast"\n' + BASE, "'mode'"),
        ("colour = 1\n" + BASE, "colour"),
        (BASE.replace('kind = "video"', 'kind = "webcam"'), "'kind'"),
        (BASE.replace('path = "v.mp4"', ""), "'path'"),
        (BASE.replace('path = "v.mp4"', 'path = "absent.mp4"'), "absent.mp4"),
        (BASE.replace('inputs = ["cam0"]', 'inputs = ["cam9"]'), "'inputs'"),
        (BASE.replace('model = "model.pt2"', 'model = "none.pt2"'), "'model'"),
        (BASE + "batch_size = 0\n", "'batch_size'"),
        (BASE + 'batch_size = "8"\n', "'batch_size'"),
        (BASE.replace('name = "pose"', 'name = "cam0"'), "unique"),
        (BASE + "[[recorder]]\nname = 'r'\ninputs = ['cam0']\n", "'inputs'"),
        (BASE + "[[recorder]]\nname = 'r'\n", "missing field"),
        (
            'mode = "batch"\n' + BASE
            + "[[recorder]]\nname = 'r2'\ninputs = ['pose']\nfolder = 'r2'\n",
            "exactly one recorder",
        ),
        (BASE.replace('inputs = ["pose"]', "inputs = []"), "'inputs'"),
        (BASE + "[[source]]\nname = 'idle'\nkind = 'synthetic'\n", "exactly one inference"),
        ("mode = [", "not valid TOML"),
    ],
)
def test_rig_errors_name_file_and_field(tmp_path, tiny_model, text, field):
    shutil.copy(tiny_model, tmp_path / "model.pt2")
    (tmp_path / "v.mp4").write_bytes(b"")
    path = tmp_path / "bad_rig.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="bad_rig.toml") as err:
        load_rig(path)
    assert field in str(err.value)


def test_host_from_file(tmp_path, tiny_model):
    shutil.copy(tiny_model, tmp_path / "model.pt2")
    (tmp_path / "v.mp4").write_bytes(b"")
    path = tmp_path / "rig.toml"
    path.write_text(
        'host = "0.0.0.0"\n'
        + BASE.replace('inputs = ["cam0"]', 'inputs = ["cam0"]\nendpoint = "tcp://127.0.0.1:5999"')
    )
    rig = load_rig(path)
    assert rig.sources[0].endpoint.startswith("tcp://0.0.0.0:")
    assert rig.inference[0].endpoint == "tcp://127.0.0.1:5999"
