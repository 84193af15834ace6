"""What every node process shares: its end of the bus (:mod:`stream.bus`) with the link
to the supervisor (stats, logs, end notices), stop requests from signals, and
per-second stats.

A node runs as ``python -m stream.node ROLE SPEC_JSON SUPERVISOR_ENDPOINT INTERVAL
PARENT_PID`` (see :func:`command`); its role module
(:mod:`stream.sources`, :mod:`stream.inference`, :mod:`stream.sync`,
:mod:`stream.triangulation`, :mod:`stream.recorder`, :mod:`stream.viewer.node`,
:mod:`stream.video_recorder`, :mod:`stream.processor`) does the
work in a ``run(spec, node)`` function and returns when its input has ended or a
stop was requested.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import numpy as np
import zmq

from calib.errors import RecordingError
from stream import messages as m
from stream import node_specs as specs
from stream.bus import Bus, StopRequest, offer, send

log = logging.getLogger(__name__)

ROLES = {
    "source": ("stream.sources", specs.SourceSpec),
    "inference": ("stream.inference", specs.InferenceSpec),
    "recorder": ("stream.recorder", specs.RecorderSpec),
    "sync": ("stream.sync", specs.SyncSpec),
    "triangulate": ("stream.triangulation", specs.TriangulateSpec),
    "viewer": ("stream.viewer.node", specs.ViewerSpec),
    "video": ("stream.video_recorder", specs.VideoSpec),
    "processor": ("stream.processor", specs.ProcessorSpec),
}


class StatsMeter:
    """Per-interval frames/s, latency p50/p99 (capture stamp to now), drops and queue depth."""

    def __init__(self, node: Node, interval: float = 1.0):
        self.node = node
        self.interval = interval
        self.totals: dict[str, int] = {}
        self.queue = 0
        self._count = 0
        self._drops = 0
        self._lat_ns: list[int] = []
        self._start = time.monotonic()

    def frame(self, camera: str, t_capture: int | None = None, now: int | None = None) -> None:
        self._count += 1
        self.totals[camera] = self.totals.get(camera, 0) + 1
        if t_capture is not None:
            self._lat_ns.append((now or m.now_ns()) - t_capture)

    def drop(self, n: int = 1) -> None:
        self._drops += n

    def tick(self, force: bool = False) -> None:
        """Publish the interval's stats if it is over (or `force`)."""
        self.node.check_parent()
        elapsed = time.monotonic() - self._start
        if elapsed < self.interval and not force:
            return
        if self._lat_ns:
            p50, p99 = np.percentile(np.asarray(self._lat_ns, np.float64), [50, 99]) / 1e6
        else:
            p50 = p99 = float("nan")
        self.node.publish(
            m.StatsMessage(
                self.node.name,
                m.now_ns(),
                self._count / max(elapsed, 1e-9),
                float(p50),
                float(p99),
                self._drops,
                self.queue,
                dict(self.totals),
                self.node.bus.bad.count,
            )
        )
        self._count = self._drops = 0
        self._lat_ns = []
        self._start = time.monotonic()


class _SupervisorLog(logging.Handler):
    """Sends this process's log records to the supervisor as log messages."""

    def __init__(self, node: Node):
        super().__init__(logging.INFO)
        self.node = node

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)[:16000]
            self.node.publish(m.LogMessage(self.node.name, record.levelno, text))
        except Exception:  # logging must never take the node down
            self.handleError(record)


class Node:
    """A running node: its name, its end of the bus, its stop request and stats meter."""

    def __init__(self, name: str, supervisor_endpoint: str, stats_interval: float = 1.0):
        self.name = name
        self.bus = Bus(name)
        self.stop = StopRequest()
        self.stats = StatsMeter(self, stats_interval)
        self._supervisor = self.bus.to_supervisor(supervisor_endpoint)
        self._supervisor_lock = threading.Lock()
        self.failure: BaseException | None = None  # of a worker thread: the node then fails
        self.parent = 0  # pid of the supervisor (0: not watched)

    def check_parent(self) -> None:
        """Request a stop if the supervisor this node was started by is gone."""
        if self.parent and os.getppid() != self.parent and not self.stop.requested:
            log.warning("%s: its supervisor (pid %d) is gone: stopping", self.name, self.parent)
            self.stop.request()

    def fail(self, exc: BaseException) -> None:
        """A worker thread died: stop, and exit with an error naming `exc`."""
        self.failure = exc
        self.stop.request()

    def publish(self, msg: m.Message) -> None:
        """Send to the supervisor without ever blocking (a full link drops stats).
        Thread-safe: a node's receiver thread may log too."""
        with self._supervisor_lock:
            offer(self._supervisor, msg)

    def send(self, sock: zmq.Socket, msg: m.Message) -> bool:
        """Send with backpressure (block while the consumer is full), waking up to notice
        a stop request: then frames are given up at once and an end message after a second.
        `sock` needs a SNDTIMEO. Returns whether it was sent."""
        give_up = None
        while True:
            try:
                send(sock, msg)
                return True
            except zmq.Again:
                self.stats.tick()
                if self.stop.requested:
                    if not isinstance(msg, m.EndMessage):
                        return False
                    give_up = give_up or time.monotonic() + 1.0
                    if time.monotonic() > give_up:
                        return False

    def ready(self) -> None:
        """Tell the supervisor this node is set up (its first stats message)."""
        self.stats.tick(force=True)

    def close(self) -> None:
        self.stats.tick(force=True)
        # after a stop, a dead peer must not hold the process for the full linger
        self.bus.close(linger=1000 if self.stop.requested else None)


def command(role: str, spec, supervisor_endpoint: str, stats_interval: float) -> list[str]:
    """The command line that runs `spec` as its own OS process (``python -m stream.node``).

    A fresh interpreter, not a fork: no inherited zmq context or torch state, and the
    caller's main module is never re-imported. The spec travels as JSON.
    """
    if role not in ROLES:
        raise ValueError(f"unknown node role {role!r}")
    return [
        sys.executable,
        "-m",
        "stream.node",
        role,
        json.dumps(asdict(spec)),
        supervisor_endpoint,
        str(stats_interval),
        str(os.getpid()),  # the supervisor: the node stops when it is gone
    ]


def pid_alive(pid: int) -> bool:
    """Whether process `pid` is running (a zombie, killed but not yet reaped, is not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def die_with_parent(node: Node, parent: int) -> None:
    """Stop `node` when its supervisor (process `parent`) dies, even by SIGKILL: on Linux
    the kernel sends SIGTERM (a stop request) at once; everywhere, every stats tick
    checks that the parent is still there. An orphan would otherwise run on and write
    over the results of the next run."""
    node.parent = parent
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    node.check_parent()  # it may have died before the prctl above


def run_node(role: str, spec, supervisor_endpoint: str, stats_interval: float = 1.0,
             parent: int = 0) -> int:
    """Run `spec` in its `role` in this process; returns the exit code (1 after an error,
    which is also sent to the supervisor, naming the cause). With `parent`, the node
    stops when that process dies."""
    node = Node(spec.name, supervisor_endpoint, stats_interval)
    node.stop.on_signals()
    if parent:
        die_with_parent(node, parent)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    handler = _SupervisorLog(node)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    code = 0
    try:
        importlib.import_module(ROLES[role][0]).run(spec, node)
        if node.failure is not None:
            raise RuntimeError(f"a worker thread died ({type(node.failure).__name__}: "
                               f"{node.failure})")
    except RecordingError as exc:
        # HDF5 cannot close a file whose writes failed, and would crash (SIGSEGV) trying
        # to flush it at interpreter exit: report, close the bus, and end right here
        node.publish(m.LogMessage(node.name, logging.ERROR, f"{type(exc).__name__}: {exc}"))
        root.removeHandler(handler)
        node.close()
        os._exit(1)
    except Exception as exc:
        code = 1
        node.publish(m.LogMessage(node.name, logging.ERROR, f"{type(exc).__name__}: {exc}"))
        log.debug("%s", traceback.format_exc())
    finally:
        root.removeHandler(handler)
        node.close()
    return code


def main(argv: list[str]) -> int:
    role, spec_json, supervisor_endpoint, interval, parent = argv
    spec = ROLES[role][1](**json.loads(spec_json))
    return run_node(role, spec, supervisor_endpoint, float(interval), int(parent))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
