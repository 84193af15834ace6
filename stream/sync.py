"""The sync node: 2D poses of several cameras in, one :class:`~stream.messages.Group2DMessage`
per instant out.

Poses belong to one instant when they share the hardware frame index (``by = "index"``)
or when their capture stamps differ by at most ``tolerance_ms`` (``by = "timestamp"``).
Groups go out in time order. A group leaves as soon as it is complete, or partial
(marked: ``present`` lists the cameras that are there) when every missing camera has
already moved past it or ended, since each camera's poses arrive in order; in live mode
also when it waited ``max_wait_ms``; and the oldest group is forced out when more than
``max_pending`` are held. So a camera that dropped a frame never stalls the pipeline.
Poses that arrive after their instant went out are counted as late and dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from stream import messages as m
from stream.bus import Expect
from stream.node_specs import SyncSpec

log = logging.getLogger(__name__)

POLL_MS = 10
STOP_GRACE_S = 3.0


@dataclass
class OpenInstant:
    """An instant being collected: its key (frame index, or the first capture stamp in ns)
    and the poses of the cameras seen so far."""

    key: int
    born: float  # time.monotonic() when its first pose came
    members: dict[str, m.Pose2DMessage] = field(default_factory=dict)


class Grouper:
    """The grouping rules, without sockets: feed poses and ends, collect ready groups."""

    def __init__(self, name: str, cameras: list[str], by: str = "index",
                 tolerance_ms: float = 5.0, max_wait_s: float | None = None,
                 max_pending: int = 64):
        self.name = name
        self.cameras = tuple(cameras)
        self.by_index = by == "index"
        self.tolerance = int(tolerance_ms * 1e6)
        self.max_wait_s = max_wait_s  # None: no time limit (batch: lossless)
        self.max_pending = max_pending
        self.pending: list[OpenInstant] = []  # sorted by key
        self.newest: dict[str, int] = {}  # per camera, the newest key it reached
        self.ended: set[str] = set()
        self.last_out: int | None = None  # key of the newest group sent
        self.seq = -1
        self.groups = 0
        self.partial = 0
        self.late = 0
        self.scorer = ""
        self.bodyparts: tuple[str, ...] | None = None
        self.individuals: tuple[str, ...] = ()

    def _key(self, pose: m.Pose2DMessage) -> int:
        return pose.index if self.by_index else pose.t_capture

    def add(self, pose: m.Pose2DMessage, now: float) -> list[m.Group2DMessage]:
        """Take one camera's pose; returns the groups that became ready."""
        if pose.camera not in self.cameras or pose.camera in self.ended:
            log.warning("%s: poses of unexpected camera %r dropped", self.name, pose.camera)
            return []
        if self.bodyparts is None:
            self.bodyparts, self.scorer = pose.bodyparts, pose.scorer
            self.individuals = pose.individuals
        elif pose.bodyparts != self.bodyparts or pose.individuals != self.individuals:
            log.warning("%s: %s has bodyparts %s, not %s: dropped", self.name, pose.camera,
                        pose.bodyparts, self.bodyparts)
            return []
        key = self._key(pose)
        self.newest[pose.camera] = max(self.newest.get(pose.camera, key), key)
        if self.last_out is not None and key <= self.last_out + (0 if self.by_index else
                                                                 self.tolerance):
            self.late += 1
            return self.ready(now)
        self._slot(key, pose.camera, now).members[pose.camera] = pose
        return self.ready(now)

    def _slot(self, key: int, camera: str, now: float) -> OpenInstant:
        """The pending instant `key` belongs to (a new one if none)."""
        best = None
        for p in self.pending:
            near = p.key == key if self.by_index else abs(p.key - key) <= self.tolerance
            if near and camera not in p.members and (
                best is None or abs(p.key - key) < abs(best.key - key)
            ):
                best = p
        if best is None:
            best = OpenInstant(key, now)
            self.pending.append(best)
            self.pending.sort(key=lambda p: p.key)
        return best

    def end(self, camera: str, now: float) -> list[m.Group2DMessage]:
        self.ended.add(camera)
        return self.ready(now)

    @property
    def done(self) -> bool:
        return set(self.cameras) <= self.ended

    def _can_go(self, p: OpenInstant, now: float) -> bool:
        missing = [c for c in self.cameras if c not in p.members]
        slack = 0 if self.by_index else self.tolerance
        passed = all(
            c in self.ended or self.newest.get(c, -(1 << 62)) > p.key + slack for c in missing
        )
        timed_out = self.max_wait_s is not None and now - p.born >= self.max_wait_s
        return passed or timed_out or len(self.pending) > self.max_pending

    def ready(self, now: float) -> list[m.Group2DMessage]:
        """Every group, oldest first, that may leave now (time limits included)."""
        out = []
        while self.pending and (self._can_go(self.pending[0], now) or self.done):
            out.append(self._emit(self.pending.pop(0)))
        return out

    def _emit(self, p: OpenInstant) -> m.Group2DMessage:
        rows = (len(self.individuals),) if self.individuals else ()
        poses = np.full((len(self.cameras), *rows, len(self.bodyparts or ()), 3), np.nan,
                        np.float32)
        indices = np.full(len(self.cameras), -1, np.int64)
        stamps = np.zeros(len(self.cameras), np.int64)
        for c, camera in enumerate(self.cameras):
            pose = p.members.get(camera)
            if pose is not None:
                poses[c], indices[c], stamps[c] = pose.poses, pose.index, pose.t_capture
        members = list(p.members.values())
        self.seq += 1
        self.groups += 1
        self.last_out = p.key
        present = tuple(c for c in self.cameras if c in p.members)
        if len(present) < len(self.cameras):
            self.partial += 1
        return m.Group2DMessage(
            self.name,
            self.seq,
            p.key if self.by_index else min(x.index for x in members),
            min(x.t_capture for x in members),
            self.scorer,
            self.cameras,
            present,
            self.bodyparts or (),
            poses,
            indices,
            stamps,
            self.individuals,
        )

    def counts(self) -> dict[str, int]:
        return {"groups": self.groups, "partial": self.partial, "late": self.late}


def run(spec: SyncSpec, node) -> None:
    live = spec.mode == "live"
    inp = node.bus.input(spec.mode, spec.input_endpoints)
    out = node.bus.output(spec.mode, spec.endpoint)
    expect = Expect((m.Pose2DMessage, m.EndMessage), spec.cameras)
    grouper = Grouper(spec.name, spec.cameras, spec.by, spec.tolerance_ms,
                      spec.max_wait_ms / 1000 if live else None, spec.max_pending)
    node.ready()

    def send(groups: list[m.Group2DMessage]) -> None:
        for g in groups:
            node.send(out, g)
            node.stats.frame(spec.name, g.t_capture)
            if g.partial:
                node.stats.drop()

    while not grouper.done:
        if node.stop.grace_over(STOP_GRACE_S):
            log.warning("%s: stopped before every camera ended", spec.name)
            break
        for msg in node.bus.drain(inp, POLL_MS, expect=expect):
            if isinstance(msg, m.Pose2DMessage):
                send(grouper.add(msg, time.monotonic()))
            elif isinstance(msg, m.EndMessage):
                send(grouper.end(msg.camera, time.monotonic()))
        send(grouper.ready(time.monotonic()))
        node.stats.queue = len(grouper.pending)
        node.stats.totals.update(grouper.counts())
        node.stats.tick()
    grouper.ended.update(spec.cameras)
    send(grouper.ready(time.monotonic()))
    node.stats.totals.update(grouper.counts())
    log.info("%s: %d groups, %d partial, %d late poses dropped", spec.name, grouper.groups,
             grouper.partial, grouper.late)
    node.send(out, m.EndMessage(spec.name, grouper.seq))
