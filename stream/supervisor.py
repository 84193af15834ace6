"""The supervisor: starts every node of a graph as its own process, listens to what the
nodes report (stats, logs, end notices), checks that every node is alive, prints per-node stats,
and stops everything cleanly on Ctrl-C or when the input has ended.

If a node dies, it says which one and why (exit code or signal, and the node's last
error) and the run fails.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from calib.errors import PoseloopError
from stream import messages as m
from stream.bus import Bus, Expect, offer
from stream.node import command
from stream.recording import release_folder

log = logging.getLogger(__name__)

ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding the stream package
STOP_WAIT_S = 12.0  # longer than a node's own grace, so files get closed first
DRAIN_WAIT_S = 10.0  # after a timed run's sources stop, for the rest to finish their queues
READY_TIMEOUT_S = 300.0  # loading a model on a busy machine can take a while


class NodeDied(PoseloopError, RuntimeError):
    """A node process exited abnormally."""


def _interrupt(*_signal_args) -> None:
    raise KeyboardInterrupt


def _why(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def format_stats(stats: dict[str, m.StatsMessage]) -> str:
    def one(s: m.StatsMessage) -> str:
        lat = "" if math.isnan(s.p50_ms) else f" lat p50 {s.p50_ms:.1f} p99 {s.p99_ms:.1f} ms"
        bad = f" rejected {s.rejected}" if s.rejected else ""
        return f"{s.node}: {s.fps:.1f} fps{lat} drops {s.drops} queue {s.queue}{bad}"

    return " | ".join(one(s) for s in stats.values())


class Supervisor:
    """Runs `nodes` (``[(role, spec)]``, started in that order) until they all end."""

    def __init__(
        self,
        nodes: list[tuple[str, object]],
        endpoint: str,
        stats_interval: float = 1.0,
        on_message: Callable[[m.Message], None] | None = None,
        print_stats: bool = True,
        stats_endpoint: str = "",
    ):
        self.nodes = nodes
        self.endpoint = endpoint
        self.stats_interval = stats_interval
        self.on_message = on_message
        self.print_stats = print_stats
        self.latest: dict[str, m.StatsMessage] = {}
        self.last_error: dict[str, str] = {}
        self.killed: set[str] = set()  # nodes killed after a stop request they did not heed
        self.procs: dict[str, subprocess.Popen] = {}
        self._bus = Bus("supervisor")
        self._from_nodes = self._bus.from_nodes(endpoint)
        # any local process can connect to this endpoint: take only what the nodes send
        names = [spec.name for _, spec in nodes]
        streams = {c for _, spec in nodes for c in getattr(spec, "cameras", [])}
        self._expect = Expect((m.StatsMessage, m.LogMessage, m.EndMessage), [*names, *streams],
                              self._refusal)
        # the stats again, for viewer nodes (processes of their own): none without them
        self._stats_out = self._bus.stats_out(stats_endpoint) if stats_endpoint else None

    def start(self) -> None:
        """Start the consumers, wait until each is ready (model loaded, sockets up), then
        the sources, so that a live source's first frames are not dropped for nothing."""
        consumers = [(r, s) for r, s in self.nodes if r != "source"]
        for role, spec in consumers:
            self._spawn(role, spec)
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = {spec.name for _, spec in consumers}
        while waiting - set(self.latest):
            self._drain(100)
            failure = self._dead()
            if failure is None and time.monotonic() > deadline:
                failure = (
                    f"node(s) {sorted(waiting - set(self.latest))} not ready after "
                    f"{READY_TIMEOUT_S:.0f} s"
                )
            if failure:
                self.stop()
                raise NodeDied(failure)
        for role, spec in self.nodes:
            if role == "source":
                self._spawn(role, spec)

    def _spawn(self, role: str, spec) -> None:
        # the node must import this very poseloop, installed or not, from any folder
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
        p = subprocess.Popen(command(role, spec, self.endpoint, self.stats_interval), env=env)
        self.procs[spec.name] = p
        log.debug("started %s %s (pid %d)", role, spec.name, p.pid)

    @property
    def rejected(self) -> int:
        """Messages refused on the supervisor link (malformed, or not from a node)."""
        return self._bus.bad.count

    def _refusal(self, msg: m.Message) -> str | None:
        names = {spec.name for _, spec in self.nodes}
        if isinstance(msg, (m.StatsMessage, m.LogMessage)) and msg.node not in names:
            return f"{msg.kind} of unknown node {msg.node!r:.40}"
        return None

    def _drain(self, timeout_ms: int) -> None:
        for msg in self._bus.drain(self._from_nodes, timeout_ms, limit=None,
                                   expect=self._expect):
            if isinstance(msg, m.StatsMessage):
                self.latest[msg.node] = msg
                if self._stats_out is not None:
                    offer(self._stats_out, msg)
            elif isinstance(msg, m.LogMessage):
                logging.getLogger(f"stream.node.{msg.node}").log(msg.level, "%s", msg.text)
                if msg.level >= logging.ERROR:
                    self.last_error[msg.node] = msg.text
            if self.on_message is not None:
                self.on_message(msg)

    def _sending(self, sources: set[str]) -> bool:
        """Whether a source has sent a frame (its stats count one)."""
        return any(sum(self.latest[n].totals.values()) > 0 for n in sources if n in self.latest)

    def _dead(self) -> str | None:
        for name, p in self.procs.items():
            if name in self.killed:  # asked to stop, too slow, killed: reported already
                continue
            if p.poll() not in (None, 0):
                self._drain(100)  # its last words may still be on the way
                why = _why(p.returncode)
                if name in self.last_error:
                    why += f": {self.last_error[name]}"
                return f"node {name!r} died ({why})"
        return None

    def run(self, duration_s: float = 0.0) -> None:
        """Start the nodes and wait for them to end; NodeDied if one fails.

        Ctrl-C (or SIGTERM, when this runs on the main thread) asks every node to stop,
        waits for them to close their files, and returns normally. `duration_s` after the
        first frame of a source (a source may take a while to start: a synthetic camera
        renders its session first) the sources and viewers stop; the other nodes then
        finish what they hold and end as after a video (every recorded file complete, its
        counts agreeing with the sources'), or are stopped after DRAIN_WAIT_S.
        """
        last_print = time.monotonic()
        restore = None
        if threading.current_thread() is threading.main_thread():
            restore = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
            end, timing, draining = math.inf, bool(duration_s), False
            sources = {spec.name for role, spec in self.nodes if role == "source"}
            while any(p.poll() is None for p in self.procs.values()):
                self._drain(100)
                if timing and self._sending(sources):
                    end, timing = time.monotonic() + duration_s, False
                if time.monotonic() > end and not draining:
                    log.info("the duration is over: stopping the sources; the other nodes "
                             "finish what they hold")
                    end, draining = time.monotonic() + DRAIN_WAIT_S, True
                    self.stop({"source", "viewer"})
                elif time.monotonic() > end:
                    log.info("the nodes still running %.0f s after the sources stopped are "
                             "stopped", DRAIN_WAIT_S)
                    end = math.inf
                    self.stop()
                failure = self._dead()
                if failure:
                    log.error("%s; stopping the others", failure)
                    self.stop()
                    raise NodeDied(failure)
                if self.print_stats and time.monotonic() - last_print >= self.stats_interval:
                    last_print = time.monotonic()
                    running = {
                        spec.name: self.latest[spec.name]
                        for _, spec in self.nodes
                        if spec.name in self.latest and self.procs[spec.name].poll() is None
                    }
                    if running:
                        print(format_stats(running), flush=True)
            self._drain(0)
            failure = self._dead()
            if failure:
                raise NodeDied(failure)
        except KeyboardInterrupt:
            log.info("interrupted: stopping every node")
            self.stop()
        finally:
            self.close()
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)

    def stop(self, roles: set[str] | None = None) -> None:
        """Ask every live node (of `roles`, if given) to stop; kill the ones still alive
        after STOP_WAIT_S."""
        procs = {spec.name: self.procs[spec.name] for role, spec in self.nodes
                 if spec.name in self.procs and (roles is None or role in roles)}
        for p in procs.values():
            if p.poll() is None:
                p.terminate()  # SIGTERM: the node's stop request
        deadline = time.monotonic() + STOP_WAIT_S
        for name, p in procs.items():
            while p.poll() is None and time.monotonic() < deadline:
                try:
                    self._drain(50)
                except KeyboardInterrupt:
                    continue  # a second Ctrl-C while stopping: keep waiting for clean ends
            if p.poll() is None:
                log.error("node %r did not stop in %.0f s; killing it", name, STOP_WAIT_S)
                self.killed.add(name)
                p.kill()
                p.wait()

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        self._bus.close()
        # a recorder killed mid-write leaves its files flagged open: every node is gone
        # now, so clear the flags and plain HDF5 tools can read what was flushed
        for role, spec in self.nodes:
            if role == "recorder":
                for path in release_folder(spec.folder, spec.cameras):
                    log.warning("%s: its writer died; cleared its open-for-write flags", path)


def run_rig(rig: str | Path, print_stats: bool = True, duration_s: float | None = None,
            on_message: Callable[[m.Message], None] | None = None) -> None:
    """Run the graph of the rig file `rig` until its input ends, its ``duration`` (or
    `duration_s`, if given) is over, or Ctrl-C; `on_message` sees every message the
    nodes send the supervisor (stats, logs, end notices)."""
    from stream.rig import load_rig

    spec = load_rig(rig)
    for rec in spec.recorders:
        Path(rec.folder).mkdir(parents=True, exist_ok=True)
    log.info("%s: %s mode, %d node(s)", spec.path, spec.mode, len(spec.nodes()))
    duration = spec.duration_s if duration_s is None else duration_s
    Supervisor(spec.nodes(), spec.supervisor_endpoint, spec.stats_interval, on_message,
               print_stats=print_stats, stats_endpoint=spec.stats_endpoint).run(duration)
