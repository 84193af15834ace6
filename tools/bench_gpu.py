"""GPU benchmarks in one table (run by ``tools/gpu_check.sh`` on a machine with CUDA).

Rows, all with a ResNet-50 stride-8 pose network (random weights) on 640x480 frames:

- bare forward: ``PoseModel.predict_frames`` on frames already on the host, each batch
  size of ``--batches`` and AMP off/on; the fastest of them is the reference ("best bare");
- ``poseloop analyze`` frames/s at batch 1, 8 and 32 against that best bare forward;
- live latency (capture stamp to recorded pose) p50/p99 for one camera and for four
  cameras at ``--fps`` (default 100) with the dropped frames counted, AMP off and on;
- one-frame latency of the network alone: eager, CUDA graphs (torch.compile
  "reduce-overhead") and torch.compile "max-autotune-no-cudagraphs", so the lowest
  one is known.

    python tools/bench_gpu.py [--device cuda:0] [--frames 256] [--live-seconds 5]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import make_video, pipeline_fps  # noqa: E402

from stream.recording import read_recording, recording_path  # noqa: E402
from stream.supervisor import run_rig  # noqa: E402
from train.data.video import VideoReader  # noqa: E402
from train.model.artifact import ModelMeta, PoseModel, export_model  # noqa: E402
from train.model.network import DeployNet, build_network  # noqa: E402
from train.model.train_config import TrainConfig  # noqa: E402

ROWS: list[tuple[str, str]] = []


def row(what: str, result: str) -> None:
    ROWS.append((what, result))
    print(f"{what:58} {result}", flush=True)


def resnet50(folder: Path) -> Path:
    config = TrainConfig(net="resnet_50", weights="none", stride=8)
    torch.manual_seed(0)
    deploy = DeployNet(build_network(config, 4, weights="none"), config.locref_std).eval()
    meta = ModelMeta(bodyparts=["snout", "leftear", "rightear", "tailbase"], scorer="DLC_bench",
                     stride=8, net_type="resnet_50", min_size=32)
    return export_model(deploy, meta, folder / "resnet50.pt2", example_hw=(256, 320))


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_fps(model: PoseModel, frames: np.ndarray, batch: int) -> float:
    for _ in range(2):
        model.predict_frames(list(frames[:batch]))  # warm-up (cudnn autotune, allocator)
    sync(str(model.device))
    t = time.perf_counter()
    n = 0
    for i in range(0, len(frames) - batch + 1, batch):
        model.predict_frames(list(frames[i:i + batch]))
        n += batch
    return n / (time.perf_counter() - t)


def live(model_path: Path, tmp: Path, cameras: int, args, amp: bool) -> None:
    n = int(args.fps * args.live_seconds)
    text = 'mode = "live"\n'
    for c in range(cameras):
        text += (f'[[source]]\nname = "cam{c}"\nkind = "synthetic"\nfps = {args.fps}\n'
                 f"max_frames = {n}\nwidth = 640\nheight = 480\nseed = {c}\n")
    inputs = ", ".join(f'"cam{c}"' for c in range(cameras))
    folder = f"live_{cameras}_{int(amp)}"
    text += (f'[[inference]]\nname = "pose"\nmodel = "{model_path}"\ninputs = [{inputs}]\n'
             f'device = "{args.device}"\nbatch_size = {cameras}\nmax_wait_ms = 2\n'
             f"amp = {str(amp).lower()}\n"
             f'[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "{folder}"\n')
    rig = tmp / f"{folder}.toml"
    rig.write_text(text)
    run_rig(rig, print_stats=False)
    lat, done = [], 0
    for c in range(cameras):
        rec = read_recording(recording_path(tmp / folder, f"cam{c}"))
        lat.append((rec["t_record"] - rec["t_capture"]) / 1e6)
        done += len(rec["index"])
    p50, p99 = np.percentile(np.concatenate(lat), [50, 99])
    row(f"live {cameras} camera(s) 640x480 at {args.fps:g} fps, AMP {'on' if amp else 'off'}",
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, dropped {n * cameras - done} of {n * cameras}")


def network_latency(model: PoseModel, frame: np.ndarray, args) -> None:
    x = model.preprocess(torch.from_numpy(frame[None]).to(model.device))
    variants = {"eager": model.net}
    for mode in ("reduce-overhead", "max-autotune-no-cudagraphs"):
        try:
            variants[f"torch.compile {mode}"] = torch.compile(model.net, mode=mode)
        except Exception as exc:  # a backend missing on this machine is a result too
            row(f"network alone, torch.compile {mode}", f"unavailable ({exc})")
    for name, fn in variants.items():
        try:
            with torch.inference_mode():
                for _ in range(10):
                    fn(x)
                sync(args.device)
                times = []
                for _ in range(100):
                    t = time.perf_counter()
                    fn(x)
                    sync(args.device)
                    times.append((time.perf_counter() - t) * 1e3)
            p50, p99 = np.percentile(times, [50, 99])
            row(f"network alone, batch 1, {name}", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        except Exception as exc:
            row(f"network alone, batch 1, {name}", f"failed ({type(exc).__name__}: {exc})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8, 32, 64])
    parser.add_argument("--fps", type=float, default=100.0)
    parser.add_argument("--live-seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, {args.device}"
          + (f" ({torch.cuda.get_device_name(args.device)})" if "cuda" in args.device else ""))
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as d:
        tmp = Path(d)
        model_path = resnet50(tmp)
        video = make_video(tmp, 640, 480, args.frames)
        with VideoReader(video) as reader:
            frames = np.stack(list(reader))
        best = 0.0
        for amp in (False, True):
            model = PoseModel(model_path, args.device, amp=amp)
            for b in args.batches:
                fps = bare_fps(model, frames, b)
                best = max(best, fps)
                row(f"bare forward 640x480, batch {b}, AMP {'on' if amp else 'off'}",
                    f"{fps:.1f} frames/s")
        row("best bare forward (reference)", f"{best:.1f} frames/s")
        for b in (1, 8, 32):
            args.batch = b
            fps, wall = pipeline_fps(model_path, video, tmp / f"analyze_{b}", args)
            row(f"analyze 640x480, batch {b}", f"{fps:.1f} frames/s, {fps / best:.2f}x best bare")
        for amp in (False, True):
            live(model_path, tmp, 1, args, amp)
            live(model_path, tmp, 4, args, amp)
        network_latency(PoseModel(model_path, args.device), frames[0], args)
    print("\n| what | result |\n|---|---|")
    for what, result in ROWS:
        print(f"| {what} | {result} |")


if __name__ == "__main__":
    main()
