"""Video files through OpenCV, with errors that name the file and the frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from calib.errors import VideoError
from calib.fileio import atomic_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".webm")


class VideoReader:
    """Sequential (and seekable) reading of BGR ``uint8`` frames from a video file.

    Opening checks that the file exists and that its first frame decodes, so a
    corrupt file fails at once rather than mid-analysis.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such video file")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise VideoError(f"{self.path}: OpenCV cannot open this file as a video")
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise VideoError(f"{self.path}: cannot decode frame 0 (corrupt or unsupported video)")
        self.height, self.width = frame.shape[:2]
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._next = 0
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.n_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))

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
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next = index
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise VideoError(
                f"{self.path}: cannot decode frame {self._next} of {self.n_frames}"
            )
        self._next += 1
        return frame

    def skip(self) -> bool:
        """Step over the next frame without converting it to an image (several times
        cheaper than :meth:`read`); False at the end of the video."""
        if not self._cap.grab():
            return False
        self._next += 1
        return True

    def __iter__(self) -> Iterator[np.ndarray]:
        """All frames from the current position. Ends at the last frame that decodes;
        a video that ends before its header's frame count is corrected in ``n_frames``."""
        while True:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if self._next < self.n_frames:
                    self.n_frames = self._next
                return
            self._next += 1
            yield frame

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
