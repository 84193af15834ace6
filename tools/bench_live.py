"""Frame-to-pose latency of the deployable model, per backend, network and frame size.

One line per case: backend (PyTorch, ONNX Runtime), network (each exported with the CPU
training default's head: stride 4, 64 channels, undilated; at the given input scale,
random weights; or a trained artifact given with ``--model``), frame size (320x240,
640x480). Frames are rendered synthetic-animal frames already in memory, sent one at a
time (batch 1, as a live camera delivers them); latency is the wall time of one call,
uint8 frame in, poses in frame pixels out, preprocessing and decoding included. Every
backend runs with the same thread count (``--threads``, default 1). The first calls
(graph building, warm-up) are left out. Run it with ``measure`` so that it has a core of
its own.

    measure python tools/bench_live.py [--threads 1] [--frames 60]
        [--nets resnet_18@1 mobilenet_v3@0.5 ...] [--model trained.pt2 ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.model.artifact import BACKENDS, ModelMeta, export_model, load_model  # noqa: E402
from train.model.network import DeployNet, build_network  # noqa: E402
from train.model.train_config import TrainConfig  # noqa: E402
from train.synth.animal import SynthConfig, SyntheticAnimal  # noqa: E402

SIZES = ((320, 240), (640, 480))
DEFAULT_NETS = ("resnet_18@1", "resnet_18@0.5", "mobilenet_v3@0.5", "mobilenet_v3_small@0.5",
                "efficientnet_b0@0.5")


def untrained(net_scale: str, folder: Path) -> Path:
    """An artifact of `net@scale` with the CPU default's head, random weights."""
    net, scale = net_scale.split("@")
    config = TrainConfig(net=net, weights="none", stride=4, dilate=False, head_channels=64,
                         input_scale=float(scale))
    torch.manual_seed(0)
    deploy = DeployNet(build_network(config, 4, weights="none"), config.locref_std).eval()
    meta = ModelMeta(bodyparts=["snout", "leftear", "rightear", "tailbase"], scorer="bench",
                     stride=config.stride, input_scale=float(scale), net_type=net, min_size=64)
    return export_model(deploy, meta, folder / f"{net}_{scale}.pt2", example_hw=(256, 320))


def frames(width: int, height: int, n: int) -> np.ndarray:
    animal = SyntheticAnimal(SynthConfig(width=width, height=height, n_frames=n, seed=3))
    return np.stack([animal.render(i) for i in range(n)])


def latencies(model, clip: np.ndarray, warmup: int = 5) -> np.ndarray:
    """Milliseconds per one-frame call, warm-up calls left out."""
    out = []
    for i, frame in enumerate(clip):
        t = time.perf_counter()
        model(frame[None])
        if i >= warmup:
            out.append((time.perf_counter() - t) * 1e3)
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=60, help="timed frames per case")
    parser.add_argument("--nets", nargs="*", default=list(DEFAULT_NETS),
                        help="NET@INPUT_SCALE, random weights (default: %(default)s)")
    parser.add_argument("--model", nargs="*", default=[], type=Path, help="trained artifacts")
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clips = {size: frames(*size, args.frames + 5) for size in SIZES}
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch 1, "
          f"{args.frames} timed frames per case")
    print(f"{'network':32} {'backend':12} {'frames':8} {'p50 ms':>7} {'p99 ms':>7} {'fps':>6}")
    with tempfile.TemporaryDirectory(prefix="bench-live-") as d:
        cases = [(n, untrained(n, Path(d))) for n in args.nets]
        cases += [(f"{p.stem} (trained)", p) for p in args.model]
        for name, path in cases:
            for backend in args.backends:
                model = load_model(path, "cpu", backend=backend, threads=args.threads)
                for (w, h), clip in clips.items():
                    lat = latencies(model, clip)
                    p50, p99 = np.percentile(lat, [50, 99])
                    print(f"{name:32} {backend:12} {w}x{h:<4} {p50:7.1f} {p99:7.1f} "
                          f"{1e3 / p50:6.1f}", flush=True)


if __name__ == "__main__":
    main()
