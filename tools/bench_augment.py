"""Augmentation throughput against a ResNet-18 training step and against kornia's
``AugmentationSequential`` doing the same ops, measured in one run.

    python tools/bench_augment.py [--batch 8] [--size 256] [--threads 1] [--repeats 15]

Runs alternate (augment, kornia reference, train step, ...) and medians are reported,
all with the same torch thread count.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.model.augment.config import AugmentConfig  # noqa: E402
from train.model.augment.pipeline import Augmenter  # noqa: E402

BODYPARTS = tuple(f"part{i}" for i in range(12))
ALL_ON = {"crop": 1.0, "hflip": 1.0, "color_p": 1.0, "gaussian_blur": 1.0, "motion_blur": 1.0,
          "noise": 1.0, "jpeg": 1.0}


def kornia_reference(c: AugmentConfig, size: int):
    """The same ops as kornia.augmentation modules in an AugmentationSequential."""
    import kornia.augmentation as K

    k = 2 * math.ceil(3 * c.gaussian_blur_sigma[1]) + 1
    return K.AugmentationSequential(
        K.RandomAffine(c.rotation, translate=(c.translate, c.translate), scale=c.scale, p=1.0),
        K.RandomResizedCrop((size, size), scale=c.crop_area, ratio=c.crop_ratio, p=c.crop),
        K.RandomHorizontalFlip(p=c.hflip),
        K.RandomBrightness((1 - c.brightness, 1 + c.brightness), p=c.color_p),
        K.RandomContrast((1 - c.contrast, 1 + c.contrast), p=c.color_p),
        K.RandomSaturation((1 - c.saturation, 1 + c.saturation), p=c.color_p),
        K.RandomGaussianBlur((k, k), c.gaussian_blur_sigma, p=c.gaussian_blur),
        K.RandomMotionBlur((3, c.motion_blur_kernel), 180.0, (-1.0, 1.0), p=c.motion_blur),
        K.RandomGaussianNoise(std=c.noise_std, p=c.noise),
        K.RandomJPEG(jpeg_quality=c.jpeg_quality, p=c.jpeg),
        data_keys=["input", "keypoints"],
    )


def resnet18_step(batch: int, size: int):
    import torchvision

    net = torchvision.models.resnet18(num_classes=len(BODYPARTS))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size)

    def step():
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()

    return step


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, s = args.batch, args.size
    images = torch.rand(b, 3, s, s)
    keypoints = torch.rand(b, len(BODYPARTS), 2) * (s - 1)
    defaults = AugmentConfig()
    all_on = AugmentConfig.from_dict({**defaults.to_dict(), **ALL_ON})
    augmenters = {label: (Augmenter(c, BODYPARTS), kornia_reference(c, s))
                  for label, c in (("defaults", defaults), ("every op p=1", all_on))}
    runs = {}
    for label, (ours, reference) in augmenters.items():
        runs[f"poseloop, {label}"] = lambda f=ours: f(images, keypoints)
        runs[f"kornia.augmentation, {label}"] = lambda f=reference: f(images, keypoints)
    runs["ResNet-18 train step"] = resnet18_step(b, s)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    step = med["ResNet-18 train step"]
    print(f"batch {b}, {s}x{s}, {args.threads} thread(s), "
          f"median of {args.repeats} alternating runs")
    for name, t in med.items():
        extra = "" if t is step else f"  = {t / step:6.1%} of a ResNet-18 step"
        print(f"  {name:36s} {t * 1000:8.1f} ms  {b / t:8.1f} images/s{extra}")
    for label in ("defaults", "every op p=1"):
        ratio = med[f"kornia.augmentation, {label}"] / med[f"poseloop, {label}"]
        print(f"  speed-up over kornia.augmentation ({label}): {ratio:.1f}x")


if __name__ == "__main__":
    main()
