"""DeepLabCut 3 (its own environment, its pandas 2) reads the labels poseloop writes
through ``new`` + ``extract`` + ``label`` and through ``merge``, its filtered and 3D
tables, and builds its training set from poseloop's labels."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stream.cli import main as cli
from tests.interop.conftest import ok
from train.data.config import save_config
from train.data.keypoints import LabeledFrames, Poses3D
from train.data.project import open_project
from train.data.tables import read_analysis, read_labels, write_labels, write_poses3d
from train.label.framepick import frame_index
from train.label.merge import merge_datasets
from train.label.session import LabelSession, machinelabels_path
from train.synth.animal import SynthConfig, groundtruth_path, write_synthetic_video

pytestmark = pytest.mark.interop
BODYPARTS = ("snout", "leftear", "rightear", "tailbase")


def _label_from_truth(root, truth) -> LabeledFrames:
    """Label every extracted frame as the labeler does, from the ground truth; the first
    frame's tailbase is left unlabeled."""
    session = LabelSession.for_labeling(open_project(root))
    for i, image in enumerate(session.images):
        row = truth.data[frame_index(image.rsplit("/", 1)[1])]
        for j, part in enumerate(session.bodyparts):
            k = truth.bodyparts.index(part)
            point = None if (i == 0 and part == "tailbase") else tuple(map(float, row[k, :2]))
            session.set_point(i, j, point)
    (path,) = session.save()
    return read_labels(path)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Projects and tables poseloop wrote, and what DeepLabCut made of them."""
    work = tmp_path_factory.mktemp("labels")
    video, truth_path = write_synthetic_video(work / "mouse.mp4",
                                              SynthConfig(160, 128, 24, seed=3), progress=False)
    truth, _ = read_analysis(truth_path)
    assert cli(["new", "mouse", "--videos", str(video), "--bodyparts", ",".join(BODYPARTS),
                "--scorer", "ann", "--workdir", str(work)]) == 0
    (labeled,) = work.glob("mouse-ann-*")
    project = open_project(labeled)
    project.config.set("numframes2pick", 5)
    # DeepLabCut's template skeleton entries, as a user leaves them
    project.config.set("skeleton", [["bodypart1", "bodypart2"], ["snout", "leftear"]])
    # poseloop's own keys: saved beside config.yaml, so DeepLabCut still reads it
    project.config.set("flip_pairs", [["leftear", "rightear"]])
    project.config.set("reference_length", ["snout", "tailbase"])
    save_config(project.config)
    assert cli(["extract", str(labeled), "--algo", "uniform"]) == 0
    label = _label_from_truth(labeled, truth)

    # merge: a bodypart added to the config, outlier frames refined, then merged
    merged = work / "merged" / labeled.name
    shutil.copytree(labeled, merged, symlinks=True)
    project = open_project(merged)
    project.config.raw["bodyparts"].append("tailtip")
    save_config(project.config)
    project = open_project(merged)
    machine = LabeledFrames("ann", project.config.bodyparts, label.images,
                            np.concatenate([label.xy, np.full((len(label), 1, 2), 5.0)], 1),
                            likelihood=np.full((len(label), 5), 0.9))
    write_labels(machine, machinelabels_path(merged / "labeled-data" / "mouse", 0), csv=False)
    assert merge_datasets(project).iteration == 1
    merge = read_labels(merged / "labeled-data" / "mouse" / "CollectedData_ann.h5")

    # a filtered analysis (poseloop filter) and a 3D table
    analysis = work / "tables" / "mouseDLC_test.h5"
    analysis.parent.mkdir()
    shutil.copy(groundtruth_path(video), analysis)
    assert cli(["filter", str(analysis), "--method", "median"]) == 0
    filtered = analysis.with_name("mouseDLC_test_filtered.h5")
    rng = np.random.default_rng(0)
    poses3d = Poses3D(BODYPARTS, rng.random((6, 4, 3)), rng.random((6, 4)), rng.random((6, 4)),
                      rng.integers(0, 4, (6, 4)))
    poses3d.xyz[2, 1] = np.nan
    table3d = write_poses3d(poses3d, "poseloop3d", work / "tables" / "mouse_3d.h5")

    steps = []
    for root in (labeled, merged):
        steps += [
            {"op": "read_hdf",
             "path": str(root / "labeled-data" / "mouse" / "CollectedData_ann.h5")},
            {"op": "call", "fn": "check_labels", "args": [str(root / "config.yaml")],
             "kwargs": {"visualizeindividuals": False}},
            {"op": "call", "fn": "create_training_dataset", "args": [str(root / "config.yaml")],
             "kwargs": {"Shuffles": [1], "net_type": "resnet_50"}},
        ]
    steps += [{"op": "read_hdf", "path": str(p)} for p in (filtered, table3d)]
    # why poseloop's own keys are not in config.yaml: DeepLabCut refuses keys it does not know
    unknown = work / "unknown-key" / "config.yaml"
    unknown.parent.mkdir()
    unknown.write_text((labeled / "config.yaml").read_text() + "flip_pairs: [[a, b]]\n")
    steps.append({"op": "call", "fn": "utils.auxiliaryfunctions.read_config",
                  "args": [str(unknown)]})
    return dict(labeled=labeled, merged=merged, label=label, merge=merge, filtered=filtered,
                poses3d=poses3d, steps=steps)


@pytest.fixture(scope="module")
def results(dlc, written):
    return dlc.run(written["steps"])


def _xy(table: dict, n_parts: int) -> np.ndarray:
    values = np.array(table["values"], dtype=float)  # None -> NaN
    return values.reshape(len(values), n_parts, -1)[..., :2]


@pytest.mark.parametrize("which, first", [("label", 0), ("merge", 3)])
def test_dlc_reads_labels_with_pandas_2(written, results, which, first):
    table = ok(results[first])
    assert table["pandas"].startswith("2.")
    assert table["column_names"] == ["scorer", "bodyparts", "coords"]
    labels = written[which]
    assert [i if isinstance(i, str) else "/".join(i) for i in table["index"]] == labels.images
    np.testing.assert_array_equal(_xy(table, len(labels.bodyparts)), labels.xy)
    assert np.isnan(labels.xy[0, BODYPARTS.index("tailbase")]).all()


@pytest.mark.parametrize("which, first", [("labeled", 0), ("merged", 3)])
def test_dlc_check_labels_and_create_training_dataset(written, results, which, first):
    root = written[which]
    ok(results[first + 1])
    drawn = sorted((root / "labeled-data" / "mouse_labeled").glob("*.png"))
    assert len(drawn) == len(written["label"])
    ok(results[first + 2])
    iteration = 1 if which == "merged" else 0
    dataset = root / "training-datasets" / f"iteration-{iteration}"
    (collected,) = dataset.glob("UnaugmentedDataSet_*/CollectedData_ann.h5")
    back = read_labels(collected)  # DeepLabCut's own file, read back by poseloop
    assert len(back) == len(written["label"])
    assert back.bodyparts == open_project(root).config.bodyparts
    assert (root / "dlc-models-pytorch" / f"iteration-{iteration}").is_dir()


def test_dlc_reads_filtered_and_3d_tables(written, results):
    filtered, _ = read_analysis(written["filtered"])
    table = ok(results[6])
    values = np.array(table["values"], dtype=float).reshape(filtered.data.shape)
    np.testing.assert_allclose(values, filtered.data, rtol=1e-6)
    table3d = ok(results[7])
    assert [c[2] for c in table3d["columns"][:6]] == ["x", "y", "z", "score", "error", "ncams"]
    xyz = np.array(table3d["values"], dtype=float).reshape(6, 4, 6)[..., :3]
    np.testing.assert_allclose(xyz, written["poses3d"].xyz, rtol=1e-6)


def test_poseloop_keys_beside_config_yaml(written, results):
    """DeepLabCut 3 stops on a config.yaml key it does not know (its own message), and reads
    the config.yaml of a project with poseloop's keys set (check_labels above)."""
    root = written["labeled"]
    assert "flip_pairs" in (root / "poseloop.yaml").read_text()
    assert "flip_pairs" not in (root / "config.yaml").read_text()
    ok(results[1])
    refused = results[8]
    assert not refused["ok"]
    assert "flip_pairs" in refused["error"] and "Extra inputs are not permitted" in refused["error"]
