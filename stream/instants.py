"""Cameras in step (live inference): hand the network one frame of every camera from
the same instant, so that the sync node's groups come out complete.

:class:`InstantPicker` keeps each camera's last few frames. When the network is free it
picks the newest instant that every running camera has a frame of: frames sharing the
hardware frame index (``by = "index"``), or frames whose capture stamps lie within
``tolerance_ms`` of each other (``by = "timestamp"``). Every frame of that instant or
older that is not taken is counted as skipped, exactly, per camera. A camera that sends
nothing for ``stale_ms`` while others do is reported by name and no longer waited for;
it is waited for again as soon as it sends. No sockets here: the inference node feeds it.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Iterable

from stream import messages as m

log = logging.getLogger(__name__)

HISTORY = 16  # frames kept per camera (half a second at 30 fps)


class InstantPicker:
    def __init__(self, name: str, cameras: Iterable[str], by: str = "index",
                 tolerance_ms: float = 5.0, stale_ms: float = 1000.0):
        self.name = name
        self.cameras = tuple(cameras)
        self.by_index = by == "index"
        self.tolerance = int(tolerance_ms * 1e6)
        self.stale_s = stale_ms / 1000
        # per camera: (arrival time, frame), oldest first
        self.frames: dict[str, deque[tuple[float, m.FrameMessage]]] = {
            c: deque() for c in self.cameras}
        self.last_seq: dict[str, int] = defaultdict(lambda: -1)
        self.last_arrival: dict[str, float] = {}
        self.first_arrival: float | None = None  # a camera never heard of counts from here
        self.stopped: set[str] = set()
        self.ended: set[str] = set()
        self.skipped: dict[str, int] = defaultdict(int)
        self.unreported = 0  # skips not yet published in stats

    def __len__(self) -> int:
        return sum(len(q) for q in self.frames.values())

    def _skip(self, camera: str, n: int = 1) -> None:
        self.skipped[camera] += n
        self.unreported += n

    def add(self, frame: m.FrameMessage, now: float) -> None:
        camera = frame.camera
        if camera not in self.frames:
            log.warning("%s: frame of unexpected camera %r dropped", self.name, camera)
            return
        gap = frame.seq - self.last_seq[camera] - 1
        if gap > 0:  # frames the source could not even send
            self._skip(camera, gap)
        self.last_seq[camera] = max(self.last_seq[camera], frame.seq)
        self.last_arrival[camera] = now
        if self.first_arrival is None:
            self.first_arrival = now
        if camera in self.stopped:
            self.stopped.discard(camera)
            log.warning("%s: camera %s sends frames again", self.name, camera)
        queue = self.frames[camera]
        queue.append((now, frame))
        if len(queue) > HISTORY:
            queue.popleft()
            self._skip(camera)

    def end(self, end: m.EndMessage) -> list[m.FrameMessage]:
        """`end.camera` ended: its frames not yet taken are skipped; none are returned
        (a lone camera's last frames would only make partial instants)."""
        self.ended.add(end.camera)
        self._skip(end.camera, len(self.frames[end.camera]))
        self.frames[end.camera].clear()
        tail = end.last_seq - self.last_seq[end.camera]
        if tail > 0:
            self._skip(end.camera, tail)
        return []

    def running(self, now: float) -> list[str]:
        """Cameras to wait for: not ended, and not silent for ``stale_ms`` while another
        camera sent something (each newly stopped one is reported once, by name)."""
        newest = max(self.last_arrival.values(), default=now)
        out = []
        for c in self.cameras:
            if c in self.ended:
                continue
            seen = self.last_arrival.get(c, self.first_arrival)
            if seen is not None and newest - seen > self.stale_s and now - seen > self.stale_s:
                if c not in self.stopped:
                    self.stopped.add(c)
                    others = [o for o in self.cameras if o != c and o not in self.ended]
                    log.warning("%s: camera %s stopped (no frame for %.1f s); going on with %s",
                                self.name, c, now - seen, ", ".join(others))
                continue
            out.append(c)
        return out

    def _key(self, frame: m.FrameMessage) -> int:
        return frame.index if self.by_index else frame.t_capture

    def _match(self, anchor: m.FrameMessage, camera: str) -> m.FrameMessage | None:
        key = self._key(anchor)
        best = None
        for _, f in self.frames[camera]:
            d = abs(self._key(f) - key)
            if d <= (0 if self.by_index else self.tolerance) and (
                best is None or d < abs(self._key(best) - key)
            ):
                best = f
        return best

    def complete(self, now: float) -> list[m.FrameMessage] | None:
        """The newest instant every running camera has a frame of, or None."""
        cameras = self.running(now)
        if not cameras or any(not self.frames[c] for c in cameras):
            return None
        # the camera whose newest frame is the oldest bounds how new an instant can be
        slowest = min(cameras, key=lambda c: self._key(self.frames[c][-1][1]))
        for _, anchor in reversed(self.frames[slowest]):
            group = [self._match(anchor, c) if c != slowest else anchor for c in cameras]
            if all(f is not None for f in group):
                return group
        return None

    def newest(self) -> list[m.FrameMessage]:
        """A partial instant: the newest frame of the camera that sent last, and the
        matching frames of the others that have one."""
        latest = [q[-1] for q in self.frames.values() if q]
        if not latest:
            return []
        _, anchor = max(latest, key=lambda item: item[0])
        group = [anchor]
        for c in self.cameras:
            if c != anchor.camera and self.frames[c]:
                f = self._match(anchor, c)
                if f is not None:
                    group.append(f)
        return group

    def take(self, group: list[m.FrameMessage]) -> list[m.FrameMessage]:
        """Remove `group` and everything older of every camera (older ones counted as
        skipped); returns `group`."""
        if not group:
            return group
        # a frame within tolerance of the instant belongs to it: taking it later would
        # hand the network the same instant twice
        limit = max(self._key(f) for f in group) + (0 if self.by_index else self.tolerance)
        taken = {id(f) for f in group}
        for c, queue in self.frames.items():
            keep = deque()
            for arrival, f in queue:
                if id(f) in taken:
                    continue
                if self._key(f) <= limit:
                    self._skip(c)
                else:
                    keep.append((arrival, f))
            self.frames[c] = keep
        return group
