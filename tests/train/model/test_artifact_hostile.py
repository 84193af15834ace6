"""Hostile model files: a ``.pt2`` archive crafted to run code when it is loaded is
refused before anything in it is deserialized, with an error naming the file."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from calib.errors import ModelError
from train.model.artifact import ModelMeta, export_model, load_model, read_meta


class _Payload:
    """Unpickling this creates `marker`: the proof that a pickle in the file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.stack([y.mean((2, 3))] * 3, dim=2)  # (B, 3 bodyparts, 3)


def _exported(tmp_path: Path) -> Path:
    meta = ModelMeta(bodyparts=["a", "b", "c"], scorer="s", stride=4, min_size=16)
    return export_model(_Tiny(), meta, tmp_path / "good.pt2", example_hw=(32, 32))


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy the archive `src` to `dst`, passing every entry's (name, bytes) through `edit`
    (which returns a list of entries to write in its place)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            for name, data in edit(info.filename, zin.read(info)):
                zout.writestr(name, data)
    return dst


def _pickled(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save(_Payload(marker), buf)
    return buf.getvalue()


def _craft_weights(good: Path, bad: Path, marker: Path) -> Path:
    with zipfile.ZipFile(good) as z:
        config_name = next(n for n in z.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(z.read(config_name))
    first = next(iter(config["config"].values()))
    first["use_pickle"] = True
    target = config_name.rsplit("/", 1)[0] + "/" + first["path_name"]

    def edit(name, data):
        if name == config_name:
            return [(name, json.dumps(config).encode())]
        if name == target:
            return [(name, _pickled(marker))]
        return [(name, data)]

    return _rewrite(good, bad, edit)


def _craft_constants(good: Path, bad: Path, marker: Path) -> Path:
    def edit(name, data):
        if name.endswith("data/constants/model_constants_config.json"):
            config = {"config": {"evil": {"path_name": "tensor_0", "is_param": False,
                                          "use_pickle": True, "tensor_meta": None}}}
            folder = name.rsplit("/", 1)[0]
            return [(name, json.dumps(config).encode()), (f"{folder}/tensor_0", _pickled(marker))]
        return [(name, data)]

    return _rewrite(good, bad, edit)


def _craft_sample_inputs(good: Path, bad: Path, marker: Path) -> Path:
    # torch retries a sample-input pickle that its safe loader refuses with the unsafe one
    def edit(name, data):
        if "data/sample_inputs/" in name:
            return [(name, _pickled(marker))]
        return [(name, data)]

    return _rewrite(good, bad, edit)


def _craft_extra_entry(good: Path, bad: Path, marker: Path) -> Path:
    # an ahead-of-time compiled library in the archive would be loaded as native code
    def edit(name, data):
        out = [(name, data)]
        if name.endswith("archive_format"):
            prefix = name.rsplit("/", 1)[0]
            out.append((f"{prefix}/data/aotinductor/model/model.so", b"\x7fELF"))
        return out

    return _rewrite(good, bad, edit)


@pytest.mark.parametrize(
    "craft", [_craft_weights, _craft_constants, _craft_extra_entry],
    ids=["pickled-weight", "pickled-constant", "native-library"],
)
def test_crafted_model_is_refused_before_anything_runs(tmp_path, craft):
    good = _exported(tmp_path)
    marker = tmp_path / "payload-ran"
    bad = craft(good, tmp_path / "crafted.pt2", marker)
    with pytest.raises(ModelError, match="crafted.pt2") as err:
        load_model(bad)
    assert not marker.exists(), "a pickle inside the model file was run"
    assert "\n" not in str(err.value)


def test_sample_inputs_are_never_unpickled(tmp_path):
    """Every archive holds its sample inputs as a pickle; the runtime needs none, so they
    are never read (a crafted one is inert) and the model still works."""
    good = _exported(tmp_path)
    marker = tmp_path / "payload-ran"
    bad = _craft_sample_inputs(good, tmp_path / "crafted.pt2", marker)
    model = load_model(bad)
    assert not marker.exists(), "the sample-input pickle inside the model file was run"
    assert model(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 3, 3)


def test_clean_model_still_loads_and_predicts(tmp_path):
    good = _exported(tmp_path)
    model = load_model(good)
    assert model.bodyparts == ("a", "b", "c")
    out = model(np.zeros((2, 40, 48, 3), np.uint8))
    assert out.shape == (2, 3, 3)


@pytest.mark.parametrize(
    "field, value",
    [("bodyparts", "snout"), ("bodyparts", [1, 2]), ("stride", "four"), ("stride", 0),
     ("mean", [0.5]), ("min_size", -3), ("input_scale", "big"), ("skeleton", [["a"]])],
)
def test_wrong_typed_metadata_names_file_and_field(tmp_path, field, value):
    good = _exported(tmp_path)

    def edit(name, data):
        if name.endswith("extra/poseloop.json"):
            meta = json.loads(data)
            meta[field] = value
            return [(name, json.dumps(meta).encode())]
        return [(name, data)]

    bad = _rewrite(good, tmp_path / "typed.pt2", edit)
    for load in (read_meta, load_model):
        with pytest.raises(ModelError, match=rf"typed\.pt2.*{field}"):
            load(bad)
