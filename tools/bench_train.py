"""Training throughput of poseloop's trainer against a bare PyTorch loop.

Both sides train the same network (by default the one the training defaults choose for a
CPU) at the same batch size, input size and memory format with the same thread count,
without augmentation. The bare loop feeds one random normalized tensor
that is already in memory (forward, the same loss on fixed targets, backward, AdamW
step); the trainer goes its whole way per batch: uint8 images in memory, crops around
the labeled points, conversion and normalization, targets, loss, step, logging. Rounds
alternate between the two; medians of samples/s are compared.

    python tools/bench_train.py --batch 8 --size 192 192 --threads 1 [--net resnet_18]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from train.model.dataset import LabeledImages
from train.model.defaults import choose_config
from train.model.network import PoseNet, build_network
from train.model.targets import make_targets, pose_loss
from train.model.train_config import ModelDir, TrainConfig
from train.model.trainer import Trainer, normalize

K = 4


def bare_loop(net: PoseNet, config: TrainConfig, size: tuple[int, int], iters: int,
              device: torch.device):
    """A closure running `iters` plain steps on one random batch on `device` (bfloat16
    autocast on CUDA when the config uses AMP, as the trainer does there); returns samples/s."""
    net = net.to(device)
    x = normalize(torch.rand(config.batch_size, 3, *size, device=device))
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    kp = torch.rand(config.batch_size, K, 2, device=device) * torch.tensor([size[1], size[0]],
                                                                           device=device)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    with torch.no_grad():
        out_hw = net(x[:1])[0].shape[2:]
    targets = make_targets(kp, out_hw, config.stride, config.sigma, config.locref_std,
                           config.locref_radius)
    amp = device.type == "cuda" and config.amp

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(iters):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                heat, locref = net(x)
            h, lo = pose_loss(heat, locref, targets, config.locref_weight)
            loss = config.heatmap_weight * h + lo
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return iters * config.batch_size / (time.perf_counter() - t0)

    return run


def trainer_loop(config: TrainConfig, size: tuple[int, int], iters: int, folder: Path):
    """A closure running one trainer epoch of `iters` batches; returns samples/s."""
    rng = np.random.default_rng(0)
    h, w = size
    n = iters * config.batch_size
    images = [rng.integers(0, 256, (h + 32, w + 32, 3), dtype=np.uint8) for _ in range(n)]
    keypoints = (rng.random((n, K, 2)) * 0.5 + 0.25) * (w + 32, h + 32)
    data = LabeledImages([f"img{i}.png" for i in range(n)], images, keypoints.astype(np.float32))
    model_dir = ModelDir(folder, folder, 1, 0.95)
    trainer = Trainer(config, tuple(f"bp{i}" for i in range(K)), model_dir, data, data,
                      progress=False)
    bar = tqdm(disable=True)

    def run() -> float:
        t0 = time.perf_counter()
        trainer._train_epoch(bar)
        return n / (time.perf_counter() - t0)

    return trainer, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", help="another net than the CPU default's")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=(192, 192), metavar=("H", "W"))
    parser.add_argument("--iters", type=int, default=4, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(args.size)
    given = dict(weights="none", batch_size=args.batch, crop_size=list(size), device=args.device,
                 augment=None, threads=args.threads, **({"net": args.net} if args.net else {}))
    keypoints = np.full((1, K, 2), size[0] / 2, np.float32)
    config, _ = choose_config(given, torch.device(args.device), keypoints, size, ())
    with tempfile.TemporaryDirectory() as tmp:
        trainer, ours = trainer_loop(config, size, args.iters, Path(tmp))
        torch.manual_seed(0)
        bare = bare_loop(build_network(config, K), config, size, args.iters,
                         torch.device(args.device))
        ours(), bare()  # warm-up
        rates: dict[str, list[float]] = {"trainer": [], "bare": []}
        for r in range(args.rounds):
            order = (("trainer", ours), ("bare", bare)) if r % 2 == 0 else (("bare", bare),
                                                                            ("trainer", ours))
            for name, fn in order:
                rates[name].append(fn())
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"net {config.net} (stride {config.stride}), batch {args.batch}, "
          f"input {size[0]}x{size[1]}, {args.threads} thread(s), "
          f"{args.rounds} alternating rounds of {args.iters} steps")
    for name, values in rates.items():
        print(f"  {name:8s} median {med[name]:7.2f} samples/s  "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    print(f"ratio trainer / bare = {med['trainer'] / med['bare']:.3f}")


if __name__ == "__main__":
    main()
