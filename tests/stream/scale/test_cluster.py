"""Analysis on a real Ray cluster (a head and two workers on loopback)."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from stream.scale.job import analyze_job
from stream.scale.report import DONE, FAILED, SKIPPED
from stream.scale.worker import analyze_range
from tests.stream.conftest import write_random_video
from tests.stream.scale.conftest import cmdline
from train.data.tables import read_analysis
from train.model.artifact import PoseModel


def _kill_a_running_range(cluster, timeout_s: float = 120.0) -> int:
    """SIGKILL the first worker process seen analyzing a range; its pid."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in cluster.processes():
            if cmdline(pid).startswith("ray::RangeWorker.run"):
                time.sleep(0.3)  # well inside the range (about a second of frames)
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    raise AssertionError("no worker was seen analyzing a range")


def test_a_killed_worker_costs_a_retry_and_every_video_finishes_once(
    ray_cluster, slow_model, tmp_path
):
    videos = [write_random_video(tmp_path / f"v{i}.mp4", 96, i, (120, 160)) for i in range(3)]
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    out: dict = {}

    def job():
        out["results"] = analyze_job(slow_model, [tmp_path], destfolder=tmp_path / "out",
                                     cluster=ray_cluster.address, chunk_frames=48,
                                     batch_size=8, progress=False)

    thread = threading.Thread(target=job)
    thread.start()
    killed = _kill_a_running_range(ray_cluster)
    thread.join(300)
    assert not thread.is_alive() and "results" in out
    results = out["results"]
    assert [r.video for r in results] == sorted([*videos, bad])
    by = {r.video: r for r in results}
    assert by[bad].status == FAILED and "broken.mp4" in by[bad].error
    assert sum(by[v].retries for v in videos) >= 1, f"killing pid {killed} cost no retry"
    model = PoseModel(slow_model)
    for video in videos:
        r = by[video]
        assert r.status == DONE and r.frames == 96, r
        poses, scorer = read_analysis(r.table)
        expected, _, _ = analyze_range(model, video, 0, 96, 8)
        assert scorer == "DLC_slow" and np.array_equal(poses.data, expected)
    assert not (tmp_path / "out" / ".poseloop-parts").exists()
    assert sorted(p.name for p in (tmp_path / "out").glob("*.h5")) == [
        f"v{i}DLC_slow.h5" for i in range(3)]


def test_cluster_poses_equal_the_single_process_pipeline_split_or_not(
    ray_cluster, tiny_model, tmp_path
):
    video = write_random_video(tmp_path / "v.mp4", 37, 3)
    runs = {
        "single": {"cluster": "none"},
        "split": {"cluster": ray_cluster.address, "chunk_frames": 16},  # 3 ranges
        "whole": {"cluster": ray_cluster.address, "chunk_frames": 0},
    }
    tables = {}
    for name, how in runs.items():
        (result,) = analyze_job(tiny_model, [video], destfolder=tmp_path / name, batch_size=8,
                                progress=False, **how)
        assert result.status == DONE, result
        tables[name] = read_analysis(result.table)[0].data
    assert np.array_equal(tables["split"], tables["single"])
    assert np.array_equal(tables["whole"], tables["single"])
    (again,) = analyze_job(tiny_model, [video], destfolder=tmp_path / "split", progress=False,
                           cluster=ray_cluster.address, chunk_frames=16)
    assert again.status == SKIPPED


def test_local_ray_from_the_command_stops_every_process_it_started(tiny_model, tmp_path,
                                                                   capsys):
    from stream.cli import main as cli
    from tests.stream.scale.conftest import alive, descendants

    for i in range(2):
        write_random_video(tmp_path / f"v{i}.mp4", 20, i)
    before = set(descendants(os.getpid()))
    code = cli(["analyze", str(tiny_model), str(tmp_path), "--cluster", "local", "--workers",
                "2", "--chunk-frames", "8", "--batch-size", "4"])
    assert code == 0
    assert "2 done, 0 skipped (complete), 0 failed" in capsys.readouterr().out
    assert all(read_analysis(tmp_path / f"v{i}DLC_tiny.h5")[0].n_frames == 20 for i in range(2))
    deadline = time.monotonic() + 20
    while any(alive(p) for p in set(descendants(os.getpid())) - before):
        assert time.monotonic() < deadline, "Ray processes outlived the command"
        time.sleep(0.2)


@pytest.mark.gpu
def test_gpu_workers_equal_the_gpu_pipeline(tiny_model, tmp_path):
    video = write_random_video(tmp_path / "v.mp4", 37, 4)
    tables = {}
    for name, how in {"single": {"cluster": "none", "device": "cuda:0"},
                      "ray": {"cluster": "local", "device": "cuda", "chunk_frames": 16}}.items():
        (result,) = analyze_job(tiny_model, [video], destfolder=tmp_path / name, batch_size=8,
                                progress=False, **how)
        assert result.status == DONE, result
        tables[name] = read_analysis(result.table)[0].data
    assert np.array_equal(tables["ray"], tables["single"])
