"""Speed of the streaming runtime, measured in one run.

1. Batch: bare model forward (``PoseModel.predict_frames`` on frames already in memory,
   at its fastest batch size of 1-16 and thread count, from ``--threads`` up to every
   core, since analyze's decoding runs in a process of its own) vs ``poseloop analyze``
   (source -> inference -> recorder processes) on the same frames with the same
   artifact, alternating the two, at 320x240 and 640x480; prints frames/s medians and
   their ratio. Both leave out the network's first (warm-up) batch; pipeline frames/s
   comes from the recorder's timestamps, so the one-off process start and model load are
   printed apart.
2. Live: one synthetic camera at 30 fps, end-to-end latency (capture stamp to
   recorded pose) p50/p99 and the share of frames skipped.
3. Four synthetic cameras at 30 fps into one inference node.

The model is a ResNet-18 trunk (random weights) with a stride-8 heatmap +
location-refinement head, exported with ``train.model.artifact.export_model``. analyze's
inference node runs ``--threads`` torch threads (default 1).

    python tools/bench_stream.py [--threads 1] [--batch 8] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stream.batch import analyze_videos  # noqa: E402
from stream.recording import read_recording, recording_path  # noqa: E402
from stream.supervisor import run_rig  # noqa: E402
from train.data.video import VideoReader, write_video  # noqa: E402
from train.model.artifact import ModelMeta, PoseModel, export_model  # noqa: E402
from train.model.decode import HeatmapDecoder  # noqa: E402
from train.synth.animal import SynthConfig, SyntheticAnimal  # noqa: E402

BODYPARTS = ["snout", "left_ear", "right_ear", "neck", "back", "tail_base", "tail_tip"]


class ResNet18Stride8(nn.Module):
    """ResNet-18 to layer3 (stride 16), one 2x deconvolution (stride 8), 1x1 heads."""

    def __init__(self, k: int):
        super().__init__()
        import torchvision

        r = torchvision.models.resnet18(weights=None)
        self.trunk = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3)
        self.up = nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1)
        self.heat = nn.Conv2d(128, k, 1)
        self.locref = nn.Conv2d(128, 2 * k, 1)
        self.decoder = HeatmapDecoder(8, locref_std=7.2)

    def forward(self, x):
        y = torch.relu(self.up(self.trunk(x)))
        return self.decoder(self.heat(y), self.locref(y))


def make_model(folder: Path) -> Path:
    torch.manual_seed(0)
    meta = ModelMeta(
        bodyparts=BODYPARTS,
        scorer="DLC_resnet18_bench",
        stride=8,
        net_type="resnet_18",
        min_size=32,
    )
    return export_model(
        ResNet18Stride8(len(BODYPARTS)).eval(), meta, folder / "resnet18.pt2", example_hw=(256, 256)
    )


def make_video(folder: Path, width: int, height: int, n: int) -> Path:
    animal = SyntheticAnimal(SynthConfig(width=width, height=height, n_frames=n, fps=30.0, seed=1))
    path = folder / f"synth_{width}x{height}.mp4"
    write_video(path, (animal.render(i) for i in range(n)), fps=30.0)
    return path


BARE_BATCHES = (1, 2, 4, 8, 16)


def bare_threads(threads: int) -> list[int]:
    """Thread counts tried for the bare forward: analyze's own and every core."""
    return sorted({threads, os.cpu_count() or 1})


def bare_fps(model: PoseModel, frames: np.ndarray, batch: int) -> float:
    model.predict_frames(list(frames[:batch]))  # warm-up
    t = time.perf_counter()
    for i in range(0, len(frames), batch):
        model.predict_frames(list(frames[i : i + batch]))
    return len(frames) / (time.perf_counter() - t)


def pipeline_fps(model_path: Path, video: Path, out: Path, args) -> tuple[float, float]:
    """(steady frames/s, wall seconds including process start and model load).

    Steady: frames after the first batch / time from the first batch recorded to the
    last, so the network's first (warm-up) call is left out as in :func:`bare_fps`.
    """
    t = time.perf_counter()
    analyze_videos(
        model_path,
        [video],
        destfolder=out,
        batch_size=args.batch,
        device=args.device,
        threads=args.threads,
        progress=False,
        recordings=out,
    )
    wall = time.perf_counter() - t
    t_record = read_recording(recording_path(out, "video0"))["t_record"]
    b = args.batch
    return (len(t_record) - b) / ((t_record[-1] - t_record[b - 1]) / 1e9), wall


def best_bare_fps(model: PoseModel, frames: np.ndarray, args) -> tuple[float, str]:
    """The fastest bare forward over batch sizes and thread counts, and its setting."""
    runs = {}
    for threads in bare_threads(args.threads):
        torch.set_num_threads(threads)
        for batch in BARE_BATCHES:
            runs[f"batch {batch}, {threads} thread(s)"] = bare_fps(model, frames, batch)
    torch.set_num_threads(args.threads)
    best = max(runs, key=runs.get)
    return runs[best], best


def bench_batch(model_path: Path, tmp: Path, args) -> None:
    print(
        f"\n== batch: best bare forward (batch {BARE_BATCHES}, threads "
        f"{bare_threads(args.threads)}) vs poseloop analyze (batch {args.batch}, "
        f"{args.threads} torch thread(s), {args.device}) =="
    )
    model = PoseModel(model_path, args.device)
    for (w, h), n in (((320, 240), args.frames_small), ((640, 480), args.frames_large)):
        video = make_video(tmp, w, h, n)
        with VideoReader(video) as reader:
            frames = np.stack(list(reader))
        bare, pipe, walls, settings = [], [], [], []
        for r in range(args.repeats):
            # the honest reference: the bare forward's fastest setting, not ours
            fps, setting = best_bare_fps(model, frames, args)
            bare.append(fps)
            settings.append(setting)
            fps, wall = pipeline_fps(model_path, video, tmp / f"out_{w}_{r}", args)
            pipe.append(float(fps))
            walls.append(wall)
        b, p = statistics.median(bare), statistics.median(pipe)
        print(
            f"{w}x{h}, {n} frames: bare {b:.2f} fps, analyze {p:.2f} fps, ratio {p / b:.3f} "
            f"(runs bare {[round(x, 2) for x in bare]}, analyze {[round(x, 2) for x in pipe]}; "
            f"analyze wall incl. start {statistics.median(walls):.1f} s; fastest bare: "
            f"{', '.join(sorted(set(settings)))})"
        )


def live_rig(
    tmp: Path, model_path: Path, cameras: int, w: int, h: int, seconds: float, args
) -> Path:
    n = int(30 * seconds)
    text = 'mode = "live"\n'
    for c in range(cameras):
        text += (
            f'[[source]]\nname = "cam{c}"\nkind = "synthetic"\nfps = 30\nmax_frames = {n}\n'
            f"width = {w}\nheight = {h}\nseed = {c}\n"
        )
    inputs = ", ".join(f'"cam{c}"' for c in range(cameras))
    text += (
        f'[[inference]]\nname = "pose"\nmodel = "{model_path}"\ninputs = [{inputs}]\n'
        f'device = "{args.device}"\nbatch_size = {cameras}\nmax_wait_ms = 5\n'
        f"threads = {args.threads}\n"
        f'[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec_{cameras}_{w}"\n'
    )
    path = tmp / f"live_{cameras}_{w}.toml"
    path.write_text(text)
    return path


def bench_live(model_path: Path, tmp: Path, cameras: int, w: int, h: int, args) -> None:
    rig = live_rig(tmp, model_path, cameras, w, h, args.live_seconds, args)
    run_rig(rig, print_stats=False)
    n = int(30 * args.live_seconds)
    lat, done = [], 0
    for c in range(cameras):
        rec = read_recording(recording_path(tmp / f"rec_{cameras}_{w}", f"cam{c}"))
        lat.append((rec["t_record"] - rec["t_capture"]) / 1e6)
        done += len(rec["index"])
    lat = np.concatenate(lat)
    p50, p99 = np.percentile(lat, [50, 99])
    print(
        f"{cameras} camera(s) {w}x{h} at 30 fps for {args.live_seconds:.0f} s: latency p50 "
        f"{p50:.1f} ms p99 {p99:.1f} ms; processed {done} of {n * cameras} frames "
        f"({done / args.live_seconds:.1f} poses/s, {100 * (1 - done / (n * cameras)):.0f}% skipped)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames-small", type=int, default=96)
    parser.add_argument("--frames-large", type=int, default=32)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["batch", "live", "four"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as d:
        tmp = Path(d)
        model_path = make_model(tmp)
        print(
            f"model: ResNet-18 stride-8 heatmap net, {len(BODYPARTS)} bodyparts, random weights; "
            f"torch {torch.__version__}, {args.threads} thread(s)"
        )
        if "batch" not in args.skip:
            bench_batch(model_path, tmp, args)
        if "live" not in args.skip:
            print("\n== live: end-to-end latency (capture stamp to recorded pose) ==")
            bench_live(model_path, tmp, 1, 320, 240, args)
            bench_live(model_path, tmp, 1, 640, 480, args)
        if "four" not in args.skip:
            print("\n== live: four synthetic cameras into one inference node ==")
            bench_live(model_path, tmp, 4, 320, 240, args)


if __name__ == "__main__":
    main()
