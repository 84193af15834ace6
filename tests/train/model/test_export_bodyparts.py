"""A snapshot trained for other bodyparts than the project now lists is refused, even
when the counts match: its outputs would be exported and evaluated under wrong names."""

from __future__ import annotations

import pytest
import torch

from calib.errors import ModelError
from tests.train.model.conftest import TINY
from train.model.evaluate import evaluate_network
from train.model.export import export_network
from train.model.network import build_network
from train.model.train_config import ModelDir, TrainConfig


def _snapshot_for(project, bodyparts: list[str]) -> ModelDir:
    """A model folder whose last snapshot was made for `bodyparts` (no training needed)."""
    config = TrainConfig(**TINY)
    model_dir = ModelDir.of(project, 1)
    model_dir.train_dir.mkdir(parents=True, exist_ok=True)
    model_dir.write_config(config, {"bodyparts": bodyparts})
    net = build_network(config, len(bodyparts), weights="none")
    torch.save({"model": net.state_dict(), "state": {"epoch": 1}, "bodyparts": bodyparts},
               model_dir.snapshot(1))
    return model_dir


def test_same_count_other_bodyparts_is_refused(blob_project):
    other = ["tail", "ear", "nose"]  # three, like the project's red, green, blue
    model_dir = _snapshot_for(blob_project, other)
    for run in (export_network, evaluate_network):
        with pytest.raises(ModelError, match=r"snapshot-00001.pt: field bodyparts.*tail"):
            run(blob_project)
    assert not list((blob_project.root / "exported-models").glob("*.pt2"))
    assert not model_dir.test_dir.exists() or not list(model_dir.test_dir.glob("*.csv"))


def test_matching_bodyparts_export(blob_project, tmp_path):
    _snapshot_for(blob_project, list(blob_project.config.bodyparts))
    assert export_network(blob_project, out=tmp_path / "m.pt2").exists()
