"""Speed of the synthetic animal on one core: render-only and render + mp4 encode, frames/s.

Usage: python tools/bench_synth.py [--frames 600] [--size 320x240] [--repeats 5]
Prints the median over repeats of each measurement (alternated within one run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    from train.synth.animal import SynthConfig, SyntheticAnimal, write_synthetic_video

    w, h = (int(v) for v in args.size.split("x"))
    config = SynthConfig(width=w, height=h, n_frames=args.frames)
    render, write, setup = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            animal = SyntheticAnimal(config)
            t1 = time.perf_counter()
            for i in range(args.frames):
                animal.render(i)
            t2 = time.perf_counter()
            write_synthetic_video(Path(tmp) / "bench.mp4", config, progress=False)
            t3 = time.perf_counter()
            setup.append(t1 - t0)
            render.append(args.frames / (t2 - t1))
            write.append(args.frames / (t3 - t2))
    print(f"synthetic animal {w}x{h}, {args.frames} frames, 1 OpenCV thread, "
          f"median of {args.repeats}")
    print(f"  simulate clip:          {statistics.median(setup):.3f} s")
    print(f"  render:                 {statistics.median(render):.0f} frames/s")
    print(f"  render + mp4 + truth:   {statistics.median(write):.0f} frames/s")


if __name__ == "__main__":
    main()
