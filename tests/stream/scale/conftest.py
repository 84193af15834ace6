"""A real Ray cluster on loopback for the scale-out tests: a head and two worker nodes
started with ``ray start`` (one CPU each, object store capped), and every process it
started stopped at the end, by process id."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stream.scale.cluster import LOCAL_NODE_IP, child_processes
from stream.scale.ledger import VideoJob, open_jobs
from stream.scale.parts import part_key, part_path, split_frames
from stream.scale.worker import RangeTask, run_range

STORE_BYTES = 80 << 20  # Ray's minimum object store is 75 MiB
START_TIMEOUT_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in child_processes(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class RayCluster:
    address: str
    temp_dir: Path
    nodes: list[subprocess.Popen] = field(default_factory=list)  # head first
    stale: list[subprocess.Popen] = field(default_factory=list)  # nodes that gave up

    @property
    def workers(self) -> list[subprocess.Popen]:
        return self.nodes[1:]

    def processes(self) -> list[int]:
        nodes = [*self.nodes, *self.stale]
        return [pid for node in nodes for pid in [node.pid, *descendants(node.pid)]]

    def stop(self) -> None:
        """SIGTERM each node's process group, then SIGKILL whatever of it is left."""
        pids = self.processes()
        for node in [*self.nodes, *self.stale]:
            with _ignore_gone():
                os.killpg(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:  # Ray's worker processes sit in process groups of their own
            with _ignore_gone():
                os.kill(pid, signal.SIGKILL)
        for node in [*self.nodes, *self.stale]:
            node.wait()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in pids if alive(p)]
        assert not left, f"Ray processes left running: {left}"


class _ignore_gone:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is ProcessLookupError


def _ray_start(args: list[str], cpus: int, log: Path) -> subprocess.Popen:
    ray = str(Path(sys.executable).with_name("ray"))
    with open(log, "wb") as out:
        return subprocess.Popen(
            [ray, "start", "--block", "--disable-usage-stats", f"--num-cpus={cpus}",
             f"--object-store-memory={STORE_BYTES}", f"--node-ip-address={LOCAL_NODE_IP}",
             f"--node-manager-port={_free_port()}", f"--object-manager-port={_free_port()}",
             f"--dashboard-agent-listen-port={_free_port()}",
             f"--dashboard-agent-grpc-port={_free_port()}",
             f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}",
             *args],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _alive_nodes(ray) -> int:
    return sum(n["Alive"] for n in ray.nodes())


@pytest.fixture(scope="session", autouse=True)
def ray_env():
    """Every Ray process of the tests (nodes and drivers) shares one token, and none
    reports usage statistics."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield


@pytest.fixture(scope="module")
def ray_cluster(ray_env) -> RayCluster:
    """A head (no CPU for tasks) and two one-CPU worker nodes, all on loopback."""
    import ray

    temp = Path(tempfile.mkdtemp(prefix="pt-ray-", dir="/tmp"))  # short: Ray's socket paths
    port = _free_port()
    cluster = RayCluster(f"{LOCAL_NODE_IP}:{port}", temp)
    try:
        cluster.nodes.append(_ray_start(
            ["--head", f"--port={port}", f"--temp-dir={temp}", "--include-dashboard=false"],
            0, temp / "head.log"))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection((LOCAL_NODE_IP, port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or cluster.nodes[0].poll() is not None:
                    raise RuntimeError((temp / "head.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            # one node at a time, and again if it gives up: Ray allows a node 30 s to
            # register, which a busy machine can exceed
            for i in range(2):
                for _ in range(3):
                    node = _ray_start([f"--address={cluster.address}"], 1,
                                      temp / f"worker{i}.log")
                    cluster.stale.append(node)  # until it is up: stopped at the end either way
                    while _alive_nodes(ray) < i + 2 and node.poll() is None:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"Ray nodes not up after {START_TIMEOUT_S:.0f} s")
                        time.sleep(0.3)
                    if node.poll() is None:
                        cluster.stale.remove(node)
                        cluster.nodes.append(node)
                        break
                else:
                    raise RuntimeError((temp / f"worker{i}.log").read_text()[-2000:])
        finally:
            ray.shutdown()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(temp, ignore_errors=True)


def run_ranges(model, video: Path, out: Path, scorer: str, chunk: int,
               batch_size: int = 4) -> tuple[VideoJob, list[tuple[int, int]], dict]:
    """Analyze `video` in ranges of about `chunk` frames as cluster workers do, each into its
    part file under `out`; the job, its ranges and the parts' key (to join them)."""
    (job,), _ = open_jobs([video], scorer, out)
    key = part_key(job, "digest", scorer, batch_size, "cpu")
    ranges = split_frames(job.frames, chunk, batch_size)
    for a, b in ranges:
        run_range(model, RangeTask(str(video), str(part_path(job.table, a, b)), a, b, key))
    return job, ranges, key
