"""Video files through OpenCV, with errors that name the file and the frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from calib.errors import VideoError
from calib.fileio import atomic_path

MAX_FRAMES = 1 << 31  # a header frame count beyond this is not believed
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".webm")


class VideoReader:
    """Sequential and random access to the BGR ``uint8`` frames of a video file.

    Opening checks that the file exists and that its first frame decodes, so a corrupt
    file fails at once rather than mid-analysis. The reader never trusts a seek it
    cannot check: a seek counts only when the decoder then reports the frame number and
    timestamp asked for; otherwise (a raw MJPEG stream, a variable frame rate) the file
    is read from the start instead.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such video file")
        self._cap = self._open()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise VideoError(f"{self.path}: cannot decode frame 0 (corrupt or unsupported video)")
        self.height, self.width = frame.shape[:2]
        # frame 0 is kept for the first read rather than sought back to: a stream that
        # cannot seek ignores the seek and would shift every frame by one
        self._held: np.ndarray | None = frame
        self._next = 0
        self._seekable = True  # until a seek fails its check
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.n_frames = self._frame_count()
        self.undecodable: list[int] = []  # frame indices frames() could not decode

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoError(f"{self.path}: OpenCV cannot open this file as a video")
        return cap

    def _frame_count(self) -> int:
        """The header's frame count, or (raw streams have none) the frames counted."""
        header = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        if 0 < header < MAX_FRAMES:
            return int(header)
        cap, n = self._open(), 0
        try:
            while n < MAX_FRAMES and cap.grab():
                n += 1
        finally:
            cap.release()
        return n

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.width, self.height

    def __len__(self) -> int:
        return self.n_frames

    @property
    def timestamp_ms(self) -> float:
        """The container's presentation time of the frame read last, in ms (tells
        whether a seek landed on the frame it asked for)."""
        return float(self._cap.get(cv2.CAP_PROP_POS_MSEC))

    def read(self, index: int | None = None) -> np.ndarray:
        """The frame at `index` (default: the next one); VideoError if it does not decode."""
        if index is not None and index != self._next:
            self._seek(index)
        return self._read_next()

    def _read_next(self) -> np.ndarray:
        if self._held is not None:
            frame, self._held = self._held, None
        else:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise self._undecodable(self._next)
        self._next += 1
        return frame

    def _seek(self, index: int) -> None:
        """Position before frame `index`: a checked seek, else reading from the start."""
        if index > 0 and self._seekable:
            if self._try(index):
                return
            # no frame, or another frame than asked: where the decoder stands is unknown
            self._reopen()
        elif index < self._next:
            self._reopen()
        if self._held is not None:  # a held frame is consumed by stepping over it
            self._held = None
            self._next += 1
        while self._next < index:
            if not self._cap.grab():
                raise self._undecodable(self._next)
            self._next += 1

    def _undecodable(self, index: int) -> VideoError:
        return VideoError(f"{self.path}: cannot decode frame {index} of {self.n_frames}")

    def _reopen(self) -> None:
        self._cap.release()
        self._cap, self._next, self._held = self._open(), 0, None

    def _at(self, position: int) -> bool:
        """Whether the decoder has just returned frame ``position - 1``, by both its frame
        counter and the frame's timestamp."""
        counted = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        stamped = self._cap.get(cv2.CAP_PROP_POS_MSEC) * self.fps / 1000.0
        return round(counted) == position and abs(stamped - (position - 1)) < 0.5

    def skip(self) -> bool:
        """Step over the next frame without converting it to an image (several times
        cheaper than :meth:`read`); False at the end of the video."""
        if self._held is not None:
            self._held = None
        elif not self._cap.grab():
            return False
        self._next += 1
        return True

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames from the current position up to the first that does not decode
        (so ``enumerate`` gives true indices); a video that ends before its header's frame
        count is corrected in ``n_frames``. :meth:`frames` goes on past damage."""
        while True:
            try:
                frame = self._read_next()
            except VideoError:
                if self._next < self.n_frames:
                    self.n_frames = self._next
                return
            yield frame

    def frames(self) -> Iterator[tuple[int, np.ndarray | None]]:
        """``(index, frame)`` for every index from the current position to ``n_frames - 1``,
        with None where the frame does not decode (recorded in ``undecodable``).

        After a frame that fails, decoding resumes at the first later frame that a checked
        seek reaches; every frame in between, and every frame the header promises beyond
        the last that decodes, is None at its own index, so indices never shift.
        """
        while self._next < self.n_frames:
            index = self._next
            try:
                frame = self._read_next()
            except VideoError:
                frame = None
            if frame is not None:
                yield index, frame
                continue
            resume = self._resume_after(index)
            self.undecodable.extend(range(index, resume))
            for lost in range(index, resume):
                yield lost, None

    def _resume_after(self, failed: int) -> int:
        """The first index after `failed` that decodes (held for the next read), found by
        checked seeks at growing steps and then a bisection; ``n_frames`` if none."""
        good, bad, step = None, failed, 1
        while self._seekable and bad < self.n_frames - 1:
            probe = min(bad + step, self.n_frames - 1)
            if self._try(probe):
                good = probe
                break
            bad, step = probe, step * 2
        if good is None:
            self._next, self._held = self.n_frames, None
            return self.n_frames
        while good - bad > 1:
            middle = (bad + good) // 2
            if self._try(middle):
                good = middle
            else:
                bad = middle
        if not self._try(good):  # bisection probes moved the decoder; come back to `good`
            self._next, self._held = self.n_frames, None
            return self.n_frames
        return good

    def _try(self, index: int) -> bool:
        """A checked seek to `index`; on success its frame is held for the next read. A
        frame that decodes elsewhere than asked marks the file as not seekable."""
        self._held = None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return False
        if not self._at(index + 1):
            self._seekable = False
            return False
        self._held, self._next = frame, index
        return True

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def frame_ranges(indices: list[int], limit: int = 8) -> str:
    """``"12-15, 40, 97-199"`` for sorted frame `indices` (the first `limit` runs)."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:limit])
    return text + (f" and {len(runs) - limit} more runs" if len(runs) > limit else "")


def write_video(path: str | Path, frames, fps: float = 30.0, codec: str = "mp4v") -> int:
    """Write BGR frames (an iterable of ``(H, W, 3) uint8``) to `path` atomically.

    Returns the number of frames written.
    """
    path = Path(path)
    count = 0
    with atomic_path(path) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
                    if not writer.isOpened():
                        raise VideoError(f"{path}: OpenCV cannot write codec {codec!r}")
                writer.write(np.ascontiguousarray(frame))
                count += 1
        finally:
            if writer is not None:
                writer.release()
        if count == 0:
            raise VideoError(f"{path}: no frames to write")
    return count
