"""Multi-animal DeepLabCut files: config keys, CollectedData with the individuals level
(unique parts under ``single``), analysis and tracked tables, the individual axis."""

import numpy as np
import pandas as pd
import pytest

from calib.errors import ConfigError, DataError
from train.data import tables
from train.data.config import load_config
from train.data.keypoints import LabeledFrames, Poses2D, table_columns
from train.data.project import create_project, open_project

ANIMALS = ("mouse1", "mouse2", "mouse3")
PARTS = ("snout", "leftear", "tailbase")
UNIQUE = ("led",)


def _dlc_frame(index, scorer="dlc") -> pd.DataFrame:
    """A CollectedData table built the way DeepLabCut builds one: animals x parts x (x, y),
    then ``single`` x unique parts, columns named scorer/individuals/bodyparts/coords."""
    rng = np.random.default_rng(3)
    tuples = [(scorer, a, b, c) for a in ANIMALS for b in PARTS for c in ("x", "y")]
    tuples += [(scorer, "single", b, c) for b in UNIQUE for c in ("x", "y")]
    columns = pd.MultiIndex.from_tuples(tuples, names=["scorer", "individuals", "bodyparts",
                                                       "coords"])
    values = np.round(rng.uniform(0, 300, (len(index), len(tuples))), 2)
    values[0, 6:12] = np.nan  # mouse2 absent on the first image
    values[1, 2:4] = np.nan  # one hidden ear
    return pd.DataFrame(values, index=index, columns=columns)


@pytest.mark.parametrize("style", ["flat", "tuple"])
def test_dlc_multianimal_labels_round_trip_exactly(tmp_path, style):
    names = [f"img{i:03d}.png" for i in range(4)]
    index = (pd.Index([f"labeled-data/v1/{n}" for n in names]) if style == "flat"
             else pd.MultiIndex.from_tuples([("labeled-data", "v1", n) for n in names]))
    original = _dlc_frame(index)
    src = tmp_path / "src"
    src.mkdir()
    fmt = "fixed" if style == "tuple" else "table"
    original.to_hdf(src / "CollectedData_dlc.h5", key="df_with_missing", mode="w", format=fmt)
    original.to_csv(src / "CollectedData_dlc.csv")
    for ext in ("h5", "csv"):
        labels = tables.read_labels(src / f"CollectedData_dlc.{ext}")
        assert labels.individuals == (*ANIMALS, "single") and labels.unique_bodyparts == UNIQUE
        assert labels.bodyparts == PARTS + UNIQUE and labels.index_style == style
        assert labels.xy.shape == (4, 4, 4, 2)
        assert np.isnan(labels.xy[0, 1]).all() and np.isnan(labels.xy[:, 3, :3]).all()
        assert np.isnan(labels.xy[:, :3, 3]).all()  # animals have no unique part
        out = tmp_path / ext
        tables.write_labels(labels, out / "CollectedData_dlc.h5")
        source = tables._read_frame(src / f"CollectedData_dlc.{ext}")
        for back_ext in ("h5", "csv"):
            back = tables._read_frame(out / f"CollectedData_dlc.{back_ext}")
            pd.testing.assert_frame_equal(back, source, check_exact=True)
        assert (out / "CollectedData_dlc.csv").read_text() == (
            src / "CollectedData_dlc.csv").read_text()


def test_multianimal_analysis_and_tracks_tables(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 100, (12, 3, 2, 3)).astype(np.float32)
    data[5, 1] = np.nan  # an absent individual
    poses = Poses2D(("a", "b"), data, ("ind1", "ind2", "ind3"))
    path = tables.write_analysis(poses, "DLC_Resnet50_xNov1shuffle1_snapshot_010",
                                 tmp_path / "vidDLC_el.h5", csv=True, key=tables.TRACKS_KEY)
    df = pd.read_hdf(path, tables.TRACKS_KEY)
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(df.columns[:3].get_level_values("coords")) == ["x", "y", "likelihood"]
    for p in (path, path.with_suffix(".csv")):
        back, scorer = tables.read_analysis(p)
        assert back.individuals == poses.individuals and back.multi
        np.testing.assert_allclose(back.data, data, rtol=1e-6)
        assert np.isnan(back.data[5, 1]).all()


def test_unique_parts_live_under_single_only():
    assert table_columns(("m1", "single"), ("a", "u"), ("u",)) == [(0, 0), (1, 1)]
    with pytest.raises(DataError, match="single"):
        Poses2D(("a", "u"), np.zeros((1, 1, 2, 3)), ("m1",), ("u",))
    with pytest.raises(DataError, match=r"\(frames, 2, 1, 3\)"):
        Poses2D(("a",), np.zeros((1, 1, 3)), ("m1", "m2"))


def test_multianimal_project_config_and_labels(tmp_path):
    project = create_project("mice", [], list(PARTS), scorer="dlc", working_directory=tmp_path,
                             individuals=list(ANIMALS), unique_bodyparts=list(UNIQUE),
                             identity=True)
    text = project.config_path.read_text()
    assert "bodyparts: MULTI!" in text and "multianimalproject: true" in text
    c = project.config
    assert c.multianimal and c.identity and c.individuals == ANIMALS
    assert c.bodyparts == PARTS + UNIQUE and c.unique_bodyparts == UNIQUE
    assert c.label_individuals == (*ANIMALS, "single") and c.animal_bodyparts == PARTS
    # a table with fewer individuals than the config: the new one comes back empty
    xy = np.ones((1, 2, 3, 2))
    labels = LabeledFrames("dlc", PARTS, ["labeled-data/v/img0.png"], xy, individuals=ANIMALS[:2])
    tables.write_labels(labels, project.labels_path("v"))
    loaded = open_project(project.root).load_labels()
    assert loaded.individuals == c.label_individuals and loaded.xy.shape == (1, 4, 4, 2)
    assert np.isnan(loaded.xy[0, 2]).all() and (loaded.xy[0, :2, :3] == 1).all()


@pytest.mark.parametrize("edit, match", [
    (("individuals", ["a", "a"]), "lists a name twice"),
    (("individuals", ["single"]), "must not name 'single'"),
    (("uniquebodyparts", ["snout"]), "listed in both"),
    (("identity", "yes"), "identity"),
    (("multianimalproject", "true"), "multianimalproject"),
])
def test_bad_multianimal_keys_name_the_key(tmp_path, edit, match):
    project = create_project("mice", [], list(PARTS), scorer="dlc", working_directory=tmp_path,
                             individuals=list(ANIMALS))
    project.config.raw[edit[0]] = edit[1]
    project.config_path.write_text(project.config.dump())
    with pytest.raises(ConfigError, match=match):
        load_config(project.config_path)


def test_single_animal_table_in_multianimal_project_is_refused(tmp_path):
    project = create_project("mice", [], list(PARTS), scorer="dlc", working_directory=tmp_path,
                             individuals=list(ANIMALS))
    labels = LabeledFrames("dlc", PARTS, ["labeled-data/v/img0.png"], np.ones((1, 3, 2)))
    tables.write_labels(labels, project.labels_path("v"))
    with pytest.raises(DataError, match="single-animal but the config is multi-animal"):
        project.load_labels()
