"""Multi-animal snapshot -> the deployable network and its metadata (used by
:func:`train.model.export.export_network`): the bottom-up network with its assembly, or
the top-down finder + crops + pose network (:mod:`train.model.animals.topdown`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from calib.errors import ModelError
from train.model.animals.network import AnimalsDeployNet, build_animals_network
from train.model.animals.topdown import CenterFinder, TopDownNet
from train.model.animals.trainer import read_animals_settings
from train.model.backbones import MEAN, STD, backbone_stride
from train.model.train_config import ModelDir, TrainConfig


def load_animals_network(path: Path, config: TrainConfig, model_dir: ModelDir
                         ) -> tuple[nn.Module, dict, dict[str, Any]]:
    """``(deployable net in eval mode, snapshot state, metadata fields)`` of snapshot
    `path`; the metadata fields are :class:`train.model.artifact.ModelMeta`'s
    ``individuals``, ``identity`` and, for top-down, ``min_size``."""
    settings = read_animals_settings(model_dir)
    individuals = settings["individuals"]
    meta = {"individuals": individuals, "identity": settings["identity"]}
    if settings["approach"] == "topdown":
        deploy, state, min_size = _load_topdown(path, config, model_dir, settings)
        return deploy, state, {**meta, "min_size": min_size}
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        net = build_animals_network(config, len(settings["bodyparts"]),
                                    len(individuals) if settings["identity"] else 0, "none")
        net.load_state_dict(data["model"])
    except Exception as exc:  # truncated file or a different net
        raise ModelError(f"{path}: cannot load snapshot ({type(exc).__name__}: {exc})") from exc
    deploy = AnimalsDeployNet(net, config.locref_std, len(individuals),
                              settings["max_distance"]).eval()
    return deploy, data.get("state", {}), meta


def _load_topdown(path: Path, config: TrainConfig, model_dir: ModelDir,
                  settings: dict[str, Any]) -> tuple[TopDownNet, dict, int]:
    """The top-down net of pose snapshot `path` and the finder's last snapshot, the pose
    snapshot's state and the smallest input side the finder takes."""
    from train.model.animals.approach import finder_dir
    from train.model.export import load_network, pick_snapshot

    finder = finder_dir(model_dir)
    finder_config = finder.read_config()
    located, _, _ = load_animals_network(pick_snapshot(finder), finder_config, finder)
    pose, state = load_network(path, config, settings["bodyparts"])
    fill = -torch.tensor(MEAN) / torch.tensor(STD)  # black, normalized
    pool = settings["finder_pool"]
    net = TopDownNet(CenterFinder(located.net), pose, settings["crop_side"], pool,
                     len(settings["individuals"]), fill).eval()
    min_size = 2 * backbone_stride(finder_config.net, finder_config.dilate) * pool
    return net, state, min_size
