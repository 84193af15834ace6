"""Training of :class:`train.model.animals.network.AnimalsNet` through the shared
:class:`train.model.trainer.Trainer`: same loop, snapshots, schedule, augmentation and
log; only the network, its loss and the test metric differ.

The trainer's keypoint arrays are ``(N, K, 2)``; an image's animals travel flattened as
``(N, I * K, 2)`` with names ``<individual>/<bodypart>``, so crops and augmentation move
every animal's points (left/right parts swap within each animal on a flip) and the loss
folds them back to ``(B, I, K, 2)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from calib.errors import ConfigError, ModelError
from calib.fileio import read_mapping
from train.data.project import Project
from train.model.animals.metrics import match_and_score
from train.model.animals.network import (
    OFFSET_SCALE,
    AnimalsDeployNet,
    build_animals_network,
)
from train.model.animals.targets import animal_losses, make_animal_targets
from train.model.dataset import LabeledImages
from train.model.train_config import ModelDir, TrainConfig
from train.model.trainer import Trainer, predict_images

ANIMALS_KEY = "animals"  # section of pytorch_config.yaml with the multi-animal settings


def flat_names(individuals: tuple[str, ...], bodyparts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{i}/{b}" for i in individuals for b in bodyparts)


def animal_radius(keypoints: np.ndarray) -> float:
    """Median over labeled animals ``(N, I, K, 2)`` of the farthest part from the animal's
    center, in px: parts whose vote lands farther than this from a center are not its."""
    center = np.nanmean(keypoints, axis=2, keepdims=True)
    with np.errstate(invalid="ignore"):
        far = np.nanmax(np.linalg.norm(keypoints - center, axis=-1), axis=2)
    far = far[np.isfinite(far)]
    return float(max(8.0, np.median(far))) if far.size else 32.0


def check_supported(project: Project) -> None:
    c = project.config
    if c.unique_bodyparts:
        raise ConfigError(f"{c.path}: uniquebodyparts {list(c.unique_bodyparts)} are read and "
                          "labeled but not trained yet; list them under multianimalbodyparts")


class AnimalsTrainer(Trainer):
    """:class:`Trainer` of the bottom-up multi-animal network; `train`/`test` keypoints are
    ``(N, I, K, 2)``."""

    def __init__(self, config: TrainConfig, project: Project, model_dir: ModelDir,
                 train: LabeledImages, test: LabeledImages, progress: bool = True,
                 flip_pairs: tuple[tuple[str, str], ...] = ()):
        c = project.config
        self.individuals, self.parts = c.individuals, c.bodyparts
        self.identity = c.identity
        self.max_distance = animal_radius(train.keypoints)
        self.test_keypoints = test.keypoints if len(test) else train.keypoints
        flat_train, names, flip = as_points(project, train, flip_pairs)
        super().__init__(config, names, model_dir, flat_train,
                         as_points(project, test, flip_pairs)[0], progress, flip)

    def describe(self) -> dict[str, Any]:
        """What export needs besides the weights (``animals`` in pytorch_config.yaml)."""
        return {"individuals": list(self.individuals), "bodyparts": list(self.parts),
                "identity": self.identity, "max_distance": self.max_distance}

    def build_net(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        net = build_animals_network(self.config, len(self.parts),
                                    len(self.individuals) if self.identity else 0)
        return net, AnimalsDeployNet(net, self.config.locref_std, len(self.individuals),
                                     self.max_distance)

    def losses(self, x: torch.Tensor, keypoints: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.net(x)
        kp = keypoints.reshape(len(keypoints), len(self.individuals), len(self.parts), 2)
        targets = make_animal_targets(kp, outputs[0].shape[2:], self.config.stride,
                                      self.config.sigma, self.config.locref_std,
                                      self.config.locref_radius, OFFSET_SCALE)
        return animal_losses(outputs, targets, self.config.heatmap_weight,
                             self.config.locref_weight)

    def test_error(self) -> float:
        """Mean px error of test animals matched to predictions (DeepLabCut's RMSE)."""
        data = self.test_data if len(self.test_data) else self.train_data
        pred = predict_images(self.deploy, data.images, self.device)
        self.net.train()
        return match_and_score(self.test_keypoints, pred)["rmse"] / self.config.input_scale


def as_points(project: Project, data: LabeledImages, flip_pairs: tuple[tuple[str, str], ...]
              ) -> tuple[LabeledImages, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """`data` ``(N, I, K, 2)`` as the trainer's ``(N, I * K, 2)`` points, their names
    ``<individual>/<bodypart>`` and each animal's left/right pairs (of the bodyparts'
    `flip_pairs`)."""
    c = project.config
    n, n_ind, k = data.keypoints.shape[:3]
    flat = LabeledImages(data.names, data.images, data.keypoints.reshape(n, n_ind * k, 2))
    flip = tuple((f"{i}/{a}", f"{i}/{b}") for i in c.individuals for a, b in flip_pairs)
    return flat, flat_names(c.individuals, c.bodyparts), flip


def read_animals_settings(model_dir: ModelDir) -> dict[str, Any]:
    """The ``animals`` section written at training time."""
    data = read_mapping(model_dir.config_path, ModelError, "no such pytorch_config.yaml")
    try:
        section = data[ANIMALS_KEY]
        out = {"approach": str(section.get("approach", "bottomup")),
               "individuals": [str(v) for v in section["individuals"]],
               "bodyparts": [str(v) for v in section["bodyparts"]],
               "identity": bool(section["identity"])}
        if out["approach"] == "topdown":
            out.update(crop_side=int(section["crop_side"]),
                       finder_pool=int(section["finder_pool"]))
        else:
            out["max_distance"] = float(section["max_distance"])
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{model_dir.config_path}: no valid '{ANIMALS_KEY}' section "
                         f"({type(exc).__name__}: {exc}); train this multi-animal shuffle "
                         "again") from exc
