"""Which network a multi-animal shuffle trains, and the two stages of top-down training.

Top-down is the default (measured, README "Several animals": on the synthetic
three-animal benchmark, with the same 30 min of CPU training, test RMSE 1.65 px / mAP 0.80
against bottom-up's 9.35 px / 0.52, at 0.65x its speed). Bottom-up stays selectable:
``approach: bottomup`` in the ``animals`` section of the shuffle's ``pytorch_config.yaml``
(read when the shuffle is trained again),
or ``train_network(..., approach="bottomup")`` / ``poseloop train --approach bottomup``.
With ``identity: true`` the default is bottom-up: its identity head names the animals,
which the top-down finder does not do yet.

Top-down trains in two stages, each a :class:`~train.model.trainer.Trainer` run with its
own snapshots and log (so ``--resume`` continues whichever was interrupted):

1. the finder (:class:`~train.model.animals.trainer.AnimalsTrainer`, of which the export
   keeps only the center head) on the frames average-pooled by :data:`FINDER_POOL`, in
   ``<model>/finder/train/``, for :data:`FINDER_SHARE` of the time budget;
2. the pose network (the single-animal :class:`~train.model.network.PoseNet`) on crops
   around each labeled animal, in ``<model>/train/`` (so ``export``, ``evaluate`` and
   ``snapshot`` names refer to it), for the rest of the budget.
"""

from __future__ import annotations

import logging
from typing import Any

from calib.errors import ConfigError
from calib.fileio import read_mapping
from train.model.animals.topdown import (
    TRAIN_MARGIN,
    animal_crops,
    pooled,
    training_crop_side,
)
from train.model.animals.trainer import ANIMALS_KEY, AnimalsTrainer
from train.model.defaults import apply_settings
from train.model.train_config import ModelDir, TrainConfig
from train.model.trainer import State, Trainer, TrainingRun, run_stage

log = logging.getLogger(__name__)

APPROACHES = ("topdown", "bottomup")
FINDER_POOL = 2  # the finder sees the frames at half the pose network's scale
FINDER_SHARE = 0.25  # of the time budget (or of the epochs' worth of it) for the finder


def finder_dir(model_dir: ModelDir) -> ModelDir:
    """The model folder of a top-down shuffle's finder, inside the shuffle's folder."""
    return ModelDir(model_dir.path / "finder", model_dir.project_root, model_dir.shuffle,
                    model_dir.training_fraction)


def choose_approach(run: TrainingRun, given: str | None) -> tuple[str, str]:
    """``(approach, why)``: `given`, else the one in the shuffle's ``pytorch_config.yaml``,
    else the default for the project."""
    if given is not None:
        if given not in APPROACHES:
            raise ConfigError(f"approach {given!r}: choose one of {list(APPROACHES)}")
        return given, "asked for"
    path = run.model_dir.config_path
    if path.exists():
        section = read_mapping(path, ConfigError).get(ANIMALS_KEY)
        stored = section.get("approach") if isinstance(section, dict) else None
        if stored is not None:
            if stored not in APPROACHES:
                raise ConfigError(f"{path}: field {ANIMALS_KEY}.approach {stored!r}: choose "
                                  f"one of {list(APPROACHES)}")
            return stored, f"{ANIMALS_KEY}.approach in {path}"
    if run.project.config.identity:
        return "bottomup", ("identity: true, and only the bottom-up network's identity head "
                            "names the animals")
    return "topdown", ("the default: far more accurate than bottom-up for the same CPU "
                       "budget (README, Several animals)")


def train_animals(run: TrainingRun, approach: str | None, extra: dict[str, Any],
                  resume: bool, progress: bool) -> State:
    """Train a multi-animal shuffle with `approach` (None: :func:`choose_approach`)."""
    approach, why = choose_approach(run, approach)
    log.info("several animals: %s (%s)", approach, why)
    if approach == "bottomup":
        herd = AnimalsTrainer(run.config, run.project, run.model_dir, run.train, run.test,
                              progress, run.flip_pairs)
        animals = {**herd.describe(), "approach": approach}
        return run_stage(herd, run.model_dir, {**extra, "crop_hw": list(herd.crop_hw),
                                               ANIMALS_KEY: animals}, resume)
    if run.project.config.identity:
        raise ConfigError(f"{run.project.config.path}: identity: true needs the bottom-up "
                          "network (its identity head names the animals); train with "
                          "approach bottomup")
    return _train_topdown(run, extra, resume, progress)


def _stage_config(model_dir: ModelDir, resume: bool, fresh: TrainConfig, given: dict,
                  share: float) -> TrainConfig:
    """A stage's stored config when resuming it, with the settings the user gave (a given
    time budget: this stage's `share` of it), else `fresh`."""
    if not (resume and model_dir.config_path.exists()):
        return fresh
    if given.get("max_minutes"):
        given = {**given, "max_minutes": given["max_minutes"] * share}
    return apply_settings(model_dir.read_config(), given)


def _train_topdown(run: TrainingRun, extra: dict[str, Any], resume: bool,
                   progress: bool) -> State:
    config = run.config
    side = training_crop_side(run.train.keypoints)
    finder_minutes = config.max_minutes * FINDER_SHARE if config.max_minutes else None
    pose_minutes = config.max_minutes - finder_minutes if config.max_minutes else None
    finder = finder_dir(run.model_dir)
    finder_config = _stage_config(finder, resume, config.replace(
        input_scale=config.input_scale / FINDER_POOL, max_minutes=finder_minutes),
        run.given, FINDER_SHARE)
    pose_config = _stage_config(run.model_dir, resume, config.replace(
        crop_size=[side, side], max_minutes=pose_minutes), run.given, 1 - FINDER_SHARE)
    if not resume:  # a resumed run must not take up an earlier run's pose network
        for old in [*run.model_dir.snapshots(), run.model_dir.config_path]:
            old.unlink(missing_ok=True)
    crops = animal_crops(run.train, side + TRAIN_MARGIN)
    test_crops = animal_crops(run.test, side + TRAIN_MARGIN)
    budget = (f"{finder_minutes:.1f} + {pose_minutes:.1f} min" if config.max_minutes
              else f"{config.epochs} epochs each")
    log.info("top-down, in two stages (%s): 1. the animal finder, the bottom-up network's "
             "center head on frames pooled %dx (%.0f%% of the pixels: it only places one peak "
             "per animal, so it gets %.0f%% of the budget); 2. the pose network on %dx%d crops "
             "around each of the %d labeled animals (%d test), which decides the accuracy",
             budget, FINDER_POOL, 100 / FINDER_POOL**2, 100 * FINDER_SHARE, side, side,
             len(crops), len(test_crops))
    herd = AnimalsTrainer(finder_config, run.project, finder,
                          pooled(run.train, FINDER_POOL), pooled(run.test, FINDER_POOL),
                          progress, run.flip_pairs)
    state = run_stage(herd, finder, {**extra, "crop_hw": list(herd.crop_hw),
                                     ANIMALS_KEY: {**herd.describe(), "approach": "bottomup"}},
                      resume)
    log.info("finder: %d epochs in %.1f min, test RMSE %.2f px", state.epoch,
             state.wall_s / 60, state.test_error)
    c = run.project.config
    pose = Trainer(pose_config, c.bodyparts, run.model_dir, crops, test_crops, progress,
                   run.flip_pairs)
    animals = {"approach": "topdown", "individuals": list(c.individuals),
               "bodyparts": list(c.bodyparts), "identity": False, "crop_side": side,
               "finder_pool": FINDER_POOL, "n_crops": len(crops)}
    return run_stage(pose, run.model_dir, {**extra, "crop_hw": list(pose.crop_hw),
                                           ANIMALS_KEY: animals}, resume)
