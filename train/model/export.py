"""Checkpoint -> deployable ``.pt2`` (:func:`train.model.artifact.export_model`) with full
metadata."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

from calib.errors import ModelError
from train.data.project import Project, open_project
from train.model.artifact import ModelMeta, export_model
from train.model.backbones import MEAN, STD, backbone_stride
from train.model.network import DeployNet, build_network
from train.model.paths import scorer_name
from train.model.train_config import ModelDir, TrainConfig

log = logging.getLogger(__name__)


def pick_snapshot(model_dir: ModelDir, snapshot: str = "last") -> Path:
    """``"last"`` (the trained model) or a snapshot file name/path."""
    latest = model_dir.snapshots()
    if snapshot == "last":
        if not latest:
            raise ModelError(f"{model_dir.train_dir}: no snapshot (train this shuffle first)")
        return latest[-1]
    path = Path(snapshot)
    path = path if path.exists() else model_dir.train_dir / snapshot
    if not path.exists():
        raise ModelError(f"{path}: no such snapshot")
    return path


def load_network(path: Path, config: TrainConfig, bodyparts: list[str]) -> tuple[DeployNet, dict]:
    """The :class:`DeployNet` of snapshot `path` (CPU, eval mode) and the snapshot's state.

    A snapshot trained for other bodyparts than `bodyparts` is refused, even when their
    count matches: its outputs would be published under the wrong names."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file
        raise ModelError(f"{path}: cannot load snapshot ({type(exc).__name__}: {exc})") from exc
    trained = data.get("bodyparts") if isinstance(data, dict) else None
    if trained is not None and list(trained) != list(bodyparts):
        raise ModelError(f"{path}: field bodyparts: the snapshot was trained for {list(trained)}, "
                         f"the project has {list(bodyparts)}; retrain (poseloop train)")
    try:
        net = build_network(config, len(bodyparts), weights="none")
        net.load_state_dict(data["model"])
    except ModelError:
        raise
    except Exception as exc:  # truncated file or a different net
        raise ModelError(f"{path}: cannot load snapshot ({type(exc).__name__}: {exc})") from exc
    return DeployNet(net, config.locref_std).eval(), data.get("state", {})


def _evaluated_errors(model_dir: ModelDir, snapshot_name: str) -> dict[str, float]:
    """``{"train": px, "test": px}`` from ``test/evaluation.csv`` if it is of this snapshot."""
    import pandas as pd

    path = model_dir.test_dir / "evaluation.csv"
    if not path.exists():
        return {}
    table = pd.read_csv(path, index_col=0)
    if "snapshot" not in table or "error" not in table:
        return {}
    rows = table[table["snapshot"] == snapshot_name]
    # no error when nothing was matched (a multi-animal model that found no animal)
    return {str(k): float(v) for k, v in rows["error"].items() if math.isfinite(v)}


def export_network(project: str | Path | Project, shuffle: int = 1, out: str | Path | None = None,
                   snapshot: str = "last", train_error: float | None = None,
                   test_error: float | None = None) -> Path:
    """Export shuffle `shuffle`'s snapshot to a ``.pt2`` file (default:
    ``exported-models/<model name>.pt2`` in the project) and return its path.

    Train/test errors in the metadata come from the arguments, else from the
    evaluation of the same snapshot when there is one."""
    if not isinstance(project, Project):
        project = open_project(project)
    model_dir = ModelDir.of(project, shuffle)
    config = model_dir.read_config()
    path = pick_snapshot(model_dir, snapshot)
    bodyparts = list(project.config.bodyparts)
    animals: dict = {}
    if project.config.multianimal:
        from train.model.animals.export import load_animals_network

        deploy, state, animals = load_animals_network(path, config, model_dir)
    else:
        deploy, state = load_network(path, config, bodyparts)
    evaluated = _evaluated_errors(model_dir, path.name)
    train_error = evaluated.get("train") if train_error is None else train_error
    test_error = evaluated.get("test") if test_error is None else test_error
    c = project.config
    min_size = animals.pop("min_size", 2 * backbone_stride(config.net, config.dilate))
    meta = ModelMeta(
        bodyparts=bodyparts,
        scorer=scorer_name(config.net, c.task, c.date, shuffle,
                           str(state.get("epoch", 0))),
        stride=config.stride,
        skeleton=[list(p) for p in c.skeleton],
        mean=list(MEAN), std=list(STD), color="RGB",
        input_scale=config.input_scale,
        min_size=min_size,  # features of at least 2x2
        net_type=config.net,
        pcutoff=c.pcutoff,
        train_error=train_error,
        test_error=test_error,
        training_set={"project": c.task, "date": c.date, "iteration": c.iteration,
                      "shuffle": shuffle, "training_fraction": model_dir.training_fraction,
                      "snapshot": path.name, "epoch": state.get("epoch"),
                      "weights": config.weights},
        **animals,
    )
    out = Path(out) if out else project.root / "exported-models" / f"{model_dir.name}.pt2"
    export_model(deploy, meta, out, example_hw=(256, 320))
    log.info("exported %s -> %s", path, out)
    return out
