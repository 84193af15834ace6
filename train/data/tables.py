"""DeepLabCut tables: human labels (``CollectedData_<scorer>``), analysis output
(``<video><scorer>``) and 3D output, in HDF5 (pandas/PyTables, key
``df_with_missing``) and CSV (three header rows: scorer, bodyparts, coords).
Multi-animal tables have a fourth column level, ``individuals``, after the scorer
(unique bodyparts under the individual ``single``), as DeepLabCut writes them.

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
from train.data.keypoints import SINGLE, LabeledFrames, Poses2D, Poses3D, table_columns

KEY = "df_with_missing"
TRACKS_KEY = "tracks"  # DeepLabCut 3's key for tracked (stitched) multi-animal tables
TRACKER_SUFFIX = "_el"  # ... and the end of their file name (see tracked_path)
# The format version pandas 2 writes into every HDF5 group and reads back to tell the
# current layout from pre-0.10 files; pandas 3 stopped writing it, and pandas 2 (hence
# DeepLabCut, which pins pandas < 3) then fails on the file. We write it ourselves.
PANDAS_FORMAT_VERSION = "0.15.2"
LEVELS = ["scorer", "bodyparts", "coords"]
MULTI_LEVELS = ["scorer", "individuals", "bodyparts", "coords"]
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
    if names not in (LEVELS, MULTI_LEVELS):
        raise DataError(f"{path}: column levels are {names}, expected {LEVELS} or "
                        f"{MULTI_LEVELS}")
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open(newline="") as f:
        f.readline()
        second_row = f.readline()
    # the first cell of each header row names its level; "individuals" marks the
    # multi-animal layout
    levels = MULTI_LEVELS if second_row.split(",", 1)[0] == "individuals" else LEVELS
    header = list(range(len(levels)))
    head = pd.read_csv(path, header=header, nrows=0)
    # DeepLabCut 3 writes the image path as three index columns; their header cells
    # are empty, which pandas reports as "Unnamed: ...".
    second = str(head.columns[1][0]) if len(head.columns) > 1 else ""
    n_index = 3 if second.startswith("Unnamed") else 1
    df = pd.read_csv(path, header=header, index_col=list(range(n_index)))
    df.columns = df.columns.set_names(levels)
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


def _layout(df: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(bodyparts, individuals, unique bodyparts)`` of a table in column order; the
    bodyparts are the animals' parts then the unique ones (individuals empty for a
    single-animal table)."""
    if "individuals" not in df.columns.names:
        return _bodyparts_in_order(df), (), ()
    pairs = [(str(i), str(b)) for i, b in zip(df.columns.get_level_values("individuals"),
                                              df.columns.get_level_values("bodyparts"),
                                              strict=True)]
    animals = tuple(dict.fromkeys(i for i, _ in pairs if i != SINGLE))
    multi = tuple(dict.fromkeys(b for i, b in pairs if i != SINGLE))
    unique = tuple(dict.fromkeys(b for i, b in pairs if i == SINGLE))
    individuals = animals + ((SINGLE,) if unique else ())
    return multi + unique, individuals, unique


def _columns(df: pd.DataFrame, path: Path, scorer: str, bodyparts: tuple[str, ...],
             coords: tuple[str, ...], individuals: tuple[str, ...] = (),
             unique: tuple[str, ...] = ()) -> np.ndarray:
    """``(rows, [individuals,] bodyparts, coords)`` float64 values (NaN where the table has
    no such individual/bodypart pair), naming the missing column if any."""
    multi = bool(individuals)
    shape = (len(df), *((len(individuals),) if multi else ()), len(bodyparts), len(coords))
    out = np.full(shape, np.nan)
    cells = table_columns(individuals, bodyparts, unique) if multi else [
        (None, j) for j in range(len(bodyparts))]
    for i, j in cells:
        for k, c in enumerate(coords):
            key = (scorer, bodyparts[j], c) if i is None else (
                scorer, individuals[i], bodyparts[j], c)
            try:
                column = df[key]
            except KeyError:
                raise DataError(f"{path}: no column {'/'.join(key)}") from None
            values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
            if i is None:
                out[:, j, k] = values
            else:
                out[:, i, j, k] = values
    return out


def read_labels(path: str | Path) -> LabeledFrames:
    """Read ``CollectedData_<scorer>.h5|.csv`` (or ``machinelabels``) into LabeledFrames;
    multi-animal tables come with their individual axis."""
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts, individuals, unique = _layout(df)
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
    xy = _columns(df, path, scorer, bodyparts, ("x", "y"), individuals, unique)
    _check_labels(path, images, bodyparts, xy)
    likelihood = None
    if "likelihood" in coords:
        likelihood = _columns(df, path, scorer, bodyparts, ("likelihood",), individuals,
                              unique)[..., 0]
    return LabeledFrames(scorer, bodyparts, images, xy, style, likelihood, individuals, unique)


def _column_index(scorer: str, bodyparts: tuple[str, ...], coords: tuple[str, ...],
                  individuals: tuple[str, ...] = (), unique: tuple[str, ...] = ()
                  ) -> tuple[pd.MultiIndex, list[tuple[int, int]] | None]:
    """Columns of a table and, for multi-animal ones, the ``(individual, bodypart)``
    cells they hold in order."""
    if not individuals:
        return pd.MultiIndex.from_product([[scorer], bodyparts, coords], names=LEVELS), None
    cells = table_columns(individuals, bodyparts, unique)
    tuples = [(scorer, individuals[i], bodyparts[j], c) for i, j in cells for c in coords]
    return pd.MultiIndex.from_tuples(tuples, names=MULTI_LEVELS), cells


def _values(data: np.ndarray, cells: list[tuple[int, int]] | None) -> np.ndarray:
    """``(rows, [individuals,] bodyparts, coords)`` -> ``(rows, columns)`` in table order."""
    if cells is None:
        return data.reshape(len(data), -1)
    i, j = (np.array(v, int) for v in zip(*cells, strict=True)) if cells else ([], [])
    return data[:, i, j].reshape(len(data), -1)


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
        first = tuple(int(v[0]) for v in np.nonzero(bad))  # (image, [individual,] part, x|y)
        i, j, c = first[0], first[-2], first[-1]
        raise DataError(f"{path}: {images[i]}: {bodyparts[j]} {'xy'[c]} = {xy[first]} is not a "
                        f"pixel coordinate (beyond {MAX_LABEL_PX:g})")


def labels_to_frame(labels: LabeledFrames) -> pd.DataFrame:
    """The DeepLabCut DataFrame of `labels` (index form as ``labels.index_style``)."""
    coords = ("x", "y") if labels.likelihood is None else ("x", "y", "likelihood")
    columns, cells = _column_index(labels.scorer, labels.bodyparts, coords, labels.individuals,
                                   labels.unique_bodyparts)
    values = labels.xy
    if labels.likelihood is not None:
        values = np.concatenate([values, labels.likelihood[..., None]], axis=-1)
    values = _values(values, cells)
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


def _write_table(df: pd.DataFrame, path: str | Path, csv: bool, stamp: dict | None = None,
                 key: str = KEY) -> Path:
    """`df` to ``path.h5`` and, with `csv`, to ``path.csv``; returns the h5 path."""
    path = Path(path).with_suffix(".h5")
    _write_h5(df, path, stamp, key)
    if csv:
        _write_csv(df, path.with_suffix(".csv"))
    return path


def _write_h5(df: pd.DataFrame, path: Path, stamp: dict | None = None, key: str = KEY) -> None:
    # PyTables' "table" format cannot hold a MultiIndex row index (DeepLabCut 3's
    # image tuples); DeepLabCut itself writes those in the "fixed" format.
    fmt = "fixed" if isinstance(df.index, pd.MultiIndex) else "table"
    with atomic_path(path) as tmp:
        df.to_hdf(tmp, key=key, mode="w", format=fmt)
        _stamp_format_version(tmp, key)
        if stamp is not None:
            with h5py.File(tmp, "a") as f:
                f.attrs[STAMP_ATTR] = json.dumps(stamp)


def _stamp_format_version(path: Path, key: str) -> None:
    """Give the table's group the ``pandas_version`` attribute pandas 2 needs to read it."""
    import tables

    with tables.open_file(path, mode="a") as h5:
        attrs = h5.get_node(f"/{key}")._v_attrs
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


def tracked_path(table: str | Path) -> Path:
    """``<video><scorer>_el.h5`` beside ``<video><scorer>.h5``: the name DeepLabCut 3 gives
    the tracks of its default tracker (``default_track_method: ellipse``), so its
    ``create_labeled_video`` and ``filterpredictions`` find poseloop's tracks."""
    table = Path(table)
    return table.with_name(f"{table.stem}{TRACKER_SUFFIX}.h5")


def poses_to_frame(poses: Poses2D, scorer: str) -> pd.DataFrame:
    columns, cells = _column_index(scorer, poses.bodyparts, ("x", "y", "likelihood"),
                                   poses.individuals, poses.unique_bodyparts)
    return pd.DataFrame(_values(poses.data.astype(np.float64), cells), columns=columns)


def write_analysis(
    poses: Poses2D, scorer: str, path: str | Path, csv: bool = False, stamp: dict | None = None,
    key: str = KEY,
) -> Path:
    """Write 2D poses as a DeepLabCut analysis table (frame-numbered index); multi-animal
    poses get the ``individuals`` level. `key`: the HDF5 key (DeepLabCut 3 stores
    tracked tables under :data:`TRACKS_KEY`).

    `stamp` (plain JSON values) is kept in the h5 file's root attribute ``poseloop_stamp``,
    where DeepLabCut and pandas do not look; :func:`read_stamp` reads it back.
    """
    return _write_table(poses_to_frame(poses, scorer), path, csv, stamp, key)


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
    """Read a DeepLabCut analysis table (single- or multi-animal): returns the poses and
    the scorer."""
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts, individuals, unique = _layout(df)
    data = _columns(df, path, scorer, bodyparts, ("x", "y", "likelihood"), individuals, unique)
    return Poses2D(bodyparts, data, individuals, unique), scorer


# ---------------------------------------------------------------- 3D output

def poses3d_path(stem: str, folder: str | Path) -> Path:
    """The name of a 3D table: ``<folder>/<stem>_3d.h5`` (stem: the first camera's
    analysis table, or a live triangulation stream)."""
    return Path(folder) / f"{stem}_3d.h5"


def write_poses3d(poses: Poses3D, scorer: str, path: str | Path, csv: bool = True) -> Path:
    """Write 3D poses: per bodypart coords x, y, z, score, error (px), ncams (several
    animals: with the individuals level)."""
    columns, cells = _column_index(scorer, poses.bodyparts, COORDS_3D, poses.individuals)
    values = np.concatenate(
        [
            poses.xyz.astype(np.float64),
            poses.score[..., None].astype(np.float64),
            poses.reprojection_error[..., None].astype(np.float64),
            poses.n_cameras[..., None].astype(np.float64),
        ],
        axis=-1,
    )
    return _write_table(pd.DataFrame(_values(values, cells), columns=columns), path, csv)


def read_poses3d(path: str | Path) -> tuple[Poses3D, str]:
    path = Path(path)
    df = _read_frame(path)
    scorer = _single_scorer(df, path)
    bodyparts, individuals, unique = _layout(df)
    if unique:
        raise DataError(f"{path}: a 3D table has no unique bodyparts (individual 'single')")
    arr = _columns(df, path, scorer, bodyparts, COORDS_3D, individuals)
    ncams = np.nan_to_num(arr[..., 5]).astype(np.int16)
    return Poses3D(bodyparts, arr[..., :3], arr[..., 3], arr[..., 4], ncams,
                   individuals), scorer
