"""Source nodes: cameras, video files, image folders and the synthetic animal, all
behind one interface (an iterator of ``(frame index, BGR uint8 image)``, the image None
for a video frame that does not decode), each frame stamped with its per-camera sequence
number (its index) and capture time.

Batch mode sends with backpressure (a full queue blocks the source: nothing is lost);
live mode never blocks (a frame the consumer has no room for is dropped at once, and
the gap in sequence numbers tells the consumer exactly how many it missed).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from calib.errors import VideoError
from calib.fileio import read_image
from stream import messages as m
from stream.bus import offer
from stream.node_specs import SourceSpec

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
END_RETRY_S = 2.0


def video_frames(path: str | Path, limit: int = 0) -> Iterator[tuple[int, np.ndarray | None]]:
    """Every frame index the video's header promises, with None where it does not decode."""
    from train.data.video import VideoReader, frame_ranges

    with VideoReader(path) as reader:
        for i, frame in reader.frames():
            if limit and i >= limit:
                break
            yield i, frame
        if reader.undecodable:
            log.warning("%s: %d of %d frames do not decode: %s", path, len(reader.undecodable),
                        reader.n_frames, frame_ranges(reader.undecodable))


def image_frames(folder: str | Path, limit: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"{folder}: no such image folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VideoError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    for i, path in enumerate(files[:limit] if limit else files):
        frame = read_image(path)
        if frame is None:
            raise VideoError(f"{path}: cut off or not an image OpenCV can decode")
        yield i, frame


def camera_frames(device: str, limit: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """A camera by index (``"0"``) or URL (``rtsp://...``, ``http://...``)."""
    cap = cv2.VideoCapture(int(device) if device.isdigit() else device)
    if not cap.isOpened():
        raise VideoError(f"camera {device!r}: OpenCV cannot open it")
    try:
        i = 0
        while not limit or i < limit:
            ok, frame = cap.read()
            if not ok or frame is None:
                if i == 0:
                    raise VideoError(f"camera {device!r}: no frame could be read")
                log.info("camera %s: stream ended after %d frames", device, i)
                return
            yield i, frame
            i += 1
    finally:
        cap.release()


def synthetic_frames(spec: SourceSpec) -> Iterator[tuple[int, np.ndarray]]:
    """The synthetic animal, seen from above or, with a ``calibration``, by that calibrated
    camera on the floor of a virtual arena (:mod:`train.synth.arena`). Paced (``fps``), it
    is a triggered camera on the rig's clock: frame index k is the tick due at
    ``start_ns + k / fps`` (the same instant, and the same animal, for every synthetic
    camera of the rig; clip frame ``k % max_frames``); ticks already past when a frame is
    ready are skipped, as a camera that cannot keep up skips triggers."""
    from train.synth.animal import SynthConfig, SyntheticAnimal

    n = spec.max_frames or 300
    if spec.calibration:
        from calib.calibration import load_calibration
        from train.synth.arena import ArenaView, floor_config

        camera = load_calibration(spec.calibration).camera(spec.camera)
        animal = ArenaView(camera, SyntheticAnimal(floor_config(n, spec.fps or 30.0, spec.seed)))
    else:
        animal = SyntheticAnimal(SynthConfig(width=spec.width, height=spec.height, n_frames=n,
                                             fps=spec.fps or 30.0, seed=spec.seed))
    if not spec.fps:
        for i in range(n):
            yield i, animal.render(i)
        return
    period_ns = 1e9 / spec.fps
    start = spec.start_ns or m.now_ns()
    tick = -1
    for _ in range(n):
        tick = max(tick + 1, math.ceil((m.now_ns() - start) / period_ns))
        yield tick, animal.render(tick % n)


def _trigger_time(spec: SourceSpec, index: int, rng: np.random.Generator) -> float:
    """Wall-clock seconds when synthetic frame `index` is captured (tick +- jitter)."""
    jitter = rng.uniform(-spec.jitter_ms, spec.jitter_ms) * 1e6 if spec.jitter_ms else 0.0
    return (spec.start_ns + index * 1e9 / spec.fps + jitter) / 1e9


def streams(spec: SourceSpec) -> list[tuple[str, Iterator[tuple[int, np.ndarray]]]]:
    """``[(camera, frames)]`` that this source plays one after the other."""
    if spec.kind == "video":
        return [(spec.camera, video_frames(spec.path, spec.max_frames))]
    if spec.kind == "playlist":
        return [(cam, video_frames(path, spec.max_frames)) for cam, path in spec.playlist]
    if spec.kind == "images":
        return [(spec.camera, image_frames(spec.path, spec.max_frames))]
    if spec.kind == "camera":
        return [(spec.camera, camera_frames(spec.path, spec.max_frames))]
    if spec.kind == "synthetic":
        return [(spec.camera, synthetic_frames(spec))]
    raise VideoError(f"source {spec.name}: unknown kind {spec.kind!r}")


class _Sender:
    def __init__(self, spec: SourceSpec, node):
        self.node = node
        self.live = spec.mode == "live"
        self.sock = node.bus.frames_out(spec.endpoint, spec.mode)
        # live viewers get the frames on a second, published socket
        self.preview = None
        if self.live and spec.preview_endpoint:
            self.preview = node.bus.preview_out(spec.preview_endpoint)
        # ... and video recorders on a third, whose subscribers buffer frames themselves
        self.record = None
        if self.live and spec.record_endpoint:
            self.record = node.bus.record_out(spec.record_endpoint)

    def frame(self, msg: m.FrameMessage) -> None:
        if self.preview is not None:
            offer(self.preview, msg)
        if self.record is not None:
            offer(self.record, msg)
        if self.live:
            if offer(self.sock, msg):
                self.node.stats.frame(msg.camera, msg.t_capture)
            else:
                self.node.stats.drop()
            return
        if self.node.send(self.sock, msg):
            self.node.stats.frame(msg.camera, msg.t_capture)

    def end(self, msg: m.EndMessage) -> None:
        self.node.send(self.sock, msg)
        if self.record is not None:  # a full queue drains within moments: retry a while
            deadline = time.monotonic() + END_RETRY_S
            while not offer(self.record, msg) and time.monotonic() < deadline:
                time.sleep(0.01)


def run(spec: SourceSpec, node) -> None:
    cv2.setNumThreads(1)  # decoding shares the machine with inference
    sender = _Sender(spec, node)
    period = 1.0 / spec.fps if spec.fps and spec.kind != "camera" else 0.0
    playing = streams(spec)
    for k, (camera, frames) in enumerate(playing):
        if node.stop.requested:
            # a stop ends the streams not yet played too, so every consumer finishes
            for other, _ in playing[k:]:
                sender.end(m.EndMessage(other, -1))
            break
        seq = -1
        next_t = time.monotonic()
        triggered = spec.kind == "synthetic" and spec.fps and spec.start_ns
        rng = np.random.default_rng(spec.seed)
        for index, image in frames:
            if node.stop.requested:
                break
            if triggered:
                # a triggered camera's seq counts the frames it took (a skipped tick is no
                # frame); its index is the tick, the same for every camera of the rig
                seq += 1
                delay = _trigger_time(spec, index, rng) - time.time()
                if delay > 0:
                    time.sleep(delay)
            else:
                # seq is the frame's index: a frame that does not decode (None) is a gap in
                # the sequence, which every receiver counts, and the table keeps its row, empty
                seq = index
                if image is None:
                    continue
            if period and not triggered:
                # pace like a camera: sleep to the next tick, never catch up in a burst
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_t = max(next_t + period, time.monotonic() - period)
            sender.frame(m.FrameMessage(camera, seq, index, m.now_ns(), image))
            node.stats.queue = 0
            node.stats.tick()
        sender.end(m.EndMessage(camera, seq))
        log.debug("%s: %s ended after %d frames", spec.name, camera, seq + 1)
