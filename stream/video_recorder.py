"""The video recorder node (``[[video]]`` in a rig): the frames live sources publish, one
compressed video and frame table per camera (:mod:`stream.video_recording`).

It never slows capture: the sources publish frames on a socket of their own without ever
waiting (:meth:`stream.bus.Bus.record_out`), a receiving thread moves every frame into a
per-camera queue of ``buffer_s`` seconds, and one encoder thread per camera empties it.
When an encoder or the disk falls behind and a queue is full, the new frame is dropped;
every frame the recorder did not write (dropped here, lost on the link, or never received
before the camera's end) is counted from the per-camera sequence numbers and shows as a
jump of ``seq`` in the frame table. Stats: frames written per second, latency from
capture to written, drops, frames queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from calib.errors import VideoError
from stream import messages as m
from stream.bus import Listener
from stream.node_specs import VideoSpec
from stream.video_recording import VideoRecording

log = logging.getLogger(__name__)

POLL_MS = 50


class CameraEncoder(threading.Thread):
    """One camera: a bounded queue of frames and the thread that encodes them."""

    def __init__(self, spec: VideoSpec, camera: str, node, stats_lock: threading.Lock):
        super().__init__(name=f"encode-{camera}", daemon=True)
        self.camera = camera
        self.node = node
        self.stats_lock = stats_lock  # the node's stats meter is shared by every thread
        rate = spec.rates.get(camera, 30.0)
        self.capacity = max(2, round(rate * spec.buffer_s))
        self.recording = VideoRecording(spec.folder, camera, rate, spec.codec, spec.crf,
                                        spec.preset, spec.jpeg_q, spec.keyframe_s, spec.threads)
        self.queue: deque[m.FrameMessage] = deque()
        self.cond = threading.Condition()
        self.last_seq = -1  # the newest sequence number received
        self.ended = False
        self.end_seq = -1  # the source's last sequence number, once it ended
        self.received = 0
        self.dropped = 0  # frames received but not written (queue full, bad size or index)
        self.failed: VideoError | None = None

    def offer(self, frame: m.FrameMessage) -> None:
        """Queue `frame` (receiving thread); a full queue drops it."""
        with self.cond:
            self.received += 1
            self.last_seq = max(self.last_seq, frame.seq)
            if len(self.queue) >= self.capacity:
                self.dropped += 1
                return
            self.queue.append(frame)
            self.cond.notify()

    def end(self, last_seq: int) -> None:
        with self.cond:
            self.ended = True
            self.end_seq = max(last_seq, self.last_seq)
            self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.queue or self.ended, POLL_MS / 1000)
                if not self.queue:
                    if self.ended:
                        return
                    continue
                frame = self.queue.popleft()
            if self.failed is None:
                try:
                    written = self.recording.add(frame)
                except VideoError as exc:  # the encoder is broken: the node ends with it
                    self.failed, written = exc, False
                    self.node.stop.request()
            else:
                written = False
            if written:
                with self.stats_lock:
                    self.node.stats.frame(self.camera, frame.t_capture)
            else:
                with self.cond:
                    self.dropped += 1

    @property
    def missing(self) -> int:
        """Frames the source produced so far that will not be in the video: never
        received (gaps in sequence numbers, and after the last one received up to the
        source's end) or received and dropped."""
        with self.cond:
            produced = (self.end_seq if self.ended else self.last_seq) + 1
            return produced - self.received + self.dropped

    def close(self) -> int:
        """Finish the file after the queue is written; returns the frames missing."""
        self.end(self.end_seq)
        self.join()
        self.recording.close()
        return self.missing


def run(spec: VideoSpec, node) -> None:
    stats_lock = threading.Lock()
    encoders = {c: CameraEncoder(spec, c, node, stats_lock) for c in spec.cameras}
    for encoder in encoders.values():
        encoder.start()
    ended: set[str] = set()

    def feed(msg: m.Message) -> None:
        encoder = encoders.get(getattr(msg, "camera", ""))
        if encoder is None:
            return
        if isinstance(msg, m.FrameMessage):
            encoder.offer(msg)
        elif isinstance(msg, m.EndMessage):
            encoder.end(msg.last_seq)
            ended.add(msg.camera)

    listener = Listener(node.bus, node.bus.record_in(spec.input_endpoints), feed, POLL_MS)
    listener.start()
    node.ready()
    reported = 0

    def report_drops() -> None:
        nonlocal reported
        missing = sum(e.missing for e in encoders.values())
        with stats_lock:
            node.stats.drop(missing - reported)
            node.stats.queue = sum(len(e.queue) for e in encoders.values())
            node.stats.tick()
        reported = missing

    try:
        # a stop request ends the recording at once: what is queued is still written
        while len(ended) < len(encoders) and not node.stop.requested:
            time.sleep(POLL_MS / 1000)
            report_drops()
    finally:
        listener.close()
        for camera, encoder in encoders.items():
            missing = encoder.close()
            log.info("%s: %s: %d frames in %s, %d missing", spec.name, camera,
                     encoder.recording.frames, encoder.recording.path, missing)
            node.publish(m.EndMessage(camera, encoder.end_seq, encoder.recording.frames,
                                      str(encoder.recording.path)))
        report_drops()
    failed = [e.failed for e in encoders.values() if e.failed is not None]
    if failed:
        raise failed[0]
