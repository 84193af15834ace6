"""Training settings chosen from the device and the labeled frames, for every setting the
user did not give.

On a GPU: ResNet-50 from ImageNet at output stride 8, as DeepLabCut trains it, on
448 x 448 crops, batch 8, mixed precision, channels_last, 200 epochs. On a CPU:
EfficientNet-Lite0 from ImageNet (its weights come with poseloop's dependencies), crops
around the labeled animal with the frames scaled down when the animal is large, one or
two threads, and a time budget that the learning-rate schedule is fitted into.
Horizontal flips only when left/right bodyparts are paired (declared in ``flip_pairs`` or
recognised from their names), since a mirrored "left ear" is a right ear.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from calib.errors import ConfigError
from train.model.train_config import TrainConfig

# The typical animal (90th percentile of the labeled points' extent) is scaled to at most
# this many pixels on a CPU: a CPU's time goes further on smaller crops, and beyond this
# size the network's receptive field, not the pixels, limits what it sees.
CPU_ANIMAL_PX = 256
CPU_MINUTES = 20.0
CPU_EPOCHS = 10_000  # the time budget ends CPU runs; this only bounds them
GPU_EPOCHS = 200
GPU_CROP = 448  # DeepLabCut 3's crop sampling size
MIN_CROP = 128
EVAL_SAMPLES = 400  # training samples between test-error measurements
CROP_ANYWHERE = 0.25
CPU_GEOMETRY = {"crop": 0.0, "translate": 0.0, "scale": [0.8, 1.2]}


@dataclass(frozen=True)
class Choice:
    """One setting chosen for the user: its value and why."""

    key: str
    value: Any
    why: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value}: {self.why}"


def animal_extent(keypoints: np.ndarray) -> float:
    """The 90th percentile over labeled animals of the larger side of their points'
    bounding box, in pixels (0 when no animal has a labeled point); `keypoints` ``(N, K, 2)``
    or, several animals a frame, ``(N, I, K, 2)``."""
    keypoints = keypoints.reshape(-1, *keypoints.shape[-2:])
    labeled = np.isfinite(keypoints).all(axis=2).any(axis=1)
    if not labeled.any():
        return 0.0
    kp = keypoints[labeled]
    side = (np.nanmax(kp, axis=1) - np.nanmin(kp, axis=1)).max(axis=1)
    return float(np.percentile(side, 90))


def _round32(value: float) -> int:
    return int(32 * math.ceil(value / 32))


def crop_side(extent: float) -> int:
    """Side of the square crops around an animal of `extent` px: 1.5x it, a multiple of
    32, at least :data:`MIN_CROP`."""
    return max(MIN_CROP, _round32(1.5 * extent))


def choose_config(given: dict[str, Any], device: torch.device, keypoints: np.ndarray,
                  frame_hw: tuple[int, int], flip_pairs: tuple[tuple[str, str], ...],
                  cpu_count: int | None = None) -> tuple[TrainConfig, list[Choice]]:
    """The config of `given` settings (TrainConfig field names) completed with choices for
    `device` and frames of at most `frame_hw` whose training labels are `keypoints`
    ``(N, K, 2)`` (several animals: ``(N, I, K, 2)``) in frame pixels; returns it with the
    choices made (given settings are never changed)."""
    cpu_count = cpu_count or os.cpu_count() or 1
    cuda = device.type == "cuda"
    choices: list[Choice] = []

    def choose(key: str, value: Any, why: str) -> None:
        if key not in given:
            choices.append(Choice(key, value, why))

    extent = animal_extent(keypoints)
    if cuda:
        choose("net", "resnet_50", "a GPU: ResNet-50, as DeepLabCut trains it")
        choose("weights", "imagenet", "transfer learning from ImageNet needs few labels")
        choose("stride", 8, "ResNet-50 dilated to stride 16, one transposed conv to 8")
        choose("batch_size", 8, "DeepLabCut's batch on a GPU")
        choose("lr", 5e-4, "AdamW fine-tuning a pretrained net")
        choose("epochs", GPU_EPOCHS, "DeepLabCut's schedule length")
        crop = min(GPU_CROP, _round32(max(frame_hw)))
        choose("crop_size", [crop, crop], f"{crop} px crops around the animal (DeepLabCut's "
               "crop sampling); whole frames at test time")
        choose("amp", True, "mixed precision on CUDA")
        choose("channels_last", True, "faster convolutions on CUDA")
    else:
        scale = 1.0 if extent <= CPU_ANIMAL_PX else CPU_ANIMAL_PX / extent
        scale = float(f"{scale:.3g}")
        choose("net", "efficientnet_lite0", "a CPU: a light backbone (4.7 M parameters, built "
               "for mobile CPUs) whose ImageNet weights ship with poseloop")
        choose("weights", "imagenet", "transfer learning from ImageNet needs few labels")
        choose("dilate", False, "features at stride 32 (dilating would cost 2x on a CPU)")
        choose("stride", 4, "three transposed convs to stride 4 for precise heatmaps")
        choose("head_channels", 64, "a light head")
        choose("input_scale", scale,
               f"the animal spans {extent:.0f} px (90th percentile of the labeled points' "
               + ("extent): full resolution" if scale == 1 else
                  f"extent), scaled to {CPU_ANIMAL_PX} px so that crops stay small"))
        side = given.get("input_scale", scale) * extent
        crop = crop_side(side)
        h, w = (_round32(v * given.get("input_scale", scale)) for v in frame_hw)
        crop_hw = [min(crop, h), min(crop, w)]
        choose("crop_size", crop_hw, f"{crop_hw[0]}x{crop_hw[1]} crops around the animal "
               "(1.5x its extent); whole frames at test time")
        choose("batch_size", 8, "small batches of crops keep a CPU step short")
        choose("lr", 1e-3, "AdamW fine-tuning a pretrained net")
        threads = max(1, min(2, cpu_count - 1))
        choose("threads", threads, f"{cpu_count} CPU cores: small convolutions gain little "
               "beyond 2 threads, and a free core keeps the machine responsive")
        if "epochs" not in given:  # given epochs are trained in full
            choose("epochs", CPU_EPOCHS, "bounded by the time budget")
            choose("max_minutes", CPU_MINUTES, "a CPU trains for a time budget; the "
                   "learning-rate schedule is fitted into it")
        choose("channels_last", True, "faster convolutions on this CPU as well")
    choose("locref_weight", 1.0, "location refinement weighs as much as the heatmaps: "
           "sub-stride precision")
    choose("crop_anywhere", CROP_ANYWHERE, f"{CROP_ANYWHERE:.0%} of the crops anywhere in the "
           "frame, its borders and corners at least as often as its middle: the net learns the "
           "background that whole frames show at test time")
    n_train = max(1, len(keypoints))
    batch = given.get("batch_size", 8)
    epoch_samples = math.ceil(n_train / batch) * batch
    every = max(1, round(EVAL_SAMPLES / epoch_samples))
    choose("eval_every", every, f"test error every {every * epoch_samples} training samples")
    if "augment" not in given:
        augment: dict[str, Any] = {}
        if not cuda:
            augment.update(CPU_GEOMETRY)
            choices.append(Choice("augment", dict(CPU_GEOMETRY), "crops around the animal "
                                  "already move it; a short budget learns faster with milder "
                                  "geometry"))
        if flip_pairs and cuda:
            names = ", ".join(f"{a}/{b}" for a, b in flip_pairs)
            choices.append(Choice("augment.hflip", 0.5, f"mirrored half the time, swapping "
                                  f"{names}"))
            augment["hflip"] = 0.5
        elif flip_pairs:
            names = ", ".join(f"{a}/{b}" for a, b in flip_pairs)
            choices.append(Choice("augment.hflip", 0.0, f"not mirrored: a flip would swap "
                                  f"{names}, but within a CPU's budget mirrored samples cost "
                                  "accuracy (openfield, same 30 / 40 / 60 epochs: 4.6 / 4.1 "
                                  "/ 46 px without, 5.8 / 4.9 / 84 px with: mirrored mice "
                                  "teach parts in corners where no mouse was labeled)"))
            augment["hflip"] = 0.0
        else:
            choices.append(Choice("augment.hflip", 0.0, "no left/right pairs declared "
                                  "(flip_pairs) or recognised in the bodypart names"))
            augment["hflip"] = 0.0
    else:
        augment = given["augment"]
    settings = {c.key: c.value for c in choices if not c.key.startswith("augment")}
    config = TrainConfig(**{**settings, **given, "augment": augment})
    return config, choices


def given_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The settings a user gave, as TrainConfig fields, from the options of
    :func:`train.model.trainer.train_network` (None = not given; ``crop`` is ``(H, W)``,
    ``augment=False`` switches augmentation off)."""
    given = {k: v for k, v in options.items() if v is not None and k not in ("crop", "augment")}
    if options.get("crop") is not None:
        given["crop_size"] = [int(v) for v in options["crop"]]
    if options.get("augment") is False:
        given["augment"] = {"enabled": False}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
    return given


def apply_settings(config: TrainConfig, given: dict[str, Any]) -> TrainConfig:
    """`config` with the `given` settings (switching augmentation off keeps its settings)."""
    if given.get("augment") == {"enabled": False} and config.augment is not None:
        given = {**given, "augment": {**config.augment, "enabled": False}}
    return config.replace(**given)
