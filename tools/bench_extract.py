"""Benchmark: k-means frame extraction's streaming pass against decoding every frame.

Prints the medians of alternated runs and their ratio, and the peak traced memory of
the k-means pass. Usage: python tools/bench_extract.py [VIDEO] [--runs 3]
(default video: ../shared/data/openfield/videos/m3v1mp4.mp4, else a synthetic clip).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train.data.video import VideoReader, write_video  # noqa: E402
from train.label.extract import pick_kmeans  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "openfield" / "videos" / "m3v1mp4.mp4"


def decode_all(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def kmeans_pass(path: Path, k: int) -> list[int]:
    with VideoReader(path) as reader:
        return pick_kmeans(reader, range(reader.n_frames), set(), k, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    video = args.video or (DEFAULT if DEFAULT.exists() else None)
    if video is None:
        video = Path(tempfile.mkdtemp()) / "synthetic.mp4"
        rng = np.random.default_rng(0)
        write_video(video, (rng.integers(0, 255, (240, 320, 3), np.uint8) for _ in range(2000)))
    with VideoReader(video) as reader:
        n, size = reader.n_frames, reader.size
    full, ours = [], []
    for _ in range(args.runs):  # alternate so both see the same machine load
        t = time.perf_counter()
        decode_all(video)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        kmeans_pass(video, args.k)
        ours.append(time.perf_counter() - t)
    tracemalloc.start()
    kmeans_pass(video, args.k)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    a, b = statistics.median(full), statistics.median(ours)
    print(f"video {video.name}: {n} frames {size[0]}x{size[1]}, {args.runs} alternated runs")
    print(f"decode every frame : {a:6.2f} s  ({n / a:7.0f} frames/s)")
    print(f"k-means extraction : {b:6.2f} s  ({n / b:7.0f} frames/s)  peak traced memory "
          f"{peak / 1e6:.1f} MB")
    print(f"ratio (decode all / k-means pass): {a / b:.2f}")


if __name__ == "__main__":
    main()
