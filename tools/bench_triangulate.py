"""Triangulation speed and accuracy on the virtual rig (issue 5, item 8).

Prints points per second of the weighted DLT (goal >= 1e6 for 4 cameras on a 2-core CPU)
and of the robust variant (goal >= 1e5), each the median of alternating repeats in one run
with one torch-free numpy thread setting, plus the accuracy ratios of the tests: RMSE over
the Cramer-Rao bound with equal and with likelihood-dependent noise, and the share of points
off by more than 5x the median with 10% wrong views.

    OPENBLAS_NUM_THREADS=1 python tools/bench_triangulate.py [--points 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # same thread count for every method
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from calib.triangulate import (
    Triangulator,  # noqa: E402
    cramer_rao_rmse,  # noqa: E402
)
from calib.virtual_rig import (
    arena_points,  # noqa: E402
    make_rig,  # noqa: E402
)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, -1))))


def accuracy(rig, a2w, n: int, seed: int) -> dict[str, float]:
    cams = rig.cameras
    rng = np.random.default_rng(seed)
    pts = arena_points(a2w, n, seed)
    truth = np.stack([c.project(pts) for c in cams])
    tri = Triangulator(cams)
    out = {}
    ones = np.ones((len(cams), n))
    res = tri.triangulate(truth + rng.normal(0, 1, truth.shape))
    out["equal noise RMSE / CRB (goal <= 1.02)"] = (
        rmse(res.xyz, pts) / cramer_rao_rmse(cams, pts, ones))
    lik = rng.uniform(0.2, 1.0, ones.shape)
    res = tri.triangulate(truth + rng.normal(0, 1, truth.shape) / lik[..., None], lik)
    out["likelihood noise RMSE / CRB (goal <= 1.05)"] = (
        rmse(res.xyz, pts) / cramer_rao_rmse(cams, pts, 1 / lik))
    noisy = truth + rng.normal(0, 1, truth.shape)
    wrong = rng.random(ones.shape) < 0.1
    noisy[wrong] = rng.uniform([0, 0], cams[0].size, (int(wrong.sum()), 2))
    res = tri.triangulate(noisy, robust=True)
    err = np.linalg.norm(res.xyz - pts, axis=1)
    returned = np.isfinite(err)
    off = err[returned] > 5 * np.median(err[returned])
    out["10% wrong views: share of points returned off > 5x median (goal <= 0.005)"] = (
        off.sum() / n)
    out["10% wrong views: share missing (fewer than 2 consistent views)"] = 1 - returned.mean()
    out["10% wrong views: share with fewer than 2 good views (unrecoverable)"] = float(
        ((~wrong).sum(0) < 2).mean())
    return out


def speed(tri: Triangulator, pixels: np.ndarray, lik: np.ndarray, repeats: int) -> dict:
    """Median points/s per method, the methods alternating within each repeat."""
    n = pixels.shape[1]
    n_robust = n // 10
    times: dict[str, list[float]] = {"weighted DLT": [], "robust": []}
    tri.triangulate(pixels[:, :5000], lik[:, :5000])  # build the undistortion tables
    for _ in range(repeats):
        t = time.perf_counter()
        tri.triangulate(pixels, lik, pcutoff=0.1)
        times["weighted DLT"].append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        tri.triangulate(pixels[:, :n_robust], lik[:, :n_robust], pcutoff=0.1, robust=True)
        times["robust"].append(n_robust / (time.perf_counter() - t))
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=4)
    args = parser.parse_args()
    rig, a2w = make_rig(args.cameras, seed=1)
    pts = arena_points(a2w, args.points, seed=0)
    rng = np.random.default_rng(0)
    pixels = np.stack([c.project(pts) for c in rig.cameras])
    pixels += rng.normal(0, 1, pixels.shape)
    lik = rng.uniform(0.2, 1.0, pixels.shape[:2])
    rates = speed(Triangulator(rig.cameras), pixels, lik, args.repeats)
    print(f"{args.cameras} cameras, {os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}, median of {args.repeats} alternating runs")
    print(f"  weighted DLT: {rates['weighted DLT']:12.0f} points/s  (goal >= 1e6, "
          f"{args.points} points per call, undistortion included)")
    print(f"  robust:       {rates['robust']:12.0f} points/s  (goal >= 1e5, "
          f"{args.points // 10} points per call)")
    print(f"  robust / weighted DLT time per point: {rates['weighted DLT'] / rates['robust']:.1f}x")
    for name, value in accuracy(rig, a2w, 20000, seed=1).items():
        print(f"  {name}: {value:.4f}")


if __name__ == "__main__":
    main()
