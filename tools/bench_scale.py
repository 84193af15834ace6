"""Analysis at scale on this machine: the same videos through this machine's batch
pipeline (``--cluster none``) and through local Ray with one and with two workers.

Prints, for each, the job's wall time and frames/s (with and without starting Ray),
and for Ray: the start time, each worker's model load, and the per-video overhead
(scheduling, part files, join and table write): ``(wall - Ray start - model load -
worker time / workers) / videos``, worker time being what workers spent decoding and
running the network on each range (not printed for the pipeline, whose videos overlap
in its processes). Runs alternate and medians are printed. Every run
must give the same poses, bit for bit. Torch runs with ``--threads`` threads per worker
(and in the pipeline's inference process).

Model and videos as in ``tools/bench_stream.py``: a ResNet-18 trunk with a stride-8 head
(random weights), synthetic-animal videos.

    python tools/bench_scale.py [--videos 6] [--frames 48] [--size 320x240] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import make_model, make_video  # noqa: E402

from stream.scale.job import analyze_job  # noqa: E402
from stream.scale.report import DONE, JobTiming  # noqa: E402
from train.data.tables import read_analysis  # noqa: E402


def run(model: Path, videos: list[Path], out: Path, args, **how) -> tuple[JobTiming, list]:
    timing = JobTiming()
    results = analyze_job(model, videos, destfolder=out, batch_size=args.batch,
                          threads=args.threads, progress=False, timing=timing, **how)
    bad = [r for r in results if r.status != DONE]
    if bad:
        raise SystemExit(f"bench: {bad[0].video}: {bad[0].status} {bad[0].error}")
    return timing, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    configs = {
        "pipeline (no Ray)": {"cluster": "none"},
        "Ray, 1 worker": {"cluster": "local", "workers": 1, "chunk_frames": 0},
        "Ray, 2 workers": {"cluster": "local", "workers": 2, "chunk_frames": 0},
    }
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp_name:
        tmp = Path(tmp_name)
        model = make_model(tmp)
        first = make_video(tmp, w, h, args.frames)
        videos = []
        for i in range(args.videos):
            videos.append(tmp / "videos" / f"v{i}.mp4")
            videos[-1].parent.mkdir(exist_ok=True)
            shutil.copy(first, videos[-1])
        frames = args.videos * args.frames
        print(f"{args.videos} videos x {args.frames} frames {w}x{h}, batch {args.batch}, "
              f"{args.threads} torch thread(s) per worker")
        stats: dict[str, list[tuple[float, float, float, float]]] = {c: [] for c in configs}
        reference = None
        for r in range(args.repeats):
            for name, how in configs.items():
                out = tmp / f"out-{r}-{len(stats[name])}-{how.get('workers', 0)}"
                timing, results = run(model, videos, out, args, **how)
                poses = np.stack([read_analysis(x.table)[0].data for x in results])
                if reference is None:
                    reference = poses
                if not np.array_equal(poses, reference):
                    raise SystemExit(f"bench: {name} gave other poses than the first run")
                shutil.rmtree(out)
                work = sum(x.seconds for x in results)
                load = max(timing.load_s, default=0.0)
                per_video = (timing.wall_s - timing.start_s - load
                             - work / max(timing.workers, 1)) / args.videos
                stats[name].append((timing.wall_s, timing.start_s, load, per_video))
        print(f"{'':20s} {'wall s':>8s} {'frames/s':>9s} {'w/o start':>10s} "
              f"{'Ray start s':>11s} {'model load s':>12s} {'per-video s':>11s}")
        for name, rows in stats.items():
            wall, start, load, per_video = (statistics.median(c) for c in zip(*rows, strict=True))
            if configs[name]["cluster"] == "none":
                start = load = per_video = float("nan")
            started = wall - (0.0 if np.isnan(start) else start)
            print(f"{name:20s} {wall:8.2f} {frames / wall:9.2f} {frames / started:10.2f} "
                  f"{start:11.2f} {load:12.2f} {per_video:11.3f}")
        print("poses identical across every run: yes")


if __name__ == "__main__":
    main()
