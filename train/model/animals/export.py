"""Multi-animal snapshot -> the deployable network and its metadata (used by
:func:`train.model.export.export_network`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from calib.errors import ModelError
from train.model.animals.network import AnimalsDeployNet, build_animals_network
from train.model.animals.trainer import read_animals_settings
from train.model.train_config import ModelDir, TrainConfig


def load_animals_network(path: Path, config: TrainConfig, model_dir: ModelDir
                         ) -> tuple[AnimalsDeployNet, dict, dict[str, Any]]:
    """``(deployable net in eval mode, snapshot state, metadata fields)`` of snapshot
    `path`; the metadata fields are :class:`train.model.artifact.ModelMeta`'s
    ``individuals`` and ``identity``."""
    settings = read_animals_settings(model_dir)
    individuals = settings["individuals"]
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        net = build_animals_network(config, len(settings["bodyparts"]),
                                    len(individuals) if settings["identity"] else 0, "none")
        net.load_state_dict(data["model"])
    except Exception as exc:  # truncated file or a different net
        raise ModelError(f"{path}: cannot load snapshot ({type(exc).__name__}: {exc})") from exc
    deploy = AnimalsDeployNet(net, config.locref_std, len(individuals),
                              settings["max_distance"]).eval()
    return deploy, data.get("state", {}), {"individuals": individuals,
                                            "identity": settings["identity"]}
