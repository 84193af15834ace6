"""Live multi-camera 3D: latency of the sync + triangulation stages and the cost of one
triangulated instant, measured in one run on the virtual rig.

1. Per instant: the triangulation node's work (calib's weighted DLT on one group of
   C cameras x K bodyparts, turned into a Pose3DMessage), median of repeats.
2. Over ZeroMQ: per-camera 2D poses published at `--fps` into real sync, triangulation
   and recorder processes (live mode); latency = recorder's receive stamp minus the
   poses' capture stamp, p50 / p99, plus partial groups (one camera drops 5% of frames).

    python tools/bench_live3d.py [--cameras 3] [--seconds 10] [--fps 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import zmq  # noqa: E402

from calib.calibration import save_calibration  # noqa: E402
from calib.virtual_rig import WALKING_PARTS as BODYPARTS  # noqa: E402
from calib.virtual_rig import (  # noqa: E402
    make_rig,  # noqa: E402
    observe_points,
    walking_animal,
)
from stream import messages as m  # noqa: E402
from stream.bus import send  # noqa: E402
from stream.node_specs import RecorderSpec, SyncSpec, TriangulateSpec  # noqa: E402
from stream.recording import read_recording, recording3d_path  # noqa: E402
from stream.rig import free_endpoint  # noqa: E402
from stream.supervisor import Supervisor  # noqa: E402
from stream.sync import Grouper  # noqa: E402
from stream.triangulation import Lifter  # noqa: E402


def specs(folder: Path, calibration: Path, cameras: list[str], feed: str):
    sync = SyncSpec("sync", ["pose"], endpoint=free_endpoint(), mode="live",
                    input_endpoints=[feed], cameras=cameras)
    tri = TriangulateSpec("tri", ["sync"], str(calibration), pcutoff=0.5, calib_cameras=cameras,
                          endpoint=free_endpoint(), mode="live",
                          input_endpoints=[sync.endpoint], cameras=cameras)
    rec = RecorderSpec("rec", ["tri"], folder=str(folder / "rec"), flush_s=0.5,
                       input_endpoints=[tri.endpoint], cameras=["tri"], mode="live")
    return sync, tri, rec


def per_instant(tri: TriangulateSpec, cameras: list[str], poses: dict, repeats: int) -> float:
    grouper = Grouper("sync", cameras)
    groups = []
    for i in range(len(next(iter(poses.values())))):
        for cam in cameras:
            pose = m.Pose2DMessage(cam, i, i, i, i, "s", BODYPARTS, poses[cam][i])
            groups += grouper.add(pose, 0.0)
    lifter = Lifter(tri)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for g in groups:
            lifter(g)
        times.append((time.perf_counter() - t) / len(groups))
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out", default="/tmp/bench_live3d")
    args = ap.parse_args()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    rig, arena_to_world = make_rig(args.cameras, seed=1)
    calibration = save_calibration(rig, folder / "calibration.toml")
    cameras = rig.names
    n = int(args.seconds * args.fps)
    poses = observe_points(rig, walking_animal(arena_to_world, n))
    feed = free_endpoint()
    sync, tri, rec = specs(folder, calibration, cameras, feed)

    t_one = per_instant(tri, cameras, poses, repeats=5)
    print(f"triangulate one instant ({args.cameras} cameras x {len(BODYPARTS)} bodyparts): "
          f"{t_one * 1e3:.3f} ms ({1 / t_one:.0f} instants/s)")

    seen: list = []
    sup = Supervisor([("recorder", rec), ("triangulate", tri), ("sync", sync)],
                     free_endpoint(), 1.0, on_message=seen.append, print_stats=False)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(feed)
    runner = threading.Thread(target=sup.run)
    runner.start()
    while not {"sync", "tri", "rec"} <= set(sup.latest):
        time.sleep(0.05)
    time.sleep(0.5)  # subscriptions settle before the first poses are published
    rng = np.random.default_rng(0)
    dropped = 0
    start = time.monotonic()
    for i in range(n):
        time.sleep(max(0.0, start + i / args.fps - time.monotonic()))
        stamp = m.now_ns()
        for cam in cameras:
            if cam == cameras[-1] and rng.random() < 0.05:
                dropped += 1
                continue
            send(pub, m.Pose2DMessage(cam, i, i, stamp, stamp, "s", BODYPARTS, poses[cam][i]))
    for cam in cameras:
        send(pub, m.EndMessage(cam, n - 1))
    runner.join()
    pub.close(linger=0)
    ctx.term()
    out = read_recording(recording3d_path(rec.folder, "tri"))
    lat = (out["t_record"] - out["t_capture"]) / 1e6
    p50, p99 = np.percentile(lat, [50, 99])
    sync_stats = [s for s in seen if isinstance(s, m.StatsMessage) and s.node == "sync"][-1]
    print(f"live {args.fps:.0f} fps, {args.cameras} cameras, {n} instants: {len(lat)} recorded, "
          f"latency capture -> recorded 3D p50 {p50:.1f} ms p99 {p99:.1f} ms; "
          f"{dropped} frames dropped, {sync_stats.totals.get('partial', 0)} partial groups")


if __name__ == "__main__":
    main()
