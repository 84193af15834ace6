"""Hostile HDF5 tables: a labels or analysis file crafted to run a pickle when pandas or
PyTables opens it is refused, naming the file, and nothing in it runs; DeepLabCut's
own files (which hold pickles of plain lists and strings) still read exactly as pandas
reads them."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from calib.errors import DataError
from tests.conftest import ROOT, SHARED_DATA
from train.data import tables
from train.data.h5safe import read_h5_frame
from train.data.keypoints import LabeledFrames


class _Payload:
    """Unpickling this creates `marker`: the proof that a pickle in the file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _labels(index_style: str) -> LabeledFrames:
    xy = np.array([[[1.5, 2.0], [np.nan, np.nan]], [[3.0, 4.0], [5.0, 6.0]]])
    return LabeledFrames("ann", ("nose", "tail"),
                         ["labeled-data/v/img0.png", "labeled-data/v/img1.png"], xy,
                         index_style=index_style)


def _crafted_object_index(path: Path, marker: Path) -> Path:
    """A fixed-format file whose row index is a PyTables object array (a pickle)."""
    import tables as pytables

    tables.write_labels(_labels("tuple"), path, csv=False)  # fixed format
    with pytables.open_file(path, "a") as h5:
        group = h5.get_node("/df_with_missing")
        h5.remove_node(group, "axis1_level2")
        node = h5.create_vlarray(group, "axis1_level2", pytables.ObjectAtom())
        node.append(_Payload(marker))
        node._v_attrs.kind = "object"
    return path


def _crafted_attribute(name: str):
    def craft(path: Path, marker: Path) -> Path:
        tables.write_labels(_labels("flat"), path, csv=False)  # table format
        with h5py.File(path, "a") as f:
            f["df_with_missing"].attrs[name] = np.bytes_(pickle.dumps(_Payload(marker), 0))
        return path

    return craft


CRAFTS = {
    "object-index": _crafted_object_index,
    "column-labels-attribute": _crafted_attribute("non_index_axes"),
    "pandas-type-attribute": _crafted_attribute("pandas_type"),
}


@pytest.mark.parametrize("craft", CRAFTS.values(), ids=CRAFTS.keys())
def test_crafted_labels_are_refused_and_nothing_runs(tmp_path, craft):
    marker = tmp_path / "payload-ran"
    path = craft(tmp_path / "CollectedData_ann.h5", marker)
    for read in (tables.read_labels, tables.read_analysis):
        with pytest.raises(DataError, match="CollectedData_ann.h5") as err:
            read(path)
        assert "\n" not in str(err.value)
    assert not marker.exists(), "a pickle inside the labels file was run"


def test_check_labels_command_refuses_a_crafted_file(tmp_path):
    from train.data.project import create_project

    project = create_project("p", [], ["nose", "tail"], "ann", tmp_path)
    folder = project.labeled_data / "v"
    folder.mkdir(parents=True)
    marker = tmp_path / "payload-ran"
    _crafted_object_index(folder / "CollectedData_ann.h5", marker)
    run = subprocess.run([sys.executable, "-m", "stream.cli", "check-labels", str(project.root)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 1, run.stderr
    assert not marker.exists(), "a pickle inside the labels file was run"
    errors = [line for line in run.stderr.splitlines() if "error" in line]
    assert "Traceback" not in run.stderr and len(errors) == 1, run.stderr
    assert "CollectedData_ann.h5" in errors[0]


def _frames(tmp_path: Path) -> dict[str, tuple[pd.DataFrame, str]]:
    cols = pd.MultiIndex.from_product([["ann"], ["a", "b"], ["x", "y"]],
                                      names=["scorer", "bodyparts", "coords"])
    cols4 = pd.MultiIndex.from_product([["ann"], ["m1", "m2"], ["a"], ["x", "y", "likelihood"]],
                                       names=["scorer", "individuals", "bodyparts", "coords"])
    tuples = pd.MultiIndex.from_tuples([("labeled-data", "v", f"img{i}.png") for i in range(3)])
    flat = pd.Index([f"labeled-data/v/img{i}.png" for i in range(3)])
    values = np.arange(12.0).reshape(3, 4)
    values[1, 2] = np.nan
    return {
        "fixed-tuples": (pd.DataFrame(values, index=tuples, columns=cols), "fixed"),
        "fixed-flat": (pd.DataFrame(values, index=flat, columns=cols), "fixed"),
        "table-flat": (pd.DataFrame(values, index=flat, columns=cols), "table"),
        "table-frames": (pd.DataFrame(values, columns=cols), "table"),
        "table-individuals": (pd.DataFrame(np.arange(18.0).reshape(3, 6), columns=cols4),
                              "table"),
        "fixed-object-index": (pd.DataFrame(values, columns=cols,
                                            index=pd.Index(["a", 1, 2.5], dtype=object)),
                               "fixed"),
    }


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")  # the object index
def test_reads_what_pandas_writes_exactly(tmp_path):
    for name, (df, fmt) in _frames(tmp_path).items():
        path = tmp_path / f"{name}.h5"
        df.to_hdf(path, key="df_with_missing", mode="w", format=fmt)
        pd.testing.assert_frame_equal(read_h5_frame(path, "df_with_missing"), df,
                                      check_exact=True, obj=name)


@pytest.mark.parametrize("path", sorted(SHARED_DATA.glob("*/labeled-data/*/CollectedData_*.h5")),
                         ids=lambda p: p.parts[-4])
def test_deeplabcut_files_read_as_pandas_reads_them(path):
    # the shared examples are DeepLabCut's own (pandas 0.15.2 table format, pickled attributes)
    pd.testing.assert_frame_equal(read_h5_frame(path, "df_with_missing"), pd.read_hdf(path),
                                  check_exact=True)


def test_damaged_file_is_named(tmp_path):
    path = tmp_path / "CollectedData_ann.h5"
    tables.write_labels(_labels("flat"), path, csv=False)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(DataError, match="CollectedData_ann.h5"):
        tables.read_labels(path)
