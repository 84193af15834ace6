"""Recordings as resizable h5py datasets: rows buffered in memory, appended and flushed
together, readable by other processes (SWMR) while written and after a crash up to the
last flush."""

from __future__ import annotations

import abc
import json
from pathlib import Path

import h5py
import numpy as np

CHUNK = 256


def append_columns(h5: h5py.File, start: int, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length `columns` at row `start` of their resizable datasets and flush,
    so a reader (or a crash) sees every row up to here."""
    for name, values in columns.items():
        ds = h5[name]
        ds.resize(start + len(values), axis=0)
        ds[start:] = values
    h5.flush()


class RowFile(abc.ABC):
    """One stream's recording. A subclass names its datasets (``per_point``: ``(rows, K,
    ...)`` arrays, ``per_row``: int64 scalars) and turns buffered messages into columns."""

    per_point: dict[str, tuple[tuple[int, ...], type]] = {}
    per_row: tuple[str, ...] = ()

    def __init__(self, path: Path, camera: str, bodyparts: tuple[str, ...], attrs: dict):
        self.path = path
        self.camera = camera
        self.bodyparts = bodyparts
        self.rows = 0
        self._buf: list[tuple[object, int]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        k = len(bodyparts)
        self.h5 = h5py.File(path, "w", libver="latest")
        self.h5.attrs.update(bodyparts=json.dumps(list(bodyparts)), **attrs)
        for name, (tail, dtype) in self.per_point.items():
            self.h5.create_dataset(name, (0, k, *tail), dtype, maxshape=(None, k, *tail),
                                   chunks=(CHUNK, k, *tail))
        for name in self.per_row:
            self.h5.create_dataset(name, (0,), np.int64, maxshape=(None,), chunks=(CHUNK * 4,))
        self.h5.swmr_mode = True  # from here on readers may open the file while we write

    def add(self, msg, t_record: int) -> None:
        if msg.bodyparts != self.bodyparts:
            raise ValueError(f"{self.camera}: bodyparts changed mid-stream to {msg.bodyparts}")
        self._buf.append((msg, t_record))

    @property
    def pending(self) -> int:
        """Rows received but not yet written."""
        return len(self._buf)

    @abc.abstractmethod
    def columns(self, msgs: list, t_record: np.ndarray) -> dict[str, np.ndarray]:
        """The rows of `msgs` as one array per dataset."""

    def flush(self) -> None:
        if not self._buf:
            return
        msgs = [msg for msg, _ in self._buf]
        t_record = np.array([t for _, t in self._buf], np.int64)
        append_columns(self.h5, self.rows, self.columns(msgs, t_record))
        self.rows += len(msgs)
        self._buf.clear()

    def close(self) -> None:
        if self.h5.id.valid:
            self.flush()
            self.h5.close()
