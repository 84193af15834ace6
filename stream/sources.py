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
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from calib.errors import VideoError
from stream import messages as m
from stream.bus import offer
from stream.rig import SourceSpec

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


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
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise VideoError(f"{path}: OpenCV cannot decode this image")
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
    from train.synth.animal import SynthConfig, SyntheticAnimal

    n = spec.max_frames or 300
    animal = SyntheticAnimal(
        SynthConfig(
            width=spec.width, height=spec.height, n_frames=n, fps=spec.fps or 30.0, seed=spec.seed
        )
    )
    for i in range(n):
        yield i, animal.render(i)


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

    def frame(self, msg: m.FrameMessage) -> None:
        if self.preview is not None:
            offer(self.preview, msg)
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
        for index, image in frames:
            if node.stop.requested:
                break
            # seq is the frame's index: a frame that does not decode (None) is a gap in the
            # sequence, which every receiver counts, and the table keeps its row, empty
            seq = index
            if image is None:
                continue
            if period:
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
