"""One frame range of one video analyzed in this process: frames are decoded on a thread
while the network runs, in batches that start at the range's first frame (a multiple of
the batch size, see :mod:`stream.scale.parts`), and the poses become one part file. A
frame that does not decode is a row of NaN at its own index, as in the batch pipeline
(:meth:`train.data.video.VideoReader.frames` resumes after the damage).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stream.scale.parts import write_part

DECODE_AHEAD = 4  # batches decoded ahead of the network
PUT_TIMEOUT_S = 0.2


@dataclass(frozen=True)
class RangeTask:
    """Frames ``[start, stop)`` of `video`, to analyze into the part file `part`."""

    video: str
    part: str
    start: int
    stop: int
    key: dict  # what the part is made with (parts.part_key), batch size included

    @property
    def frames(self) -> int:
        return self.stop - self.start


def fingerprint(timestamp_ms: float, frame: np.ndarray | None) -> list:
    """``[container timestamp in ms, hash of the pixels]``: the same frame read in order
    or after a seek gives the same fingerprint (``[None, None]`` for one that does not
    decode either way)."""
    if frame is None:
        return [None, None]
    return [timestamp_ms, hashlib.blake2b(frame.tobytes(), digest_size=8).hexdigest()]


class _Decoder(threading.Thread):
    """Reads the range (and the frame before it, after a seek) into a queue of batches;
    ``None`` ends the queue, after which ``error`` holds what went wrong, if anything."""

    def __init__(self, video: Path, start: int, stop: int, batch_size: int):
        super().__init__(daemon=True)
        self.video, self.start_frame, self.stop_frame = video, start, stop
        self.batch_size = batch_size
        self.batches: queue.Queue = queue.Queue(DECODE_AHEAD)
        self.before: list | None = None
        self.last: list | None = None
        self.error: BaseException | None = None
        self.cancelled = threading.Event()

    def _put(self, item) -> None:
        while not self.cancelled.is_set():
            try:
                self.batches.put(item, timeout=PUT_TIMEOUT_S)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        from calib.errors import VideoError
        from train.data.video import VideoReader

        try:
            with VideoReader(self.video) as reader:
                if self.start_frame > 0:
                    try:
                        frame = reader.read(self.start_frame - 1)  # the seek
                    except VideoError:
                        frame = None
                    self.before = fingerprint(reader.timestamp_ms, frame)
                batch = []
                # None for a frame that does not decode: its row is NaN (see _predict)
                for index, frame in reader.frames():
                    if index < self.start_frame:  # the frame before, when it did not decode
                        continue
                    if index >= self.stop_frame:
                        break
                    batch.append(frame)
                    self.last = fingerprint(reader.timestamp_ms, frame)
                    if len(batch) == self.batch_size:
                        self._put(batch)
                        batch = []
                    if self.cancelled.is_set():
                        return
                if batch:
                    self._put(batch)
        except BaseException as exc:  # handed to the consumer, which raises it
            self.error = exc
        finally:
            self._put(None)


def _predict(model, batch: list[np.ndarray | None]) -> np.ndarray:
    """The poses of `batch`, a row of NaN for each frame that did not decode (None)."""
    animals = (len(model.individuals),) if model.individuals else ()
    poses = np.full((len(batch), *animals, len(model.bodyparts), 3), np.nan, np.float32)
    decoded = [i for i, frame in enumerate(batch) if frame is not None]
    if decoded:
        poses[decoded] = model.predict_frames([batch[i] for i in decoded])
    return poses


def analyze_range(model, video: Path, start: int, stop: int, batch_size: int):
    """Poses ``(stop - start, K, 3)`` (several animals: ``(stop - start, I, K, 3)``) of
    frames ``[start, stop)`` of `video` by `model` (:class:`PoseModel`), NaN rows for
    frames that do not decode, with the fingerprints of frame ``start - 1`` (None at 0)
    and of frame ``stop - 1``."""
    decoder = _Decoder(video, start, stop, batch_size)
    decoder.start()
    out = []
    try:
        while (batch := decoder.batches.get()) is not None:
            out.append(_predict(model, batch))
    finally:
        decoder.cancelled.set()
        decoder.join()
    if decoder.error is not None:
        raise decoder.error
    rows = (len(model.individuals),) if model.individuals else ()
    empty = np.zeros((0, *rows, len(model.bodyparts), 3), np.float32)
    poses = np.concatenate(out) if out else empty
    return poses, decoder.before, decoder.last


def run_range(model, task: RangeTask) -> dict:
    """Analyze `task` and write its part file; returns ``frames`` and ``seconds``."""
    t0 = time.perf_counter()
    poses, before, last = analyze_range(
        model, Path(task.video), task.start, task.stop, task.key["batch_size"]
    )
    meta = {
        **task.key,
        "start": task.start,
        "stop": task.stop,
        "bodyparts": list(model.bodyparts),
        "individuals": list(model.individuals),
        "before": before,
        "last": last,
    }
    write_part(Path(task.part), poses, meta)
    return {"frames": len(poses), "seconds": time.perf_counter() - t0}
