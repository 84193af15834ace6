"""Training data: the recorded train/test split of a shuffle, images held in memory,
and batches of crops around the labeled animal.

The split lives where DeepLabCut keeps its training sets,
``training-datasets/iteration-N/UnaugmentedDataSet_<Task><date>/``, as a plain YAML
file ``split-<Task>_<scorer><P>shuffle<S>.yaml`` listing the train and test images;
training writes it once and evaluation reads it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from calib.errors import ConfigError, DataError
from calib.fileio import atomic_path, read_image
from train.data.keypoints import LabeledFrames, outside_image
from train.data.project import Project

log = logging.getLogger(__name__)


def percent(fraction: float) -> int:
    """``TrainingFraction`` as DeepLabCut's integer percent in folder names (0.95 -> 95)."""
    return int(round(100 * fraction))


def dataset_folder(project: Project) -> Path:
    c = project.config
    return (project.root / "training-datasets" / f"iteration-{c.iteration}"
            / f"UnaugmentedDataSet_{c.task}{c.date}")


def split_path(project: Project, shuffle: int, fraction: float) -> Path:
    c = project.config
    name = f"split-{c.task}_{c.scorer}{percent(fraction)}shuffle{shuffle}.yaml"
    return dataset_folder(project) / name


@dataclass
class Split:
    """Which labeled images train and which test, for one shuffle."""

    shuffle: int
    training_fraction: float
    seed: int
    train: list[str]
    test: list[str]
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {"shuffle": self.shuffle, "training_fraction": self.training_fraction,
                "seed": self.seed, "train": list(self.train), "test": list(self.test)}


def _random_split(images: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    order = np.random.default_rng(seed).permutation(len(images))
    n_train = int(round(fraction * len(images)))
    n_train = min(max(n_train, 1), len(images))
    train = sorted(images[i] for i in order[:n_train])
    test = sorted(images[i] for i in order[n_train:])
    return train, test


def read_split(path: Path) -> Split:
    try:
        data = yaml.safe_load(path.read_text())
        split = Split(int(data["shuffle"]), float(data["training_fraction"]), int(data["seed"]),
                      [str(s) for s in data["train"]], [str(s) for s in data["test"] or []], path)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a poseloop split file ({type(exc).__name__}: {exc})") from exc
    return split


def make_split(project: Project, shuffle: int = 1, fraction: float | None = None,
               seed: int | None = None, test_images: list[str] | None = None,
               labels: LabeledFrames | None = None) -> Split:
    """The split of `shuffle`: read back if recorded, else drawn and recorded.

    `fraction` defaults to the config's first ``TrainingFraction``; `seed` to the shuffle
    number. `test_images` (relative image paths as in the labels) gives the test set
    explicitly and replaces a recorded split of the same shuffle. Images without any
    labeled point are left out.
    """
    fraction = project.config.training_fraction[0] if fraction is None else float(fraction)
    path = split_path(project, shuffle, fraction)
    if test_images is None and path.exists():
        return read_split(path)
    labels = project.load_labels() if labels is None else labels
    has_label = labels.labeled_mask().reshape(len(labels), -1).any(axis=1)
    labeled = [img for img, m in zip(labels.images, has_label, strict=True) if m]
    if not labeled:
        raise DataError(f"{project.labeled_data}: no image has a labeled point")
    seed = shuffle if seed is None else int(seed)
    if test_images is not None:
        unknown = sorted(set(test_images) - set(labeled))
        if unknown:
            raise ConfigError(f"test images {unknown[:3]} are not labeled images of the project "
                              f"(e.g. {labeled[0]})")
        test = sorted(set(test_images))
        train = [img for img in labeled if img not in set(test)]
        if not train:
            raise ConfigError("a user split must leave at least one image for training")
    else:
        train, test = _random_split(labeled, fraction, seed)
    split = Split(shuffle, fraction, seed, train, test, path)
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(split.to_dict(), sort_keys=False))
    log.info("split of shuffle %d: %d train, %d test images -> %s", shuffle, len(train), len(test),
             path)
    return split


def scale_points(xy: np.ndarray, scale: float) -> np.ndarray:
    """Frame pixels -> pixels of the frame resized by `scale` (pixel centers map exactly)."""
    return (xy + 0.5) * scale - 0.5 if scale != 1 else xy


def resize_rgb(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize an ``(H, W, 3) uint8`` image by `scale` exactly as the exported model does."""
    if scale == 1:
        return image
    import kornia
    import torch

    h, w = image.shape[:2]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = kornia.geometry.transform.resize(x, size, interpolation="bilinear", align_corners=False,
                                         antialias=True)
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@dataclass
class LabeledImages:
    """Images in memory, ``(H, W, 3) uint8`` RGB, with their labels ``(N, K, 2)`` (multi-animal:
    ``(N, I, K, 2)``) in the pixels of those (possibly resized) images."""

    names: list[str]
    images: list[np.ndarray]
    keypoints: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


def load_images(project: Project, labels: LabeledFrames, names: list[str]) -> LabeledImages:
    """Read `names` (relative image paths) from the project."""
    index = {img: i for i, img in enumerate(labels.images)}
    images, keypoints = [], []
    for name in names:
        if name not in index:
            raise DataError(f"{name}: listed in the split but not in the project's labels")
        path = project.root / name
        bgr = read_image(path)
        if bgr is None:
            raise DataError(f"{path}: missing, cut off or not an image OpenCV can read")
        xy = labels.xy[index[name]]
        off = np.argwhere(outside_image(xy, bgr.shape[1], bgr.shape[0]))
        if len(off):
            *who, j = (int(v) for v in off[0])  # [individual,] bodypart
            x, y = xy[(*who, j)]
            animal = f"{labels.individuals[who[0]]} " if who else ""
            raise DataError(f"{project.labels_path(Path(name).parent.name)}: {name}: "
                            f"{animal}{labels.bodyparts[j]} at ({x:g}, {y:g}) is outside the "
                            f"{bgr.shape[1]}x{bgr.shape[0]} image")
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        keypoints.append(xy)
    empty = np.zeros((0, *labels.layout, 2), np.float32)
    kp = np.stack(keypoints).astype(np.float32) if keypoints else empty
    return LabeledImages(list(names), images, kp)


def rescale(data: LabeledImages, scale: float) -> LabeledImages:
    """`data` with images and labels resized by `scale` (itself when `scale` is 1)."""
    if scale == 1:
        return data
    return LabeledImages(data.names, [resize_rgb(img, scale) for img in data.images],
                         scale_points(data.keypoints, scale).astype(np.float32))


def _crop_origin(size: int, crop: int, lo: float, hi: float, margin: float,
                 rng: np.random.Generator) -> int:
    """Random crop start along one axis so that ``[lo, hi]`` (+ margin) stays inside, when
    it fits; else a start that keeps a random part of it."""
    if size <= crop:
        return 0
    first = int(np.floor(hi + margin)) - crop + 1
    last = int(np.ceil(lo - margin))
    if first > last:  # the animal is larger than the crop: center on a random point of it
        c = rng.uniform(lo, hi)
        first = last = int(c - crop / 2)
    start = int(rng.integers(first, last + 1))
    return min(max(start, 0), size - crop)


def crop_batch(data: LabeledImages, idx: np.ndarray, crop_hw: tuple[int, int], margin: float,
               rng: np.random.Generator, anywhere: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Crops ``(B, ch, cw, 3) uint8`` around the labeled points of images `idx` and their
    keypoints ``(B, K, 2)`` in crop pixels. With probability `anywhere` a crop is placed
    uniformly in the image instead (so the net also sees the background that whole frames
    show at test time). Smaller images are padded with zeros."""
    ch, cw = crop_hw
    out = np.zeros((len(idx), ch, cw, 3), np.uint8)
    kps = data.keypoints[idx].copy()
    for b, i in enumerate(idx):
        image = data.images[i]
        h, w = image.shape[:2]
        pts = kps[b][np.isfinite(kps[b]).all(axis=1)]
        if len(pts) and not (anywhere > 0 and rng.random() < anywhere):
            x0 = _crop_origin(w, cw, pts[:, 0].min(), pts[:, 0].max(), margin, rng)
            y0 = _crop_origin(h, ch, pts[:, 1].min(), pts[:, 1].max(), margin, rng)
        else:
            x0 = int(rng.integers(0, max(w - cw, 0) + 1))
            y0 = int(rng.integers(0, max(h - ch, 0) + 1))
        patch = image[y0:y0 + ch, x0:x0 + cw]
        out[b, :patch.shape[0], :patch.shape[1]] = patch
        kps[b] -= (x0, y0)
    return out, kps
