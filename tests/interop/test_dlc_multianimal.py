"""DeepLabCut 3 (its own environment, its pandas 2) reads poseloop's multi-animal files:
the four-level labels of a ``synth --animals 2`` project with a unique bodypart under
``single``, the training set it builds from them, and the untracked and tracked
(``poseloop track``, ``_el.h5``) analysis tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stream.cli import main as cli
from tests.interop.conftest import ok
from train.data.config import save_config
from train.data.keypoints import SINGLE, LabeledFrames, Poses2D
from train.data.project import open_project
from train.data.tables import (
    analysis_path,
    read_analysis,
    read_labels,
    write_analysis,
    write_labels,
)
from train.post.tracking import track_poses
from train.synth.animal import groundtruth_path

pytestmark = pytest.mark.interop
UNIQUE = "box"
SCORER = "DLC_resnet50_synthJan1shuffle1_100"
LEVELS = ["scorer", "individuals", "bodyparts", "coords"]


def _with_unique_labels(labels: LabeledFrames) -> LabeledFrames:
    """`labels` plus a unique bodypart under ``single``: labeled in every image but the
    first, at a point that moves from image to image."""
    n, k = len(labels.images), len(labels.individuals)
    xy = np.full((n, k + 1, len(labels.bodyparts) + 1, 2), np.nan)
    xy[:, :k, :-1] = labels.xy
    xy[1:, k, -1] = np.stack([10.0 + np.arange(1, n), 20.5 + 2 * np.arange(1, n)], 1)
    return LabeledFrames(labels.scorer, (*labels.bodyparts, UNIQUE), labels.images, xy,
                         labels.index_style, None, (*labels.individuals, SINGLE), (UNIQUE,))


def _with_unique_poses(poses: Poses2D) -> Poses2D:
    n, k, b = poses.data.shape[:3]
    data = np.full((n, k + 1, b + 1, 3), np.nan, np.float32)
    data[:, :k, :-1] = poses.data
    data[:, k, -1] = np.stack([np.arange(n) + 5.0, np.full(n, 7.0), np.full(n, 0.9)], 1)
    return Poses2D((*poses.bodyparts, UNIQUE), data, (*poses.individuals, SINGLE), (UNIQUE,))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A two-animal project and tables poseloop wrote, and the DeepLabCut steps on them."""
    work = tmp_path_factory.mktemp("multianimal")
    assert cli(["synth", str(work), "--frames", "24", "--size", "160x128", "--animals", "2",
                "--project", "--labeled", "6", "--seed", "2"]) == 0
    (root,) = work.glob("synth-*")
    project = open_project(root)
    project.config.set("uniquebodyparts", [UNIQUE])
    save_config(project.config)
    (collected,) = (root / "labeled-data").glob("*/CollectedData_*.h5")
    labels = _with_unique_labels(read_labels(collected))
    write_labels(labels, collected)

    video = root / "videos" / "synth.mp4"
    truth, _ = read_analysis(groundtruth_path(video))
    poses = _with_unique_poses(truth)
    untracked = write_analysis(poses, SCORER, analysis_path(video, SCORER))
    assert cli(["track", str(untracked)]) == 0
    tracked = track_poses(poses)  # what `poseloop track` computed, kept in memory

    config = str(root / "config.yaml")
    task = f"{project.config.raw['Task']}{project.config.raw['date']}"
    folder = str(video.parent)
    steps = [
        {"op": "read_hdf", "path": str(collected)},
        {"op": "call", "fn": "check_labels", "args": [config],
         "kwargs": {"visualizeindividuals": True}},
        {"op": "call", "fn": "create_multianimaltraining_dataset", "args": [config],
         "kwargs": {"Shuffles": [1], "net_type": "resnet_50"}},
        {"op": "read_hdf", "path": str(root / "training-datasets" / "iteration-0"
                                       / f"UnaugmentedDataSet_{task}"
                                       / "CollectedData_synthetic.h5")},
        {"op": "load_analyzed_data", "folder": folder, "video": "synth", "scorer": SCORER},
        {"op": "load_analyzed_data", "folder": folder, "video": "synth", "scorer": SCORER,
         "track_method": "ellipse"},
    ]
    return dict(root=root, task=task, labels=labels, poses=poses, tracked=tracked, steps=steps)


@pytest.fixture(scope="module")
def results(dlc, written):
    return dlc.run(written["steps"])


def _cells(individuals: tuple[str, ...], bodyparts: tuple[str, ...],
           unique: tuple[str, ...]) -> list[tuple[int, int]]:
    """``(individual, bodypart)`` indices in the column order DeepLabCut writes: every
    animal's parts, then ``single``'s unique parts (spelled out here, not taken from
    poseloop's writer)."""
    n_animal = len(bodyparts) - len(unique)
    animals = [(i, j) for i in range(len(individuals) - 1) for j in range(n_animal)]
    return animals + [(len(individuals) - 1, j) for j in range(n_animal, len(bodyparts))]


def _columns(scorer: str, individuals: tuple[str, ...], bodyparts: tuple[str, ...],
             unique: tuple[str, ...], coords: tuple[str, ...]) -> list[list[str]]:
    return [[scorer, individuals[i], bodyparts[j], c]
            for i, j in _cells(individuals, bodyparts, unique) for c in coords]


def _values(data: np.ndarray, individuals: tuple[str, ...], bodyparts: tuple[str, ...],
            unique: tuple[str, ...]) -> np.ndarray:
    """``(rows, individuals, bodyparts, coords)`` -> ``(rows, columns)`` in
    :func:`_columns` order."""
    cells = _cells(individuals, bodyparts, unique)
    return np.stack([data[:, i, j] for i, j in cells], 1).reshape(len(data), -1).astype(float)


def _image_paths(table: dict) -> list[str]:
    return [i if isinstance(i, str) else "/".join(i) for i in table["index"]]


@pytest.mark.parametrize("step", [0, 3], ids=["collected_data", "training_set"])
def test_dlc_reads_multianimal_labels_as_numbers(written, results, step):
    """The labels poseloop wrote, and the set DeepLabCut merged from them for training,
    read by DeepLabCut's pandas 2: four levels, ``single`` last, the same numbers."""
    table = ok(results[step])
    labels = written["labels"]
    assert table["pandas"].startswith("2.")
    assert table["column_names"] == LEVELS
    layout = (labels.individuals, labels.bodyparts, labels.unique_bodyparts)
    assert table["columns"] == _columns(labels.scorer, *layout, ("x", "y"))
    assert _image_paths(table) == labels.images
    values = np.array(table["values"], dtype=float)  # JSON null -> NaN
    np.testing.assert_array_equal(values, _values(labels.xy, *layout))
    assert np.isnan(values[0, -2:]).all() and not np.isnan(values[1:, -2:]).any()


def test_dlc_checks_labels_and_builds_multianimal_training_set(written, results):
    ok(results[1])  # check_labels drew every labeled image, per individual
    ok(results[2])  # create_multianimaltraining_dataset accepted the project
    root = written["root"]
    n_images = len(written["labels"].images)
    assert len(list((root / "labeled-data").glob("*_labeled/*.png"))) == n_images
    assert list((root / "dlc-models-pytorch" / "iteration-0").glob(
        f"{written['task']}-trainset95shuffle1/train/pytorch_config.yaml"))


@pytest.mark.parametrize("step, which, suffix", [(4, "poses", ".h5"),
                                                  (5, "tracked", "_el.h5")],
                         ids=["untracked", "tracked_el"])
def test_dlc_loads_multianimal_analysis(written, results, step, which, suffix):
    """DeepLabCut's own ``load_analyzed_data`` finds poseloop's untracked table and, with
    ``track_method="ellipse"``, the ``_el.h5`` that ``poseloop track`` wrote; the
    columns and numbers are what poseloop wrote."""
    table = ok(results[step])
    poses = written[which]
    assert Path(table["path"]).name == f"synth{SCORER}{suffix}"
    assert table["column_names"] == LEVELS
    layout = (poses.individuals, poses.bodyparts, poses.unique_bodyparts)
    assert table["columns"] == _columns(SCORER, *layout, ("x", "y", "likelihood"))
    assert table["index"] == [str(i) for i in range(poses.n_frames)]
    values = np.array(table["values"], dtype=float)
    np.testing.assert_array_equal(values, _values(poses.data, *layout))
