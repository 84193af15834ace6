"""Dependency direction calib <- train <- stream, checked in fresh interpreters."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


def test_calib_imports_neither_train_nor_stream():
    import pkgutil

    import calib

    names = [f"calib.{m.name}" for m in pkgutil.iter_modules(calib.__path__)]
    top = _top(_loaded("\n".join(f"import {n}" for n in ["calib", *names])))
    assert not top & {"train", "stream", "torch", "zmq"}


def test_train_data_model_loads_neither_torch_nor_zmq():
    top = _top(_loaded("import train.data, calib.errors\n" + "\n".join(
        f"import train.data.{m}" for m in ("keypoints", "tables", "config", "project", "video"))))
    assert "torch" not in top and "zmq" not in top and "stream" not in top


def test_train_never_imports_stream():
    import pkgutil

    import train

    names = [f"train.{m.name}" for m in pkgutil.iter_modules(train.__path__)]
    assert "stream" not in _top(_loaded("\n".join(f"import {n}" for n in names)))


def test_cli_help_is_lazy():
    top = _top(_loaded("import stream.cli"))
    assert not top & {"torch", "zmq", "cv2", "train"}


@pytest.mark.parametrize("package", ["calib", "train", "stream"])
def test_every_module_imports_without_cycles(package):
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        if ".gui" in info.name:
            continue
        subprocess.run([sys.executable, "-c", f"import {info.name}"], cwd=ROOT, check=True)
