"""The recorder node: 2D poses in, one recording file per camera out, and the
DeepLabCut analysis table of each camera when its stream ends; 3D poses of a
triangulation node go to their own recording and 3D table. The files are
:mod:`stream.recording`'s; rows are flushed at least every ``flush_s`` seconds.
"""

from __future__ import annotations

import logging
import time

from stream import messages as m
from stream.bus import Expect
from stream.node_specs import RecorderSpec
from stream.recording import (
    Recording2D,
    Recording3D,
    RecordingFile,
    may_write_table,
    write_table,
)

log = logging.getLogger(__name__)

POLL_MS = 50
STOP_GRACE_S = 5.0


class Recorder:
    def __init__(self, spec: RecorderSpec, node):
        self.spec = spec
        self.node = node
        self.files: dict[str, RecordingFile] = {}
        self.done: set[str] = set()
        self._last_flush = time.monotonic()

    def pose(self, msg: m.Pose2DMessage | m.Pose3DMessage) -> None:
        t = m.now_ns()
        stream = msg.camera if isinstance(msg, m.Pose2DMessage) else msg.group
        f = self.files.get(stream)
        if f is None:
            if stream in self.done:
                self.node.bus.bad.drop(f"{msg.kind} of {stream!r} after its end")
                return
            if isinstance(msg, m.Pose2DMessage):
                f = Recording2D(self.spec.folder, stream, msg.scorer, msg.bodyparts,
                                msg.individuals)
            else:
                f = Recording3D(self.spec.folder, stream, msg.bodyparts, msg.individuals)
            self.files[stream] = f
        f.add(msg, t)
        self.node.stats.frame(stream, msg.t_capture, t)

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.spec.flush_s:
            for f in self.files.values():
                f.flush()
            self._last_flush = time.monotonic()

    def end(self, camera: str, last_seq: int, ended: bool = True) -> None:
        """Close `camera`'s file, write its table when the stream is complete (see
        :func:`~stream.recording.may_write_table`), and tell the supervisor."""
        self.done.add(camera)
        f = self.files.pop(camera, None)
        if f is None:
            log.warning("%s: %s ended without any pose", self.spec.name, camera)
            self.node.publish(m.EndMessage(camera, last_seq, 0, ""))
            return
        f.close()
        table = ""
        if not may_write_table(self.spec.mode, ended, self.node.stop.requested):
            log.warning("%s: %s was cut short: its recording %s is kept, no table written",
                        self.spec.name, camera, f.path)
        elif self.spec.tables and isinstance(f, Recording3D):
            table = str(write_table(f.path, self.spec.folder, self.spec.csv))
        elif self.spec.tables and camera in self.spec.table_paths:
            video, folder = self.spec.table_paths[camera]
            # sources number frames from 0 with seq == index, so the last seq is the last index
            table = str(write_table(f.path, folder, self.spec.csv, video, last_seq))
        self.node.publish(m.EndMessage(camera, last_seq, f.rows, table))

    def close(self) -> None:
        for camera in list(self.files):
            self.end(camera, -1, ended=False)


def run(spec: RecorderSpec, node) -> None:
    inp = node.bus.input(spec.mode, spec.input_endpoints)
    expect = Expect((m.Pose2DMessage, m.Pose3DMessage, m.EndMessage), spec.cameras)
    rec = Recorder(spec, node)
    node.ready()
    try:
        while len(rec.done) < len(spec.cameras):
            if node.stop.grace_over(STOP_GRACE_S):
                log.warning("%s: stopped before every camera ended", spec.name)
                break
            for msg in node.bus.drain(inp, POLL_MS, expect=expect):
                if isinstance(msg, (m.Pose2DMessage, m.Pose3DMessage)):
                    rec.pose(msg)
                elif isinstance(msg, m.EndMessage):
                    rec.end(msg.camera, msg.last_seq)
            rec.maybe_flush()
            node.stats.queue = sum(f.pending for f in rec.files.values())
            node.stats.tick()
    finally:
        rec.close()
