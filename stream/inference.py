"""The inference node: frames in, 2D poses out, with the exported model only.

It batches across cameras and time, up to ``batch_size`` frames and ``max_wait_ms``
after the first frame of a batch (frames of different sizes go in separate batches).

- batch mode: every frame is kept, in arrival order (which is each camera's order);
  a camera's ``End`` is passed on after all of its poses.
- live mode: the socket is drained on every turn and only the newest frame per camera
  is kept; every frame never processed is counted as skipped, exactly, from the
  per-camera sequence numbers (including the ones a source could not even send).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

import zmq

from stream import messages as m
from stream.rig import InferenceSpec

log = logging.getLogger(__name__)

POLL_MS = 100
STOP_GRACE_S = 3.0


class Pending:
    """Frames waiting for the network, and the exact count of skipped ones (live)."""

    def __init__(self, live: bool):
        self.live = live
        self.frames: list[m.Frame] = []
        self.first_t = 0.0
        self.last_seq: dict[str, int] = defaultdict(lambda: -1)  # last seq seen per camera
        self.skipped: dict[str, int] = defaultdict(int)
        self.unreported = 0  # skips not yet published in stats

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, frame: m.Frame) -> None:
        gap = frame.seq - self.last_seq[frame.camera] - 1
        if gap > 0:
            self._skip(frame.camera, gap)
        self.last_seq[frame.camera] = max(self.last_seq[frame.camera], frame.seq)
        if not self.frames:
            self.first_t = time.monotonic()
        if self.live:
            for i, old in enumerate(self.frames):
                if old.camera == frame.camera:
                    self.frames[i] = frame  # the newest replaces a stale one
                    self._skip(frame.camera, 1)
                    return
        self.frames.append(frame)

    def end(self, end: m.End) -> None:
        """Count the frames of `end.camera` that never arrived."""
        tail = end.last_seq - self.last_seq[end.camera]
        if tail > 0:
            self._skip(end.camera, tail)

    def _skip(self, camera: str, n: int) -> None:
        self.skipped[camera] += n
        self.unreported += n

    def take(self, camera: str | None = None, limit: int = 0) -> list[m.Frame]:
        """Remove and return up to `limit` frames (all of one camera if given)."""
        if camera is None:
            out, self.frames = (
                self.frames[: limit or None],
                self.frames[limit or len(self.frames) :],
            )
        else:
            out = [f for f in self.frames if f.camera == camera]
            self.frames = [f for f in self.frames if f.camera != camera]
        if self.frames:
            self.first_t = time.monotonic()
        return out


class Runner:
    """Runs the model on batches and sends one Poses2D per frame."""

    def __init__(self, spec: InferenceSpec, node, out: zmq.Socket):
        from train.artifact import PoseModel

        self.model = PoseModel(spec.model, spec.device, amp=spec.amp)
        self.scorer = self.model.meta.scorer
        self.node = node
        self.out = out
        log.info(
            "%s: model %s on %s (%d bodyparts)",
            spec.name,
            spec.model,
            spec.device,
            len(self.model.bodyparts),
        )

    def run(self, frames: list[m.Frame]) -> None:
        by_shape: dict[tuple, list[m.Frame]] = defaultdict(list)
        for f in frames:
            by_shape[f.image.shape].append(f)
        for group in by_shape.values():
            poses = self.model.predict_frames([f.image for f in group])
            t = m.now_ns()
            for f, p in zip(group, poses, strict=True):
                self.node.send(
                    self.out,
                    m.Poses2D(
                        f.camera,
                        f.seq,
                        f.index,
                        f.t_capture,
                        t,
                        self.scorer,
                        self.model.bodyparts,
                        p,
                    ),
                )
                self.node.stats.frame(f.camera, f.t_capture, t)


def run(spec: InferenceSpec, node) -> None:
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    live = spec.mode == "live"
    # each producer binds its output and consumers connect, so one PULL fair-queues all cameras
    inp = node.socket(zmq.PULL, RCVHWM=1 if live else 8, LINGER=0)
    if live:
        inp.setsockopt(zmq.RCVBUF, 1 << 16)
    for endpoint in spec.input_endpoints:
        inp.connect(endpoint)
    out = node.socket(zmq.PUSH, SNDHWM=1000, LINGER=30000, SNDTIMEO=200)
    out.bind(spec.endpoint)
    runner = Runner(spec, node, out)
    node.ready()
    pending = Pending(live)
    ended: set[str] = set()
    wait_s = spec.max_wait_ms / 1000
    stop_at = None
    while len(ended) < len(spec.cameras):
        if node.stop_requested and stop_at is None:
            stop_at = time.monotonic() + STOP_GRACE_S
        if stop_at is not None and time.monotonic() > stop_at:
            log.warning("%s: stopped before every source ended", spec.name)
            break
        timeout = POLL_MS
        if pending:
            timeout = max(0, int((pending.first_t + wait_s - time.monotonic()) * 1000))
        if inp.poll(timeout):
            # drain what is there (live: everything; batch: up to one batch)
            while live or len(pending) < spec.batch_size:
                try:
                    msg = m.receive(inp, node.bad, zmq.NOBLOCK)
                except zmq.Again:
                    break
                if isinstance(msg, m.Frame):
                    pending.add(msg)
                elif isinstance(msg, m.End):
                    runner.run(pending.take(msg.camera))
                    pending.end(msg)
                    ended.add(msg.camera)
                    node.send(out, m.End(msg.camera, msg.last_seq))
                    log.info(
                        "%s: %s ended, %d frames skipped",
                        spec.name,
                        msg.camera,
                        pending.skipped[msg.camera],
                    )
        node.stats.queue = len(pending)
        full = len(pending) >= spec.batch_size or (live and len(pending) >= len(spec.cameras))
        if pending and (full or time.monotonic() - pending.first_t >= wait_s):
            runner.run(pending.take(limit=spec.batch_size))
        node.stats.drop(pending.unreported)
        pending.unreported = 0
        node.stats.tick()
    for camera in spec.cameras:
        if camera not in ended:  # stopped early: let the recorder close this camera too
            node.send(out, m.End(camera, pending.last_seq[camera]))
