"""The inference node: frames in, 2D poses out, with the exported model only.

It batches across cameras and time, up to ``batch_size`` frames (frames of different
sizes go in separate batches): in live mode waiting at most ``max_wait_ms`` after the
first frame of a batch, in batch mode until the batch is full or its camera ends.

- batch mode: every frame is kept, in arrival order (which is each camera's order);
  a camera's end message is passed on after all of its poses.
- a multi-animal model sends ``(I, K, 3)`` poses; in live mode an
  :class:`~train.post.tracking.OnlineTracker` per camera keeps each animal in its row
  frame to frame (batch analysis tracks the whole video afterwards instead).
- live mode: poses are published (PUB), so recorders, sync nodes and viewers can all
  read them; the socket is drained on every turn and only the newest frame per camera
  is kept; every frame never processed is counted as skipped, exactly, from the
  per-camera sequence numbers (including the ones a source could not even send).
  With ``in_step = "index" | "timestamp"`` and several cameras it takes one frame of
  every camera from the same instant instead (:mod:`stream.instants`), so that a sync
  node downstream gets complete instants even when the network is slower than the cameras.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

import zmq

from stream import messages as m
from stream.bus import Expect, Listener
from stream.instants import InstantPicker
from stream.node_specs import InferenceSpec
from train.post.tracking import OnlineTracker

log = logging.getLogger(__name__)

POLL_MS = 100
STOP_GRACE_S = 3.0


class WaitingFrames:
    """Frames waiting for the network, and the exact count of skipped ones (live)."""

    def __init__(self, live: bool):
        self.live = live
        self.frames: list[m.FrameMessage] = []
        self.last_seq: dict[str, int] = defaultdict(lambda: -1)  # last seq seen per camera
        self.skipped: dict[str, int] = defaultdict(int)
        self.unreported = 0  # skips not yet published in stats

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, frame: m.FrameMessage) -> None:
        gap = frame.seq - self.last_seq[frame.camera] - 1
        if gap > 0:
            self._skip(frame.camera, gap)
        self.last_seq[frame.camera] = max(self.last_seq[frame.camera], frame.seq)
        if self.live:
            for i, old in enumerate(self.frames):
                if old.camera == frame.camera:
                    self.frames[i] = frame  # the newest replaces a stale one
                    self._skip(frame.camera, 1)
                    return
        self.frames.append(frame)

    def end(self, end: m.EndMessage) -> None:
        """Count the frames of `end.camera` that never arrived."""
        tail = end.last_seq - self.last_seq[end.camera]
        if tail > 0:
            self._skip(end.camera, tail)

    def _skip(self, camera: str, n: int) -> None:
        self.skipped[camera] += n
        self.unreported += n

    def take(self, camera: str | None = None, limit: int = 0) -> list[m.FrameMessage]:
        """Remove and return up to `limit` frames (all of one camera if given)."""
        if camera is None:
            out, self.frames = (
                self.frames[: limit or None],
                self.frames[limit or len(self.frames) :],
            )
        else:
            out = [f for f in self.frames if f.camera == camera]
            self.frames = [f for f in self.frames if f.camera != camera]
        return out


class Runner:
    """Runs the model on batches and sends one Pose2DMessage per frame."""

    def __init__(self, spec: InferenceSpec, node, out: zmq.Socket):
        from train.model.artifact import load_model

        self.model = load_model(spec.model, spec.device, amp=spec.amp, backend=spec.backend,
                                threads=spec.threads)
        self.scorer = self.model.meta.scorer
        self.node = node
        self.out = out
        prepare = getattr(self.model, "prepare", None)  # ONNX Runtime: one graph per size
        if callable(prepare):
            for height, width in spec.frame_sizes:  # before the node is ready, not mid-run
                prepare(height, width)
        self.individuals = self.model.individuals
        # live: a multi-animal model's animals keep their identity frame to frame
        self.trackers: dict[str, OnlineTracker] = {}
        self.live = spec.mode == "live"
        log.info(
            "%s: model %s on %s (%d bodyparts)",
            spec.name,
            spec.model,
            spec.device,
            len(self.model.bodyparts),
        )

    def refusal(self, msg: m.Message) -> str | None:
        """Why the network cannot take frame `msg` (its size), or None."""
        if not isinstance(msg, m.FrameMessage):
            return None
        h, w = msg.image.shape[:2]
        if max(self.model.input_size(h, w)) > self.model.meta.max_size:
            return (f"{msg.camera}: a {w}x{h} frame is larger than the model takes "
                    f"({self.model.meta.max_size} px at input scale {self.model.meta.input_scale})")
        return None

    def run(self, frames: list[m.FrameMessage]) -> None:
        by_shape: dict[tuple, list[m.FrameMessage]] = defaultdict(list)
        for f in frames:
            by_shape[f.image.shape].append(f)
        for group in by_shape.values():
            poses = self.model.predict_frames([f.image for f in group])
            t = m.now_ns()
            for f, p in zip(group, poses, strict=True):
                if self.individuals and self.live:
                    tracker = self.trackers.setdefault(f.camera, OnlineTracker(
                        len(self.individuals), identity=self.model.meta.identity))
                    p = tracker.update(f.index, p)
                self.node.send(
                    self.out,
                    m.Pose2DMessage(
                        f.camera,
                        f.seq,
                        f.index,
                        f.t_capture,
                        t,
                        self.scorer,
                        self.model.bodyparts,
                        p,
                        self.individuals,
                    ),
                )
                self.node.stats.frame(f.camera, f.t_capture, t)


class Inbox:
    """Live mode: receives all the time on its own thread (a :class:`~stream.bus.Listener`),
    so that the newest frame of every camera is at hand when the network is free (a queue
    would hand out the oldest one instead, one inference time stale). With ``in_step``
    and several cameras, an :class:`~stream.instants.InstantPicker` holds the frames
    instead, so that one instant of every camera goes to the network together."""

    def __init__(self, sock: zmq.Socket, node, spec: InferenceSpec, expect: Expect):
        self.node = node
        self.pending = WaitingFrames(live=True)
        self.picker = None
        if spec.in_step and len(spec.cameras) > 1:
            self.picker = InstantPicker(spec.name, spec.cameras, spec.in_step,
                                        spec.tolerance_ms, spec.stale_ms)
        self.ends: list[m.EndMessage] = []
        self.cond = threading.Condition()
        self.listener = Listener(node.bus, sock, self._feed, POLL_MS, expect, node.fail)

    def _feed(self, msg: m.Message) -> None:
        with self.cond:
            if isinstance(msg, m.FrameMessage):
                if self.picker is not None:
                    self.picker.add(msg, time.monotonic())
                else:
                    self.pending.add(msg)
            elif isinstance(msg, m.EndMessage):
                self.ends.append(msg)
            self.cond.notify()

    def skipped(self, camera: str) -> int:
        return (self.picker if self.picker is not None else self.pending).skipped[camera]

    def take(self, batch_size: int, cameras: int, wait_s: float):
        """Wait for frames; then up to `wait_s` for one of every camera (a full batch, or
        in step: one complete instant); returns ``(frames, ends)``, the frames of an
        ending camera included (in step: left out, they would only make partial instants)."""
        waiting = self.picker if self.picker is not None else self.pending
        with self.cond:
            if not self.cond.wait_for(lambda: len(waiting) or self.ends, POLL_MS / 1000):
                return [], []
            if self.picker is not None:
                picker = self.picker
                self.cond.wait_for(
                    lambda: self.ends or picker.complete(time.monotonic()) is not None, wait_s)
                frames = picker.take(picker.complete(time.monotonic()) or picker.newest())
            else:
                want = min(batch_size, cameras)
                self.cond.wait_for(lambda: len(self.pending) >= want or self.ends, wait_s)
                frames = self.pending.take(limit=batch_size)
            ends, self.ends = self.ends, []
            for end in ends:
                if self.picker is not None:
                    self.picker.end(end)
                else:
                    frames += self.pending.take(end.camera)
                    self.pending.end(end)
            self.node.stats.drop(waiting.unreported)
            waiting.unreported = 0
            self.node.stats.queue = len(waiting)
            return frames, ends


def run(spec: InferenceSpec, node) -> None:
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    inp = node.bus.frames_in(spec.input_endpoints, spec.mode)
    out = node.bus.output(spec.mode, spec.endpoint)
    runner = Runner(spec, node, out)
    expect = Expect((m.FrameMessage, m.EndMessage), spec.cameras, runner.refusal)
    node.ready()
    ended = (run_live if spec.mode == "live" else run_batch)(spec, node, inp, runner, expect)
    for camera in spec.cameras:
        if camera not in ended:  # stopped early: let the recorder close this camera too
            node.send(out, m.EndMessage(camera, -1))


def _forward_end(spec: InferenceSpec, node, runner: Runner, end: m.EndMessage,
                 skipped: int) -> None:
    node.send(runner.out, m.EndMessage(end.camera, end.last_seq))
    log.info("%s: %s ended, %d frames skipped", spec.name, end.camera, skipped)


def run_live(spec: InferenceSpec, node, inp: zmq.Socket, runner: Runner,
             expect: Expect) -> set[str]:
    inbox = Inbox(inp, node, spec, expect)
    inbox.listener.start()
    ended: set[str] = set()
    try:
        while len(ended) < len(spec.cameras):
            if node.stop.grace_over(STOP_GRACE_S):
                log.warning("%s: stopped before every source ended", spec.name)
                break
            frames, ends = inbox.take(spec.batch_size, len(spec.cameras) - len(ended),
                                      spec.max_wait_ms / 1000)
            if frames:
                runner.run(frames)
            for end in ends:
                ended.add(end.camera)
                _forward_end(spec, node, runner, end, inbox.skipped(end.camera))
            node.stats.tick()
    finally:
        inbox.listener.close()
    return ended


def run_batch(spec: InferenceSpec, node, inp: zmq.Socket, runner: Runner,
              expect: Expect) -> set[str]:
    """Batches of exactly ``batch_size`` frames, or the rest of a camera when it ends,
    never cut by time: the same video is cut into the same batches on every run (and by
    :mod:`stream.scale`), which makes its poses reproducible to the bit."""
    pending = WaitingFrames(live=False)
    ended: set[str] = set()
    while len(ended) < len(spec.cameras):
        if node.stop.grace_over(STOP_GRACE_S):
            log.warning("%s: stopped before every source ended", spec.name)
            break
        for msg in node.bus.drain(inp, POLL_MS, limit=None, expect=expect):
            if isinstance(msg, m.FrameMessage):
                pending.add(msg)
            elif isinstance(msg, m.EndMessage):
                runner.run(pending.take(msg.camera))
                pending.end(msg)
                ended.add(msg.camera)
                _forward_end(spec, node, runner, msg, pending.skipped[msg.camera])
            if len(pending) >= spec.batch_size:
                break  # up to one batch, then run it
        node.stats.queue = len(pending)
        if len(pending) >= spec.batch_size:
            runner.run(pending.take(limit=spec.batch_size))
        node.stats.tick()
    return ended
