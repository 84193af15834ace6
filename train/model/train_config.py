"""Training configuration (a validated dataclass, stored as YAML in the model folder) and
the model folder layout, DeepLabCut 3's under poseloop's own root (:mod:`train.model.paths`):
``poseloop-models/iteration-N/<Task><date>-trainset<P>shuffle<S>/{train,test}/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calib.errors import ConfigError
from calib.fileio import atomic_path, read_mapping
from train.data.project import Project
from train.model.paths import model_folder

CONFIG_FILE = "pytorch_config.yaml"
SCHEDULES = ("cosine", "step", "constant")


@dataclass
class TrainConfig:
    """Everything that decides a training run. Pixel sizes are in network-input pixels
    (frames resized by ``input_scale``)."""

    net: str = "resnet_50"
    weights: str = "imagenet"  # "imagenet" | "none" | path of a backbone state dict
    stride: int = 8
    dilate: bool = True  # last backbone stage at stride 16 (dilated) rather than 32
    head_channels: int = 128
    epochs: int = 200
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step (x0.1 at 60% and 85%) | constant
    warmup_epochs: int = 2
    crop_size: list[int] | None = None  # [h, w] crops around the animal; None: whole frames
    crop_margin: float = 16.0
    crop_anywhere: float = 0.0  # fraction of crops placed anywhere in the frame
    input_scale: float = 1.0
    sigma: float = 6.0  # heatmap Gaussian, px
    locref_std: float = 7.2801
    locref_radius: float = 16.0  # px around a keypoint where offsets are learned
    locref_weight: float = 0.1
    heatmap_weight: float = 100.0
    save_every: int = 10  # epochs between snapshots (for resume)
    keep_snapshots: int = 3
    eval_every: int = 5  # epochs between test-error measurements (the learning curve)
    seed: int = 0
    max_minutes: float | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # CPU threads for torch (None: torch's default)
    amp: bool = True  # mixed precision, on CUDA only
    channels_last: bool = True  # NHWC weights and inputs (faster on CUDA and on x86 CPUs)
    # train.model.augment.config.AugmentConfig settings ({}: its defaults); None or
    # enabled: false = off
    augment: dict[str, Any] | None = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, source: str = "train config") -> None:
        from train.model.backbones import NETS

        def bad(key: str, why: str) -> ConfigError:
            return ConfigError(f"{source}: {key} {why}, got {getattr(self, key)!r}")

        if self.net not in NETS:
            raise bad("net", f"must be one of {sorted(NETS)}")
        if self.stride not in (4, 8, 16):
            raise bad("stride", "must be 4, 8 or 16")
        for key in ("epochs", "batch_size", "head_channels", "save_every", "eval_every",
                    "keep_snapshots"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise bad(key, "must be an integer >= 1")
        for key in ("lr", "sigma", "locref_std", "locref_radius", "input_scale"):
            if not getattr(self, key) > 0:
                raise bad(key, "must be > 0")
        if not 0 <= self.crop_anywhere <= 1:
            raise bad("crop_anywhere", "must be in [0, 1]")
        for key in ("weight_decay", "locref_weight", "heatmap_weight", "crop_margin"):
            if getattr(self, key) < 0:
                raise bad(key, "must be >= 0")
        if self.schedule not in SCHEDULES:
            raise bad("schedule", f"must be one of {SCHEDULES}")
        if self.crop_size is not None and (
            len(self.crop_size) != 2 or any(int(v) < 32 for v in self.crop_size)
        ):
            raise bad("crop_size", "must be [height, width] of at least 32 px, or null")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise bad("threads", "must be an integer >= 1 or null")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise bad("max_minutes", "must be > 0 or null")
        if self.augment is not None:
            from train.model.augment.config import AugmentConfig

            AugmentConfig.from_dict(self.augment, f"{source}: augment")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "train config") -> TrainConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {unknown}; known: {sorted(known)}")
        try:
            config = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        config.validate(source)
        return config

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes` (None values are ignored, as from unset CLI options)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class ModelDir:
    """A shuffle's model folder: ``train/`` (config, log, snapshots) and ``test/``
    (evaluation results)."""

    path: Path
    project_root: Path
    shuffle: int
    training_fraction: float

    @classmethod
    def of(cls, project: Project, shuffle: int = 1, fraction: float | None = None) -> ModelDir:
        from train.model.dataset import percent

        c = project.config
        fraction = c.training_fraction[0] if fraction is None else float(fraction)
        name = f"{c.task}{c.date}-trainset{percent(fraction)}shuffle{shuffle}"
        path = model_folder(project.root, c.iteration, name)
        return cls(path, project.root, shuffle, fraction)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def train_dir(self) -> Path:
        return self.path / "train"

    @property
    def test_dir(self) -> Path:
        return self.path / "test"

    @property
    def config_path(self) -> Path:
        return self.train_dir / CONFIG_FILE

    @property
    def log_path(self) -> Path:
        return self.train_dir / "learning_stats.csv"

    def snapshots(self) -> list[Path]:
        """Numbered snapshots ``snapshot-<epoch>.pt``, oldest first."""
        return sorted(self.train_dir.glob("snapshot-[0-9]*.pt"))

    def snapshot(self, epoch: int) -> Path:
        return self.train_dir / f"snapshot-{epoch:05d}.pt"

    def write_config(self, config: TrainConfig, extra: dict[str, Any]) -> None:
        with atomic_path(self.config_path) as tmp:
            tmp.write_text(yaml.safe_dump({**extra, "train": config.to_dict()}, sort_keys=False))

    def read_config(self) -> TrainConfig:
        data = read_mapping(self.config_path,
                            missing="no training config (train this shuffle first)")
        if "train" not in data:
            raise ConfigError(f"{self.config_path}: missing key 'train'")
        return TrainConfig.from_dict(data["train"], str(self.config_path))
