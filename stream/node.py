"""What every node process shares: its ZeroMQ context, the bus to the supervisor
(stats, logs, end notices), stop requests from signals, and per-second stats.

A node runs as ``python -m stream.node ROLE SPEC_JSON BUS INTERVAL`` (see
:func:`command`); its role module
(:mod:`stream.sources`, :mod:`stream.inference`, :mod:`stream.sync`,
:mod:`stream.triangulation`, :mod:`stream.recorder`, :mod:`stream.viewer`) does the
work in a ``run(spec, node)`` function and returns when its input has ended or a
stop was requested.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict

import numpy as np
import zmq

from stream import messages as m
from stream.rig import (
    InferenceSpec,
    RecorderSpec,
    SourceSpec,
    SyncSpec,
    TriangulateSpec,
    ViewerSpec,
)

log = logging.getLogger(__name__)

ROLES = {
    "source": ("stream.sources", SourceSpec),
    "inference": ("stream.inference", InferenceSpec),
    "recorder": ("stream.recorder", RecorderSpec),
    "sync": ("stream.sync", SyncSpec),
    "triangulate": ("stream.triangulation", TriangulateSpec),
    "viewer": ("stream.viewer_node", ViewerSpec),
}
LIVE_SNDHWM = 10000  # published poses are small: a reader may lag this far before losing any


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
        elapsed = time.monotonic() - self._start
        if elapsed < self.interval and not force:
            return
        if self._lat_ns:
            p50, p99 = np.percentile(np.asarray(self._lat_ns, np.float64), [50, 99]) / 1e6
        else:
            p50 = p99 = float("nan")
        self.node.publish(
            m.Stats(
                self.node.name,
                m.now_ns(),
                self._count / max(elapsed, 1e-9),
                float(p50),
                float(p99),
                self._drops,
                self.queue,
                dict(self.totals),
            )
        )
        self._count = self._drops = 0
        self._lat_ns = []
        self._start = time.monotonic()


class _BusHandler(logging.Handler):
    """Sends this process's log records to the supervisor as Log messages."""

    def __init__(self, node: Node):
        super().__init__(logging.INFO)
        self.node = node

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.node.publish(m.Log(self.node.name, record.levelno, self.format(record)[:16000]))
        except Exception:  # logging must never take the node down
            self.handleError(record)


class Node:
    """A running node: name, zmq context, bus socket, stop flag, stats meter."""

    def __init__(self, name: str, bus_endpoint: str, stats_interval: float = 1.0):
        self.name = name
        self.ctx = zmq.Context()
        self.bus = self.ctx.socket(zmq.PUSH)
        self._bus_lock = threading.Lock()
        self.bus.setsockopt(zmq.SNDHWM, 1000)
        self.bus.setsockopt(zmq.LINGER, 2000)
        self.bus.connect(bus_endpoint)
        self.bad = m.BadMessages(name)
        self.stats = StatsMeter(self, stats_interval)
        self.stop_requested = False
        self._sockets: list[zmq.Socket] = []

    def publish(self, msg: m.Message) -> None:
        """Send to the supervisor without ever blocking (a full bus drops stats).
        Thread-safe: a node's receiver thread may log too."""
        with self._bus_lock:
            try:
                m.send(self.bus, msg, zmq.NOBLOCK)
            except zmq.Again:
                pass

    def send(self, sock: zmq.Socket, msg: m.Message) -> bool:
        """Send with backpressure (block while the consumer is full), waking up to notice
        a stop request: then frames are given up at once and an End after a second.
        `sock` needs a SNDTIMEO. Returns whether it was sent."""
        give_up = None
        while True:
            try:
                m.send(sock, msg)
                return True
            except zmq.Again:
                self.stats.tick()
                if self.stop_requested:
                    if not isinstance(msg, m.End):
                        return False
                    give_up = give_up or time.monotonic() + 1.0
                    if time.monotonic() > give_up:
                        return False

    def socket(self, kind: int, **options: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        for key, value in options.items():
            sock.setsockopt(getattr(zmq, key), value)
        self._sockets.append(sock)
        return sock

    def output(self, mode: str, endpoint: str) -> zmq.Socket:
        """The bound output of a node past the sources: live, a PUB socket that any number
        of readers subscribe to and that never blocks (a reader further behind than
        LIVE_SNDHWM loses messages); batch, a PUSH socket to one reader, with backpressure
        (use :meth:`send`)."""
        if mode == "live":
            sock = self.socket(zmq.PUB, SNDHWM=LIVE_SNDHWM, LINGER=30000)
        else:
            sock = self.socket(zmq.PUSH, SNDHWM=1000, LINGER=30000, SNDTIMEO=200)
        sock.bind(endpoint)
        return sock

    def input(self, mode: str, endpoints: list[str], hwm: int = 1000) -> zmq.Socket:
        """The input matching :meth:`output`: SUB to everything (live) or PULL (batch),
        connected to every endpoint."""
        if mode == "live":
            sock = self.socket(zmq.SUB, RCVHWM=hwm, LINGER=0, RECONNECT_IVL=20)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        else:
            sock = self.socket(zmq.PULL, RCVHWM=hwm, LINGER=0, RECONNECT_IVL=20)
        for endpoint in endpoints:
            sock.connect(endpoint)
        return sock

    def ready(self) -> None:
        """Tell the supervisor this node is set up (its first stats message)."""
        self.stats.tick(force=True)

    def _on_signal(self, signum, frame) -> None:
        self.stop_requested = True

    def install_signals(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def close(self) -> None:
        self.stats.tick(force=True)
        for sock in self._sockets:
            # after a stop, a dead peer must not hold the process for the full linger
            sock.close(linger=1000 if self.stop_requested else None)
        self.bus.close()
        self.ctx.term()


def command(role: str, spec, bus_endpoint: str, stats_interval: float) -> list[str]:
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
        bus_endpoint,
        str(stats_interval),
    ]


def run_node(role: str, spec, bus_endpoint: str, stats_interval: float = 1.0) -> int:
    """Run `spec` in its `role` in this process; returns the exit code (1 after an error,
    which is also sent on the bus, naming the cause)."""
    node = Node(spec.name, bus_endpoint, stats_interval)
    node.install_signals()
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    handler = _BusHandler(node)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    code = 0
    try:
        importlib.import_module(ROLES[role][0]).run(spec, node)
    except Exception as exc:
        code = 1
        node.publish(m.Log(node.name, logging.ERROR, f"{type(exc).__name__}: {exc}"))
        log.debug("%s", traceback.format_exc())
    finally:
        root.removeHandler(handler)
        node.close()
    return code


def main(argv: list[str]) -> int:
    role, spec_json, bus_endpoint, interval = argv
    spec = ROLES[role][1](**json.loads(spec_json))
    return run_node(role, spec, bus_endpoint, float(interval))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
