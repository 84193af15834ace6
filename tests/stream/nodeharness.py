"""Real node processes for hostile-message tests: each node runs as the supervisor would
run it (``python -m stream.node ROLE SPEC ...``), its input connects to a socket the test
binds, and its stats and logs come to a supervisor link the test holds."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq

from stream import messages as m
from stream.bus import BadMessages, receive
from stream.node import command
from stream.rig import free_endpoint
from tests.conftest import ROOT


class NodeProcess:
    """One node in its own process, watched through the stats it sends."""

    def __init__(self, role: str, spec, ctx: zmq.Context, interval: float = 0.1):
        self.name = spec.name
        self.link = ctx.socket(zmq.PULL)
        self.link.setsockopt(zmq.LINGER, 0)
        endpoint = free_endpoint()
        self.link.bind(endpoint)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(command(role, spec, endpoint, interval), env=env)
        self.stats: m.StatsMessage | None = None
        self.errors: list[str] = []
        self._bad = BadMessages(f"test link of {self.name}")

    def poll(self, until: Callable[[], bool], timeout_s: float) -> bool:
        """Read the node's stats and logs until `until()` holds (True) or the time is up
        or the node died (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if until():
                return True
            if self.link.poll(50):
                msg = receive(self.link, self._bad)
                if isinstance(msg, m.StatsMessage):
                    self.stats = msg
                elif isinstance(msg, m.LogMessage) and msg.level >= 40:
                    self.errors.append(msg.text)
            elif self.proc.poll() is not None:
                return until()
        return until()

    @property
    def rejected(self) -> int:
        return self.stats.rejected if self.stats is not None else -1

    def wait_ready(self, timeout_s: float = 300) -> None:
        if not self.poll(lambda: self.stats is not None, timeout_s):
            raise AssertionError(f"{self.name} not ready (exit {self.proc.poll()}, "
                                 f"errors {self.errors})")

    def wait_rejected(self, count: int, timeout_s: float = 120) -> bool:
        return self.poll(lambda: self.rejected >= count, timeout_s) and self.rejected == count

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 60) -> int:
        if self.alive:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout_s)
        finally:
            self.close()

    def close(self) -> None:
        if self.alive:
            self.proc.kill()
            self.proc.wait()
        self.link.close()


@dataclass
class Target:
    """A node under test and the socket that feeds it; `valid` are messages it takes
    (sent once to prime its streams), `streams` the names it reads."""

    node: NodeProcess
    feed: zmq.Socket
    valid: list[m.Message]
    streams: list[str]
    subscribed: tuple[bytes, ...] = ()  # topic prefixes of a SUB input ((): reads all)
    extra: dict = field(default_factory=dict)

    def send_raw(self, parts: list[bytes]) -> None:
        self.feed.send_multipart(parts)


def feeder(ctx: zmq.Context, endpoint: str, publish: bool) -> zmq.Socket:
    """The upstream socket of a node: PUSH (lossless, blocks when full) or, for a SUB
    input, PUB with no high-water mark (so nothing is dropped before the node sees it)."""
    sock = ctx.socket(zmq.PUB if publish else zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    return sock


class Sink(threading.Thread):
    """Reads a node's output all the time, so that its lossless sends never block, and
    keeps the newest messages that came; `malformed` counts what it could not decode (a
    node under attack must still send only well-formed messages)."""

    def __init__(self, ctx: zmq.Context, endpoint: str, live: bool):
        super().__init__(daemon=True)
        self.ctx, self.endpoint, self.live = ctx, endpoint, live
        self.messages: deque[m.Message] = deque(maxlen=1000)
        self.malformed = 0
        self.closed = False
        self._ready = threading.Event()
        self.start()
        self._ready.wait(10)

    def run(self) -> None:
        sock = self.ctx.socket(zmq.SUB if self.live else zmq.PULL)
        if self.live:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.endpoint)
        self._ready.set()
        while not self.closed:
            if sock.poll(50):
                try:
                    self.messages.append(m.decode(sock.recv_multipart()))
                except m.MessageError:
                    self.malformed += 1
        sock.close(linger=0)

    def close(self) -> None:
        self.closed = True
        self.join()
