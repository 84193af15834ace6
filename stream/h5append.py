"""Appending rows to the resizable h5py datasets of the recorders."""

from __future__ import annotations

import h5py
import numpy as np


def append_columns(h5: h5py.File, start: int, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length `columns` at row `start` of their resizable datasets and flush,
    so a reader (or a crash) sees every row up to here."""
    for name, values in columns.items():
        ds = h5[name]
        ds.resize(start + len(values), axis=0)
        ds[start:] = values
    h5.flush()
