"""Hostile labels and configs: coordinates no image has, image paths leaving the project,
a config.yaml of random bytes. Each is refused with one line naming the file and field."""

from __future__ import annotations

import numpy as np
import pytest

from calib.errors import ConfigError, DataError
from stream.cli import main as cli
from tests.train.model.conftest import TINY, make_blob_project
from train.data import tables
from train.data.config import load_config
from train.data.keypoints import LabeledFrames
from train.model.train_config import TrainConfig
from train.model.trainer import train_network


def _write(path, images, x) -> None:
    xy = np.array([[[x, 10.0], [5.0, 6.0]]] * len(images))
    tables.write_labels(LabeledFrames("ann", ("nose", "tail"), images, xy), path)


@pytest.mark.parametrize("x", [1e30, np.inf, -np.inf])
def test_coordinates_no_image_has_are_refused(tmp_path, x):
    path = tmp_path / "CollectedData_ann.h5"
    _write(path, ["labeled-data/v/img0.png"], x)
    for f in (path, path.with_suffix(".csv")):
        with pytest.raises(DataError, match=r"CollectedData_ann.(h5|csv): .*img0.png: nose x"):
            tables.read_labels(f)


@pytest.mark.parametrize("image", ["../../etc/passwd", "/etc/passwd",
                                   "labeled-data/../../../outside.png", "C:/Windows/x.png"])
def test_image_paths_outside_the_project_are_refused(tmp_path, image):
    path = tmp_path / "CollectedData_ann.h5"
    _write(path, [image], 1.0)
    with pytest.raises(DataError, match="CollectedData_ann.h5: image path"):
        tables.read_labels(path)


def test_label_outside_its_image_stops_training_before_it_starts(tmp_path):
    project = make_blob_project(tmp_path, n=6)  # 96 x 64 images
    path = project.labels_path("clip")
    labels = tables.read_labels(path)
    labels.xy[2, 1] = (5000.0, 20.0)
    tables.write_labels(labels, path)
    with pytest.raises(DataError, match=r"CollectedData_tester.h5: .*img002.png: green at "
                                        r"\(5000, 20\) is outside the 96x64 image"):
        train_network(project, TrainConfig(**TINY), progress=False)
    assert not list((project.root / "dlc-models-pytorch").rglob("snapshot-*.pt"))


def test_config_of_random_bytes_is_one_line(tmp_path, capsys):
    (tmp_path / "config.yaml").write_bytes(
        np.random.default_rng(0).integers(0, 256, 2048, np.uint8).tobytes())
    with pytest.raises(ConfigError, match="config.yaml: not valid YAML"):
        load_config(tmp_path)
    (tmp_path / "config.yaml").write_text("Task: x\nbodyparts: [a\n  - b: {\n")
    assert cli(["check-labels", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.yaml: not valid YAML" in err[0], err
