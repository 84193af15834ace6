"""Reading pandas HDF5 tables (``DataFrame.to_hdf``, both the ``fixed`` and the ``table``
format) with h5py, without PyTables and without running any pickle.

pandas reads these files through PyTables, which unpickles every attribute whose bytes
end in ``.`` and every object array (``VLArray`` of ``ObjectAtom``); a crafted file then
runs code as soon as it is opened. DeepLabCut's own files do hold such pickles, but only
of lists, tuples, dicts, strings and numbers (column labels, level names, index
layouts). This reader unpickles them with an unpickler that resolves no global except
numpy's array reconstructor, checks that what comes out is plain data, and refuses
anything else with a :class:`DataError` naming the file and the node.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from calib.errors import DataError

# The only globals a pickle of plain data needs: numpy rebuilding an ndarray of objects
# or a scalar (pandas pickles object arrays of strings this way).
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_MAX_ITEMS = 10_000_000  # plain-data objects one pickle may hold
_NUMERIC = "biuf"


class _Refused(Exception):
    """A pickle asked for something other than plain data."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


class _NotAPickle(Exception):
    """The bytes do not parse as a pickle."""


def _load(data: bytes) -> Any:
    try:
        return _PlainUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused:
        raise
    except Exception as exc:  # a damaged pickle raises many types
        raise _NotAPickle(type(exc).__name__) from exc


def _refused(path: Path, what: str, exc: _Refused) -> DataError:
    return DataError(f"{path}: {what} is a pickle that asks for {exc}; only plain strings "
                     "and numbers are read")


def unpickle_plain(data: bytes, path: Path, what: str) -> Any:
    """Unpickle `data` if it holds only plain data (None, bool, numbers, strings, bytes,
    lists, tuples, dicts and numpy arrays of those); :class:`DataError` otherwise."""
    try:
        obj = _load(data)
    except _Refused as exc:
        raise _refused(path, what, exc) from None
    except _NotAPickle as exc:
        raise DataError(f"{path}: {what} is not a readable pickle ({exc})") from None
    _check_plain(obj, path, what)
    return obj


def _check_plain(obj: Any, path: Path, what: str) -> None:
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if len(seen) > _MAX_ITEMS:
            raise DataError(f"{path}: {what} holds more than {_MAX_ITEMS} objects")
        if item is None or isinstance(item, (str, bytes, bool, int, float, np.generic)):
            if isinstance(item, np.generic) and item.dtype.kind not in _NUMERIC + "SU":
                raise DataError(f"{path}: {what} holds a numpy {item.dtype} value")
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, np.ndarray) and type(item) is np.ndarray:
            if item.dtype == object:
                stack.extend(item.ravel().tolist())
            elif item.dtype.kind not in _NUMERIC + "SU" or item.dtype.fields is not None:
                raise DataError(f"{path}: {what} holds a numpy {item.dtype} array")
        else:
            raise DataError(f"{path}: {what} holds a {type(item).__name__}, not plain data")


def _attr(node: h5py.HLObject, name: str, path: Path, default: Any = None) -> Any:
    """Attribute `name` of `node` as PyTables would return it (a bytes value ending in
    ``.`` is a pickle when it parses as one), but unpickled only if it is plain data."""
    if name not in node.attrs:
        return default
    value = node.attrs[name]
    what = f"attribute {name} of {node.name}"
    if isinstance(value, h5py.Empty):
        return ""
    if isinstance(value, (bytes, np.bytes_)):
        raw = bytes(value)
        if raw.endswith(b"."):
            try:
                obj = _load(raw)
            except _Refused as exc:
                raise _refused(path, what, exc) from None
            except _NotAPickle:
                return raw.decode("utf-8", "replace")  # text that merely ends in "."
            _check_plain(obj, path, what)
            return obj
        return raw.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_h5_frame(path: Path, key: str) -> pd.DataFrame:
    """The DataFrame that ``df.to_hdf(path, key=key)`` stored (or the only one in the file
    when `key` is absent), read without PyTables and without running pickles."""
    try:
        with h5py.File(path, "r") as f:
            group = _table_group(f, key, path)
            kind = _attr(group, "pandas_type", path)
            if kind == "frame":
                return _read_fixed(group, path)
            if kind == "frame_table":
                return _read_table(group, path)
            raise DataError(f"{path}: {group.name} is not a pandas DataFrame "
                            f"(pandas_type {kind!r})")
    except DataError:
        raise
    except Exception as exc:  # h5py/numpy/pandas raise many types for a damaged file
        raise DataError(f"{path}: cannot read table ({type(exc).__name__}: {exc})") from exc


def _table_group(f: h5py.File, key: str, path: Path) -> h5py.Group:
    if isinstance(f.get(key), h5py.Group):
        return f[key]
    groups = [g for g in f.values() if isinstance(g, h5py.Group) and "pandas_type" in g.attrs]
    if len(groups) != 1:
        raise DataError(f"{path}: no table {key!r} and {len(groups)} other pandas tables")
    return groups[0]


# ---------------------------------------------------------------- the fixed format

def _read_fixed(group: h5py.Group, path: Path) -> pd.DataFrame:
    if _attr(group, "ndim", path, 2) != 2:
        raise DataError(f"{path}: {group.name} is not a 2D frame")
    columns = _read_axis(group, "axis0", path)
    index = _read_axis(group, "axis1", path)
    parts = []
    for i in range(int(_attr(group, "nblocks", path, 0))):
        items = _read_axis(group, f"block{i}_items", path)
        values = _read_array(group[f"block{i}_values"], path, numeric=True)
        if values.shape != (len(items), len(index)):
            raise DataError(f"{path}: {group.name}/block{i}_values has shape {values.shape}, "
                            f"expected {(len(items), len(index))}")
        parts.append(pd.DataFrame(values.T, index=index, columns=items))
    if not parts:
        return pd.DataFrame(index=index, columns=columns)
    df = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
    if not df.columns.equals(columns):
        df = df.reindex(columns=columns)
    return df


def _read_axis(group: h5py.Group, name: str, path: Path) -> pd.Index:
    if _attr(group, f"{name}_variety", path) != "multi":
        return _read_index(group[name], group, path)
    levels, codes, names = [], [], []
    for i in range(int(_attr(group, f"{name}_nlevels", path, 0))):
        level = _read_index(group[f"{name}_level{i}"], group, path)
        levels.append(level)
        names.append(level.name)
        codes.append(np.asarray(group[f"{name}_label{i}"][()], np.int64))
    return pd.MultiIndex(levels=levels, codes=codes, names=names)


def _read_index(node: h5py.Dataset, group: h5py.Group, path: Path) -> pd.Index:
    kind = _attr(node, "kind", path)
    name = _attr(node, "name", path)
    if kind not in ("string", "integer", "float", "object"):
        raise DataError(f"{path}: {node.name} is an index of kind {kind!r}; poseloop reads "
                        "string, integer, float and object indexes")
    data = _read_array(node, path, numeric=kind in ("integer", "float"))
    if kind == "string":
        encoding = _attr(group, "encoding", path) or "UTF-8"
        data = np.array([v.decode(encoding) if isinstance(v, bytes) else str(v) for v in data],
                        dtype=object)
    name = name if isinstance(name, (str, int)) else None
    if kind in ("string", "object"):
        return pd.Index(list(data), dtype=str if kind == "string" else object, name=name)
    return pd.Index(data, name=name)


def _read_array(node: h5py.Dataset, path: Path, numeric: bool) -> np.ndarray:
    if "shape" in node.attrs and int(np.prod(_attr(node, "shape", path))) == 0:
        return np.empty(tuple(_attr(node, "shape", path)), np.float64 if numeric else object)
    if node.dtype.kind == "O":  # a PyTables VLArray of pickled objects
        rows = node[()]
        if len(rows) != 1:
            raise DataError(f"{path}: {node.name} holds {len(rows)} pickled rows, expected 1")
        data = np.asarray(unpickle_plain(bytes(rows[0]), path, f"object array {node.name}"))
    else:
        data = node[()]
    if numeric and data.dtype.kind not in _NUMERIC:
        raise DataError(f"{path}: {node.name} holds {data.dtype} values, expected numbers")
    if _attr(node, "transposed", path, False):
        data = data.T
    return data


# ---------------------------------------------------------------- the table format

def _read_table(group: h5py.Group, path: Path) -> pd.DataFrame:
    if _attr(group, "table_type", path) != "appendable_frame":
        raise DataError(f"{path}: {group.name} is a {_attr(group, 'table_type', path)!r} "
                        "table; poseloop reads appendable frames")
    if _attr(group, "data_columns", path, []):
        raise DataError(f"{path}: {group.name} has data columns, which poseloop does not read")
    table = group["table"]
    rows = table[()]
    info = _attr(group, "info", path, {})
    info = info if isinstance(info, dict) else {}
    index_kind = _attr(table, "index_kind", path)
    index = rows["index"]
    if index_kind == "string":
        encoding = _attr(group, "encoding", path) or "UTF-8"
        index = pd.Index([bytes(v).decode(encoding) for v in index])
    elif index_kind in ("integer", "float"):
        index = pd.Index(index)
    else:
        raise DataError(f"{path}: {table.name} has an index of kind {index_kind!r}")
    index.name = _names(info.get("index"), 1)[0]
    axes = _attr(group, "non_index_axes", path, [])
    try:
        (axis, labels), = axes
        labels = [tuple(c) if isinstance(c, (list, tuple)) else c for c in labels]
    except (TypeError, ValueError):
        raise DataError(f"{path}: {group.name} has no column labels") from None
    column_info = info.get(axis, {}) if isinstance(info.get(axis), dict) else {}
    if column_info.get("type") == "MultiIndex":
        nlevels = len(labels[0]) if labels else 0
        columns = pd.MultiIndex.from_tuples(labels, names=_names(column_info, nlevels))
    else:
        columns = pd.Index(labels, name=_names(column_info, 1)[0])
    parts = []
    for block in _attr(group, "values_cols", path, []):
        values = rows[block]
        if values.dtype.kind not in _NUMERIC:
            raise DataError(f"{path}: {table.name}/{block} holds {values.dtype} values")
        items = [tuple(c) if isinstance(c, (list, tuple)) else c
                 for c in _attr(table, f"{block}_kind", path, [])]
        values = values.reshape(len(rows), -1)
        if values.shape[1] != len(items):
            raise DataError(f"{path}: {table.name}/{block} has {values.shape[1]} columns "
                            f"but {len(items)} labels")
        block_columns = (pd.MultiIndex.from_tuples(items) if isinstance(columns, pd.MultiIndex)
                         else pd.Index(items))
        parts.append(pd.DataFrame(values, index=index, columns=block_columns))
    df = pd.concat(parts, axis=1) if len(parts) != 1 else parts[0]
    df = df.reindex(columns=columns) if not df.columns.equals(columns) else df
    df.columns = columns
    return df


def _names(info: Any, n: int) -> list:
    names = info.get("names") if isinstance(info, dict) else None
    if isinstance(names, (list, tuple)) and len(names) == n:
        return [v if isinstance(v, (str, int)) or v is None else str(v) for v in names]
    return [None] * n
