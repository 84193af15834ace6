"""The trainer: from a labeled project to snapshots of a :class:`train.model.network.PoseNet`.

One run = one shuffle's model folder (:class:`train.model.train_config.ModelDir`). Each epoch
draws its batches from a generator seeded by ``(seed, epoch)``, so a run resumed from a
snapshot continues exactly as the uninterrupted run would have on the same machine.
Snapshots are written every ``save_every`` epochs (and at least once a minute); the
last one is the trained model. ``learning_stats.csv`` logs loss, learning rate, samples/s,
wall time and the test error, which only draws the learning curve: no snapshot is chosen
by it (a test set that picks the model no longer measures it).
"""

from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from calib.errors import ModelError
from calib.fileio import atomic_path
from train.data.project import Project, open_project
from train.data.sides import flip_pairs
from train.model.backbones import MEAN, STD
from train.model.dataset import LabeledImages, Split, crop_batch, load_images, make_split, rescale
from train.model.defaults import Choice, apply_settings, choose_config, given_settings
from train.model.network import DeployNet, build_network
from train.model.targets import make_targets, pose_loss
from train.model.train_config import ModelDir, TrainConfig

log = logging.getLogger(__name__)

LOG_FIELDS = ("epoch", "iteration", "wall_s", "cpu_s", "loss", "heatmap_loss", "locref_loss", "lr",
              "samples_per_s", "test_error")
SNAPSHOT_SECONDS = 60.0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {name!r} requested but CUDA is not available")
    return device


def lr_factor(config: TrainConfig, progress: float) -> float:
    """Learning-rate multiplier at `progress` in [0, 1] of the run (after warmup)."""
    if config.schedule == "cosine":
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    if config.schedule == "step":
        return 1.0 if progress < 0.6 else 0.1 if progress < 0.85 else 0.01
    return 1.0


def normalize(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` float RGB in [0, 1] -> ImageNet-normalized."""
    mean = torch.tensor(MEAN, device=images.device)[:, None, None]
    std = torch.tensor(STD, device=images.device)[:, None, None]
    return (images - mean) / std


def make_augmenter(config: TrainConfig, bodyparts: tuple[str, ...],
                   flip_pairs: tuple[tuple[str, str], ...] = ()):
    """The batch augmenter of `config.augment` (also when it is switched off: it then
    passes batches through)."""
    from train.model.augment.config import AugmentConfig
    from train.model.augment.pipeline import Augmenter

    aug = AugmentConfig.from_dict(config.augment if config.augment is not None
                                  else {"enabled": False}, "train config: augment")
    return Augmenter(aug, bodyparts, flip_pairs)


def crop_hw(data: LabeledImages, config: TrainConfig) -> tuple[int, int]:
    """Training input size: the configured crop, capped at the largest image, rounded up
    to a multiple of 32 (smaller images are padded)."""
    h = max(img.shape[0] for img in data.images)
    w = max(img.shape[1] for img in data.images)
    if config.crop_size is not None:
        h, w = min(h, int(config.crop_size[0])), min(w, int(config.crop_size[1]))
    return 32 * math.ceil(h / 32), 32 * math.ceil(w / 32)


@dataclass
class State:
    """What a snapshot holds besides the weights."""

    epoch: int = 0  # epochs completed
    iteration: int = 0
    wall_s: float = 0.0  # training time over all sessions
    cpu_s: float = 0.0  # CPU time of the process meanwhile (all threads): shows a shared machine
    test_error: float = math.nan  # the latest measured


def _image_tensor(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(B, H, W, 3) uint8`` -> ``(B, 3, H, W)`` float in [0, 1] on `device`."""
    x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2)
    return x.contiguous().float().div_(255.0)  # NCHW: conv kernels differ for NHWC


@torch.no_grad()
def predict_images(deploy: DeployNet, images: list[np.ndarray], device: torch.device) -> np.ndarray:
    """``(N, K, 3)`` predictions of the training-time net on whole RGB images."""
    deploy.eval()
    out = [deploy(normalize(_image_tensor(img[None], device)))[0].float().cpu().numpy()
           for img in images]
    return np.stack(out) if out else np.zeros((0, 0, 3), np.float32)


def mean_error(pred: np.ndarray, data: LabeledImages, scale: float) -> float:
    """Mean Euclidean error in frame pixels over labeled points."""
    d = np.linalg.norm(pred[..., :2] - data.keypoints, axis=2) / scale
    return float(np.nanmean(d)) if np.isfinite(d).any() else math.nan


class _Logger:
    """``learning_stats.csv``; on resume, rows after the snapshot are dropped."""

    def __init__(self, path: Path, resume_epoch: int | None):
        self.path = path
        rows = []
        if resume_epoch is not None and path.exists():
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= resume_epoch]
        with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)


class Trainer:
    """Training of one network on images in memory; `model_dir` receives snapshots and log."""

    def __init__(self, config: TrainConfig, bodyparts: tuple[str, ...], model_dir: ModelDir,
                 train: LabeledImages, test: LabeledImages, progress: bool = True,
                 flip_pairs: tuple[tuple[str, str], ...] = ()):
        self.config, self.dir, self.bodyparts = config, model_dir, tuple(bodyparts)
        self.train_data, self.test_data = train, test
        self.progress = progress
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.net, self.deploy = self.build_net()
        self.net.to(self.device)
        self.cuda = self.device.type == "cuda"
        if config.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) \
            if self.cuda and config.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        augmenter = make_augmenter(config, self.bodyparts, flip_pairs)
        self.augmenter = augmenter if augmenter.config.enabled else None
        self.state = State()
        self._session_start, self._wall_before = time.perf_counter(), 0.0
        self.crop_hw = crop_hw(train, config)
        self.iters_per_epoch = max(1, math.ceil(len(train) / config.batch_size))

    def build_net(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """The network to train and its deployable twin (which shares its weights)."""
        net = build_network(self.config, len(self.bodyparts))
        return net, DeployNet(net, self.config.locref_std)

    def losses(self, x: torch.Tensor, keypoints: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Weighted loss terms of a normalized batch and its ``(B, K, 2)`` keypoints: the
        heatmap term first (logged as ``heatmap_loss``), the others are logged summed as
        ``locref_loss``."""
        heatmaps, locref = self.net(x)
        targets = make_targets(keypoints, heatmaps.shape[2:], self.config.stride,
                               self.config.sigma, self.config.locref_std,
                               self.config.locref_radius)
        heat_loss, locref_loss = pose_loss(heatmaps, locref, targets, self.config.locref_weight)
        return self.config.heatmap_weight * heat_loss, locref_loss

    # ------------------------------------------------------------ snapshots

    def save_snapshot(self, path: Path, full: bool = True) -> None:
        data = {"model": self.net.state_dict(), "state": vars(self.state).copy(),
                "config": self.config.to_dict(), "bodyparts": list(self.bodyparts)}
        if full:
            data["optimizer"] = self.optimizer.state_dict()
            data["scaler"] = self.scaler.state_dict()
        with atomic_path(path) as tmp:
            torch.save(data, tmp)

    def load_snapshot(self, path: Path) -> None:
        try:
            data = torch.load(path, map_location=self.device, weights_only=True)
            self.net.load_state_dict(data["model"])
            self.optimizer.load_state_dict(data["optimizer"])
            self.scaler.load_state_dict(data["scaler"])
        except Exception as exc:  # truncated file, other net
            raise ModelError(f"{path}: cannot resume from this snapshot ({exc})") from exc
        known = {f.name for f in fields(State)}  # older snapshots held more
        self.state = State(**{k: v for k, v in data["state"].items() if k in known})
        log.info("resumed from %s (epoch %d)", path, self.state.epoch)

    def _save_numbered(self) -> None:
        self.save_snapshot(self.dir.snapshot(self.state.epoch))
        for old in self.dir.snapshots()[:-self.config.keep_snapshots]:
            old.unlink()

    # ------------------------------------------------------------ training

    def _set_lr(self, progress: float, iteration_in_run: int) -> float:
        warm = self.config.warmup_epochs * self.iters_per_epoch
        factor = lr_factor(self.config, progress)
        if iteration_in_run < warm:
            factor *= (iteration_in_run + 1) / warm
        lr = self.config.lr * factor
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def step(self, images: torch.Tensor, keypoints: torch.Tensor) -> tuple[float, float]:
        """One optimization step on ``(B, 3, H, W)`` [0, 1] images and ``(B, K, 2)`` px."""
        if self.augmenter is not None:
            images, keypoints = self.augmenter(images, keypoints)
        x = normalize(images)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                            enabled=self.amp_dtype is not None):
            terms = self.losses(x, keypoints)
        loss = sum(terms)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(terms[0].detach()), float(sum(t.detach() for t in terms[1:]))

    def _epoch_batches(self, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.config.seed, epoch])
        torch.manual_seed(self.config.seed * 1_000_003 + epoch)  # augmentation randomness
        n, b = len(self.train_data), self.config.batch_size
        repeats = math.ceil(self.iters_per_epoch * b / n)
        order = np.concatenate([rng.permutation(n) for _ in range(repeats)])
        return [crop_batch(self.train_data, order[i * b:(i + 1) * b], self.crop_hw,
                           self.config.crop_margin, rng, self.config.crop_anywhere)
                for i in range(self.iters_per_epoch)]

    def test_error(self) -> float:
        data = self.test_data if len(self.test_data) else self.train_data
        pred = predict_images(self.deploy, data.images, self.device)
        self.net.train()
        return mean_error(pred, data, self.config.input_scale)

    def _train_epoch(self, bar: tqdm) -> dict:
        """One epoch of steps; returns its log row (losses, lr, samples/s)."""
        batches = self._epoch_batches(self.state.epoch)
        b = self.config.batch_size
        t0 = time.perf_counter()
        heat = loc = lr = 0.0
        for i, (images, kps) in enumerate(batches):
            lr = self._set_lr(self._progress(), self.state.iteration)
            h, lo = self.step(_image_tensor(images, self.device),
                              torch.from_numpy(kps).to(self.device))
            heat, loc = heat + h, loc + lo
            self.state.iteration += 1
            bar.update(1)
            rate = (i + 1) * b / (time.perf_counter() - t0)
            bar.set_postfix(loss=f"{(heat + loc) / (i + 1):.4f}", samples_s=f"{rate:.1f}")
        if self.cuda:
            torch.cuda.synchronize()
        n = len(batches)
        return {"loss": f"{(heat + loc) / n:.6f}", "heatmap_loss": f"{heat / n:.6f}",
                "locref_loss": f"{loc / n:.6f}", "lr": f"{lr:.3g}",
                "samples_per_s": f"{n * b / (time.perf_counter() - t0):.2f}"}

    def _progress(self) -> float:
        """Fraction of the run done: by epochs, or by the time budget if that is further."""
        done = self.state.epoch / self.config.epochs
        if self.config.max_minutes:
            elapsed = self._wall_before + time.perf_counter() - self._session_start
            done = max(done, elapsed / (60 * self.config.max_minutes))
        return done

    def _evaluate_epoch(self, final: bool) -> float:
        """Test error every ``eval_every`` epochs and at the end (the learning curve)."""
        if self.state.epoch % self.config.eval_every and not final:
            return math.nan
        self.state.test_error = self.test_error()
        return self.state.test_error

    def run(self) -> State:
        """Train until ``epochs`` or the time budget; torch's thread count is set to
        ``config.threads`` meanwhile and restored after."""
        threads = torch.get_num_threads()
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> State:
        cfg = self.config
        logger = _Logger(self.dir.log_path, self.state.epoch if self.state.iteration else None)
        self._session_start = last_save = time.perf_counter()
        self._wall_before = self.state.wall_s
        cpu_start, cpu_before = time.process_time(), self.state.cpu_s
        bar = tqdm(total=cfg.epochs * self.iters_per_epoch, unit="it", desc=f"train {cfg.net}",
                   initial=self.state.epoch * self.iters_per_epoch, disable=not self.progress,
                   dynamic_ncols=True)
        self.net.train()
        try:
            while self.state.epoch < cfg.epochs:
                if cfg.max_minutes and self._progress() >= 1.0 and self.state.epoch > 0:
                    log.info("time budget of %.1f min reached after %d epochs", cfg.max_minutes,
                             self.state.epoch)
                    break
                row = self._train_epoch(bar)
                self.state.epoch += 1
                final = self._progress() >= 1.0
                error = self._evaluate_epoch(final)
                self.state.wall_s = self._wall_before + time.perf_counter() - self._session_start
                self.state.cpu_s = cpu_before + time.process_time() - cpu_start
                logger.write({"epoch": self.state.epoch, "iteration": self.state.iteration,
                              "wall_s": f"{self.state.wall_s:.2f}",
                              "cpu_s": f"{self.state.cpu_s:.2f}", **row,
                              "test_error": "" if math.isnan(error) else f"{error:.3f}"})
                if not math.isnan(error):
                    bar.write(f"epoch {self.state.epoch}: test error {error:.2f} px")
                if (self.state.epoch % cfg.save_every == 0 or final
                        or time.perf_counter() - last_save > SNAPSHOT_SECONDS):
                    self._save_numbered()
                    last_save = time.perf_counter()
        finally:
            bar.close()
        snapshots = self.dir.snapshots()
        if not snapshots or snapshots[-1] != self.dir.snapshot(self.state.epoch):
            self._save_numbered()
        return self.state


@dataclass
class TrainingRun:
    """What training (or its preview) works on: the project's split, images in memory at
    the config's scale, the config and the choices made for the user."""

    project: Project
    model_dir: ModelDir
    split: Split
    train: LabeledImages
    test: LabeledImages
    config: TrainConfig
    flip_pairs: tuple[tuple[str, str], ...]
    choices: list[Choice]
    given: dict  # the settings the user gave (TrainConfig fields)


def prepare_training(project: str | Path | Project, config: TrainConfig | None, shuffle: int,
             resume: bool, test_images: list[str] | None, options: dict) -> TrainingRun:
    if not isinstance(project, Project):
        project = open_project(project)
    if project.config.multianimal:
        from train.model.animals.trainer import check_supported

        check_supported(project)
    model_dir = ModelDir.of(project, shuffle)
    given = given_settings(options)
    labels = project.load_labels()
    split = make_split(project, shuffle, model_dir.training_fraction, test_images=test_images,
                       labels=labels)
    train = load_images(project, labels, split.train)
    test = load_images(project, labels, split.test)
    pairs = flip_pairs(project.config)
    if config is None and resume and model_dir.config_path.exists():
        config = model_dir.read_config()
    choices: list[Choice] = []
    if config is not None:
        config = apply_settings(config, given)
    else:
        device = resolve_device(given.get("device", "auto"))
        frame_hw = (max(img.shape[0] for img in train.images),
                    max(img.shape[1] for img in train.images))
        config, choices = choose_config(given, device, train.keypoints, frame_hw, pairs)
        log.info("settings chosen for %s (%s), %d training frames up to %dx%d px; options "
                 "given on the command line or in Python win:", device, device.type,
                 len(train), frame_hw[1], frame_hw[0])
        for choice in choices:
            log.info("  %s", choice)
    return TrainingRun(project, model_dir, split, rescale(train, config.input_scale),
                rescale(test, config.input_scale), config, pairs, choices, given)


def run_stage(trainer: Trainer, model_dir: ModelDir, extra: dict, resume: bool) -> State:
    """Train `trainer` into `model_dir`: from its latest snapshot with `resume` (else its
    old snapshots are removed), with its config and `extra` written first."""
    snapshots = model_dir.snapshots()
    if resume and snapshots:
        trainer.load_snapshot(snapshots[-1])
    elif resume:
        log.warning("%s: no snapshot to resume from; starting afresh", model_dir.train_dir)
    if not resume or not snapshots:  # also an earlier version's snapshot-best.pt
        for old in model_dir.train_dir.glob("snapshot-*.pt"):
            old.unlink()
    model_dir.write_config(trainer.config, extra)
    return trainer.run()


def train_network(project: str | Path | Project, config: TrainConfig | None = None,
                  shuffle: int = 1, resume: bool = False, test_images: list[str] | None = None,
                  progress: bool = True, *, net: str | None = None, weights: str | None = None,
                  stride: int | None = None, epochs: int | None = None,
                  batch_size: int | None = None, lr: float | None = None,
                  crop: tuple[int, int] | None = None, input_scale: float | None = None,
                  max_minutes: float | None = None, save_every: int | None = None,
                  seed: int | None = None, device: str | None = None, threads: int | None = None,
                  augment: bool = True, approach: str | None = None) -> ModelDir:
    """Train shuffle `shuffle` of `project`; returns its model folder.

    Settings: `config` when given, else the stored config when resuming, else chosen for
    the device and the frames (:func:`train.model.defaults.choose_config`, logged with
    the reasons); the keyword options (None: not given) override any of them. `resume`
    continues from the latest snapshot; `test_images` gives a user split (relative image
    paths); `crop` is ``(H, W)``; ``augment=False`` trains without augmentation.
    `approach` (several animals only): ``"topdown"`` or ``"bottomup"``
    (:mod:`train.model.animals.approach`; None: the stored or the default one).
    """
    run = prepare_training(project, config, shuffle, resume, test_images, dict(
        net=net, weights=weights, stride=stride, epochs=epochs, batch_size=batch_size, lr=lr,
        crop=crop, input_scale=input_scale, max_minutes=max_minutes, save_every=save_every,
        seed=seed, device=device, threads=threads, augment=augment))
    project, model_dir, config = run.project, run.model_dir, run.config
    log.info("training %s on %d images (%d test) of %s", config.net, len(run.train),
             len(run.test), project.root)
    extra = {"project": str(project.root), "bodyparts": list(project.config.bodyparts),
             "split": str(run.split.path), "shuffle": shuffle,
             "training_fraction": run.split.training_fraction,
             "flip_pairs": [list(p) for p in run.flip_pairs]}
    if run.choices:
        extra["chosen"] = {c.key: c.why for c in run.choices}
    if project.config.multianimal:  # several animals: animals/ (top-down or bottom-up)
        from train.model.animals.approach import train_animals

        state = train_animals(run, approach, extra, resume, progress)
    else:
        trainer = Trainer(config, project.config.bodyparts, model_dir, run.train, run.test,
                          progress, run.flip_pairs)
        state = run_stage(trainer, model_dir, {**extra, "crop_hw": list(trainer.crop_hw)},
                          resume)
    log.info("trained %d epochs in %.1f min; test error %.2f px at the end -> %s",
             state.epoch, state.wall_s / 60, state.test_error, model_dir.path)
    return model_dir


def preview_augmentation(project: str | Path | Project, config: TrainConfig | None = None,
                         shuffle: int = 1, path: str | Path | None = None, n: int = 8,
                         **options) -> Path:
    """Write a picture of `n` training samples as the trainer feeds them (crops, then
    the augmentation) with their keypoints drawn; returns its path. Settings as in
    :func:`train_network`, whose keyword options `options` are."""
    from train.model.augment.preview import write_augmentation_preview

    run = prepare_training(project, config, shuffle, False, None, options)
    config = run.config
    data, names, pairs = run.train, run.project.config.bodyparts, run.flip_pairs
    if run.project.config.multianimal:
        from train.model.animals.trainer import as_points

        data, names, pairs = as_points(run.project, run.train, run.flip_pairs)
    rng = np.random.default_rng(config.seed)
    images, kps = crop_batch(data, rng.permutation(len(data))[:n], crop_hw(data, config),
                             config.crop_margin, rng)
    path = Path(path) if path else run.model_dir.train_dir / "augmentation_preview.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_augmentation_preview(_image_tensor(images, torch.device("cpu")), torch.from_numpy(kps),
                               make_augmenter(config, names, pairs), path)
    return path
