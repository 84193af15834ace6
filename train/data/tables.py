"""DeepLabCut tables: human labels (``CollectedData_<scorer>``), analysis output
(``<video><scorer>``) and 3D output, in HDF5 (pandas/PyTables, key
``df_with_missing``) and CSV (three header rows: scorer, bodyparts, coords).

This is the one module that reads and writes them; everything else works on the
arrays of :mod:`train.data.keypoints`.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import h5py
import numpy as np
import pandas as pd

from calib.errors import DataError
from calib.fileio import atomic_path
from train.data.h5safe import read_h5_frame
from train.data.keypoints import LabeledFrames, Poses2D, Poses3D

KEY = "df_with_missing"
# The format version pandas 2 writes into every HDF5 group and reads back to tell the
# current layout from pre-0.10 files; pandas 3 stopped writing it, and pandas 2 (hence
# DeepLabCut, which pins pandas < 3) then fails on the file. We write it ourselves.
PANDAS_FORMAT_VERSION = "0.15.2"
LEVELS = ["scorer", "bodyparts", "coords"]
COORDS_3D = ("x", "y", "z", "score", "error", "ncams")
STAMP_ATTR = "poseloop_stamp"  # root attribute of an analysis table: JSON, see write_analysis


# ---------------------------------------------------------------- reading raw frames

def _read_frame(path: Path) -> pd.DataFrame:
    """Read a DeepLabCut table as a DataFrame, naming the file in every failure."""
    if not path.exists():
        raise DataError(f"{path}: no such table")
    suffix = path.suffix.lower()
    try:
        if suffix == ".h5":
            # never pd.read_hdf: PyTables would run any pickle a crafted file holds
            df = read_h5_frame(path, KEY)
        elif suffix == ".csv":
            df = _read_csv(path)
        else:
            raise DataError(f"{path}: expected a .h5 or .csv table")
    except DataError:
        raise
    except Exception as exc:  # PyTables/pandas raise many types for a corrupt file
        raise DataError(f"{path}: cannot read table ({type(exc).__name__}: {exc})") from exc
    if not isinstance(df, pd.DataFrame) or not isinstance(df.columns, pd.MultiIndex):
        raise DataError(f"{path}: not a DeepLabCut table (columns are not scorer/bodyparts/coords)")
    names = list(df.columns.names)
    if "individuals" in names:
        raise DataError(f"{path}: multi-animal tables (level 'individuals') are not supported yet")
    if names != LEVELS:
        raise DataError(f"{path}: column levels are {names}, expected {LEVELS}")
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    head = pd.read_csv(path, header=[0, 1, 2], nrows=0)
    # DeepLabCut 3 writes the image path as three index columns; their header cells
    # are empty, which pandas reports as "Unnamed: ...".
    second = str(head.columns[1][0]) if len(head.columns) > 1 else ""
    n_index = 3 if second.startswith("Unnamed") else 1
    df = pd.read_csv(path, header=[0, 1, 2], index_col=list(range(n_index)))
    df.columns = df.columns.set_names(LEVELS)
    if n_index == 1:
        df.index.name = None
    else:
        df.index.names = [None] * n_index
    return df


# ---------------------------------------------------------------- labels

def _single_scorer(df: pd.DataFrame, path: Path) -> str:
    scorers = df.columns.get_level_values("scorer").unique()
    if len(scorers) != 1:
        raise DataError(f"{path}: expected one scorer, found {list(scorers)}")
    return str(scorers[0])


def _bodyparts_in_order(df: pd.DataFrame) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(b) for b in df.columns.get_level_values("bodyparts")))


def _columns(
    df: pd.DataFrame, path: Path, scorer: str, bodyparts: tuple[str, ...], coords: tuple[str, ...]
) -> np.ndarray:
    """``(rows, bodyparts, coords)`` float64 values, naming the missing column if any."""
    out = np.empty((len(df), len(bodyparts), len(coords)))
    for j, b in enumerate(bodyparts):
        for k, c in enumerate(coords):
            try:
                column = df[(scorer, b, c)]
            except KeyError:
                raise DataError(f"{path}: no column {scorer}/{b}/{c}") from None
            out[:, j, k] = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    return out


def read_labels(path: str | Path) -> LabeledFrames:
    """Read ``CollectedData_<scorer>.h5|.csv`` (or ``machinelabels``) into LabeledFrames."""
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts = _bodyparts_in_order(df)
    coords = set(df.columns.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise DataError(f"{path}: coords must include x and y, found {sorted(coords)}")
    if isinstance(df.index, pd.MultiIndex):
        if df.index.nlevels != 3:
            raise DataError(f"{path}: image index has {df.index.nlevels} levels, expected 1 or 3")
        images = ["/".join(str(p) for p in t) for t in df.index]
        style = "tuple"
    else:
        images = [str(p).replace("\\", "/") for p in df.index]
        style = "flat"
    xy = _columns(df, path, scorer, bodyparts, ("x", "y"))
    _check_labels(path, images, bodyparts, xy)
    likelihood = None
    if "likelihood" in coords:
        likelihood = _columns(df, path, scorer, bodyparts, ("likelihood",))[..., 0]
    return LabeledFrames(scorer, bodyparts, images, xy, style, likelihood)


MAX_LABEL_PX = 100_000.0  # wider than any camera image: a label beyond it is corrupt


def _check_labels(path: Path, images: list[str], bodyparts: tuple[str, ...],
                  xy: np.ndarray) -> None:
    """Refuse image paths that leave the project and coordinates no image can have."""
    for image in images:
        parts = PurePosixPath(image).parts
        if not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
            raise DataError(f"{path}: image path {image!r} is not inside the project "
                            "(absolute, or going up with '..')")
    bad = ~np.isnan(xy) & ~(np.abs(xy) <= MAX_LABEL_PX)
    if bad.any():
        i, j, c = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(f"{path}: {images[i]}: {bodyparts[j]} {'xy'[c]} = {xy[i, j, c]} is not a "
                        f"pixel coordinate (beyond {MAX_LABEL_PX:g})")


def labels_to_frame(labels: LabeledFrames) -> pd.DataFrame:
    """The DeepLabCut DataFrame of `labels` (index form as ``labels.index_style``)."""
    coords = ("x", "y") if labels.likelihood is None else ("x", "y", "likelihood")
    columns = pd.MultiIndex.from_product([[labels.scorer], labels.bodyparts, coords], names=LEVELS)
    values = labels.xy
    if labels.likelihood is not None:
        values = np.concatenate([values, labels.likelihood[..., None]], axis=2)
    values = values.reshape(len(labels), -1)
    if labels.index_style == "tuple":
        parts = [tuple(p.split("/", 2)) for p in labels.images]
        bad = [p for p in parts if len(p) != 3]
        if bad:
            raise DataError(
                f"image paths must be labeled-data/<video>/<file>, got {'/'.join(bad[0])}"
            )
        index = pd.MultiIndex.from_tuples(parts)
    else:
        index = pd.Index(labels.images)
    return pd.DataFrame(values, index=index, columns=columns)


def write_labels(labels: LabeledFrames, path: str | Path, csv: bool = True) -> Path:
    """Write `labels` to `path` (``.h5``) and, with `csv`, the same table beside it.

    Each file is written to a temporary name and renamed, so a crash leaves the old
    file intact.
    """
    return _write_table(labels_to_frame(labels), path, csv)


def _write_table(df: pd.DataFrame, path: str | Path, csv: bool, stamp: dict | None = None) -> Path:
    """`df` to ``path.h5`` and, with `csv`, to ``path.csv``; returns the h5 path."""
    path = Path(path).with_suffix(".h5")
    _write_h5(df, path, stamp)
    if csv:
        _write_csv(df, path.with_suffix(".csv"))
    return path


def _write_h5(df: pd.DataFrame, path: Path, stamp: dict | None = None) -> None:
    # PyTables' "table" format cannot hold a MultiIndex row index (DeepLabCut 3's
    # image tuples); DeepLabCut itself writes those in the "fixed" format.
    fmt = "fixed" if isinstance(df.index, pd.MultiIndex) else "table"
    with atomic_path(path) as tmp:
        df.to_hdf(tmp, key=KEY, mode="w", format=fmt)
        _stamp_format_version(tmp)
        if stamp is not None:
            with h5py.File(tmp, "a") as f:
                f.attrs[STAMP_ATTR] = json.dumps(stamp)


def _stamp_format_version(path: Path) -> None:
    """Give the table's group the ``pandas_version`` attribute pandas 2 needs to read it."""
    import tables

    with tables.open_file(path, mode="a") as h5:
        attrs = h5.get_node(f"/{KEY}")._v_attrs
        if "pandas_version" not in attrs._v_attrnames:
            attrs.pandas_version = PANDAS_FORMAT_VERSION


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp)


# ---------------------------------------------------------------- analysis output

def analysis_path(video: str | Path, scorer: str, destfolder: str | Path | None = None) -> Path:
    """DeepLabCut's name for the analysis of `video`: ``<videostem><scorer>.h5``."""
    video = Path(video)
    folder = Path(destfolder) if destfolder is not None else video.parent
    return folder / f"{video.stem}{scorer}.h5"


def poses_to_frame(poses: Poses2D, scorer: str) -> pd.DataFrame:
    columns = pd.MultiIndex.from_product(
        [[scorer], poses.bodyparts, ("x", "y", "likelihood")], names=LEVELS
    )
    return pd.DataFrame(poses.data.reshape(poses.n_frames, -1).astype(np.float64), columns=columns)


def write_analysis(
    poses: Poses2D, scorer: str, path: str | Path, csv: bool = False, stamp: dict | None = None
) -> Path:
    """Write 2D poses as a DeepLabCut analysis table (frame-numbered index).

    `stamp` (plain JSON values) is kept in the h5 file's root attribute ``poseloop_stamp``,
    where DeepLabCut and pandas do not look; :func:`read_stamp` reads it back.
    """
    return _write_table(poses_to_frame(poses, scorer), path, csv, stamp)


def read_stamp(path: str | Path) -> tuple[dict | None, int]:
    """The stamp of an analysis table (None if it has none) and its number of rows (-1 if
    unknown), read with h5py alone: nothing in the file is unpickled. DataError if the
    file cannot be read."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(STAMP_ATTR)
            table = f.get(f"{KEY}/table")
            rows = table.shape[0] if isinstance(table, h5py.Dataset) and table.ndim else -1
    except OSError as exc:
        raise DataError(f"{path}: cannot read table ({exc})") from exc
    if raw is None:
        return None, rows
    try:
        stamp = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError as exc:
        raise DataError(f"{path}: attribute {STAMP_ATTR} is not JSON ({exc})") from exc
    return (stamp if isinstance(stamp, dict) else None), rows


def read_analysis(path: str | Path) -> tuple[Poses2D, str]:
    """Read a DeepLabCut analysis table: returns the poses and the scorer."""
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts = _bodyparts_in_order(df)
    data = _columns(df, path, scorer, bodyparts, ("x", "y", "likelihood"))
    return Poses2D(bodyparts, data), scorer


# ---------------------------------------------------------------- 3D output

def poses3d_path(stem: str, folder: str | Path) -> Path:
    """The name of a 3D table: ``<folder>/<stem>_3d.h5`` (stem: the first camera's
    analysis table, or a live triangulation stream)."""
    return Path(folder) / f"{stem}_3d.h5"


def write_poses3d(poses: Poses3D, scorer: str, path: str | Path, csv: bool = True) -> Path:
    """Write 3D poses: per bodypart coords x, y, z, score, error (px), ncams."""
    columns = pd.MultiIndex.from_product([[scorer], poses.bodyparts, COORDS_3D], names=LEVELS)
    values = np.concatenate(
        [
            poses.xyz.astype(np.float64),
            poses.score[..., None].astype(np.float64),
            poses.reprojection_error[..., None].astype(np.float64),
            poses.n_cameras[..., None].astype(np.float64),
        ],
        axis=2,
    ).reshape(poses.n_frames, -1)
    return _write_table(pd.DataFrame(values, columns=columns), path, csv)


def read_poses3d(path: str | Path) -> tuple[Poses3D, str]:
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts = _bodyparts_in_order(df)
    arr = _columns(df, path, scorer, bodyparts, COORDS_3D)
    ncams = np.nan_to_num(arr[..., 5]).astype(np.int16)
    return Poses3D(bodyparts, arr[..., :3], arr[..., 3], arr[..., 4], ncams), scorer
