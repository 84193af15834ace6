"""poseloop reads the multi-animal files DeepLabCut 3 writes, in its own environment:
the project ``create_new_project(multianimal=True)`` makes (its keys as ``edit_config``
sets them), the frames ``extract_frames`` picks, the labels ``convertcsv2h5`` writes (h5,
and the csv it writes back, both with DeepLabCut 3's three-level image index), the
training set ``create_multianimaltraining_dataset`` merges, and the tracked ``_el.h5``
``stitch_tracklets`` writes. Each is compared with what DeepLabCut's own pandas reads
from the same file: the same names, the same numbers."""

from __future__ import annotations

import csv
import datetime
import re
from pathlib import Path

import numpy as np
import pytest

from stream.cli import main as cli
from tests.interop.conftest import ok
from train.data.keypoints import SINGLE
from train.data.project import open_project
from train.data.tables import read_analysis, read_labels
from train.post.filtering import filtered_path
from train.synth.animal import groundtruth_path

pytestmark = pytest.mark.interop
INDIVIDUALS = ["mouse1", "mouse2"]
UNIQUE = "box"
GAP = (14, 16)  # frames where mouse2's tracklets break off, for DeepLabCut to stitch


def _box(frame: int) -> list[float]:
    """The unique bodypart: an odd-valued point that moves, labeled from frame 1 on."""
    return [12.345678901 + frame, 20.5 + 2 * frame] if frame else [np.nan, np.nan]


def _labels_csv(path: Path, images: list[str], truth: np.ndarray, scorer: str,
                bodyparts: list[str]) -> np.ndarray:
    """Labels as a person edits DeepLabCut's csv (four header rows, one row per image, a
    relative path), from the synthetic truth; returns them ``(images, I + 1, K + 1, 2)``
    with ``single``'s box last (NaN where not labeled)."""
    k = len(bodyparts)
    xy = np.full((len(images), len(INDIVIDUALS) + 1, k + 1, 2), np.nan)
    rows = [["scorer"], ["individuals"], ["bodyparts"], ["coords"]]
    for ind in INDIVIDUALS:
        for bp in bodyparts:
            for c in "xy":
                for row, v in zip(rows, (scorer, ind, bp, c), strict=True):
                    row.append(v)
    for c in "xy":
        for row, v in zip(rows, (scorer, SINGLE, UNIQUE, c), strict=True):
            row.append(v)
    for n, image in enumerate(images):
        frame = int(re.findall(r"\d+", Path(image).stem)[0])
        xy[n, :2, :k] = truth[frame, :2, :, :2]
        xy[n, 0, 1] = np.nan  # a part left unlabeled
        xy[n, 2, k] = _box(frame)
        values = [*xy[n, :2, :k].reshape(-1), *xy[n, 2, k]]
        rows.append([image, *("" if np.isnan(v) else repr(float(v)) for v in values)])
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return xy


def _tracklets(truth: np.ndarray) -> dict:
    """mouse1 in one tracklet, mouse2 in two with a gap (GAP), the box as ``single``."""
    def flat(frame: int, animal: int) -> list:
        return [None if np.isnan(v) else float(v) for v in truth[frame, animal].reshape(-1)]

    n = len(truth)
    out = {"0": {i: flat(i, 0) for i in range(n)},
           "1": {i: flat(i, 1) for i in range(GAP[0])},
           "2": {i: flat(i, 1) for i in range(GAP[1], n)}}
    out["single"] = {i: [*_box(i), 0.9] for i in range(1, n)}
    return out


@pytest.fixture(scope="module")
def made(dlc, tmp_path_factory):
    """A multi-animal project, labels, training set and tracked table, all written by
    DeepLabCut."""
    work = tmp_path_factory.mktemp("dlc-writes")
    assert cli(["synth", str(work / "clip"), "--frames", "30", "--size", "160x128",
                "--animals", "2", "--seed", "3"]) == 0
    video = work / "clip" / "synth.mp4"
    truth, _ = read_analysis(groundtruth_path(video))
    bodyparts = list(truth.bodyparts)
    # DeepLabCut names the project folder after today's date (its own clock)
    root = work / f"dlcma-dlcuser-{datetime.date.today().isoformat()}"
    config = str(root / "config.yaml")
    first = dlc.run([
        {"op": "call", "fn": "create_new_project",
         "args": ["dlcma", "dlcuser", [str(video)]],
         "kwargs": {"working_directory": str(work), "copy_videos": True,
                    "multianimal": True}},
        {"op": "call", "fn": "utils.auxiliaryfunctions.edit_config",
         "args": [config, {"individuals": INDIVIDUALS, "uniquebodyparts": [UNIQUE],
                           "multianimalbodyparts": bodyparts, "numframes2pick": 4,
                           "skeleton": [[bodyparts[0], bodyparts[3]]]}]},
        {"op": "call", "fn": "extract_frames", "args": [config],
         "kwargs": {"mode": "automatic", "algo": "uniform", "userfeedback": False,
                    "crop": False}},
    ])
    for result in first:
        ok(result)
    folder = root / "labeled-data" / "synth"
    images = sorted(f"labeled-data/synth/{p.name}" for p in folder.glob("img*.png"))
    assert len(images) == 4
    collected = folder / "CollectedData_dlcuser.csv"
    xy = _labels_csv(collected, images, truth.data, "dlcuser", bodyparts)
    second = dlc.run([
        {"op": "call", "fn": "convertcsv2h5", "args": [config],
         "kwargs": {"userfeedback": False}},
        {"op": "read_hdf", "path": str(collected.with_suffix(".h5"))},
        {"op": "call", "fn": "create_multianimaltraining_dataset", "args": [config],
         "kwargs": {"Shuffles": [1], "net_type": "resnet_50"}},
        # a snapshot to name the tables after (DeepLabCut's scorer needs one)
        {"op": "call", "fn": "train_network", "args": [config],
         "kwargs": {"shuffle": 1, "epochs": 1, "save_epochs": 1, "batch_size": 2,
                    "device": "cpu", "pytorch_cfg_updates": {
                        "runner.eval_interval": 1, "data.train.crop_sampling.width": 160,
                        "data.train.crop_sampling.height": 128}}},
        {"op": "scorer", "config": config, "shuffle": 1},
    ])
    ok(second[0])
    ok(second[2])
    ok(second[3])
    scorer = ok(second[4])
    (training_set,) = (root / "training-datasets").glob("iteration-0/*/CollectedData_*.h5")
    videos = root / "videos"
    tracked = videos / f"synth{scorer}_el.h5"
    third = dlc.run([
        {"op": "read_hdf", "path": str(training_set)},
        {"op": "tracklets", "path": str(videos / f"synth{scorer}_el.pickle"),
         "scorer": scorer, "bodyparts": [*bodyparts, UNIQUE],
         "tracklets": _tracklets(truth.data)},
        {"op": "call", "fn": "stitch_tracklets", "args": [config, [str(videos / "synth.mp4")]],
         "kwargs": {"shuffle": 1, "track_method": "ellipse"}},
        {"op": "read_hdf", "path": str(tracked)},
    ])
    ok(third[1])
    ok(third[2])
    return dict(root=root, xy=xy, images=images, collected=collected, scorer=scorer,
                training_set=training_set, tracked=tracked, bodyparts=bodyparts,
                dlc_labels=ok(second[1]), dlc_training_set=ok(third[0]),
                dlc_tracked=ok(third[3]))


def _flat(data: np.ndarray, columns: list[list[str]], individuals, bodyparts,
          coords: str) -> np.ndarray:
    """poseloop's ``(rows, individuals, bodyparts, coords)`` read in DeepLabCut's column
    order ``columns`` (scorer, individual, bodypart, coord; `coords` their first letters)."""
    ind, bp = list(individuals), list(bodyparts)
    return np.stack([data[:, ind.index(i), bp.index(b), coords.index(c[0])]
                     for _, i, b, c in columns], 1)


def test_poseloop_opens_dlc_multianimal_project(made):
    """The config DeepLabCut made and edited: its individuals, multi-animal and unique
    bodyparts, as poseloop's project."""
    c = open_project(made["root"]).config
    assert c.multianimal
    assert list(c.individuals) == INDIVIDUALS
    assert list(c.bodyparts) == [*made["bodyparts"], UNIQUE]
    assert list(c.unique_bodyparts) == [UNIQUE]


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_poseloop_reads_dlc_written_labels(made, suffix):
    """``convertcsv2h5``'s h5 and the csv it wrote back: the images, names and numbers
    DeepLabCut's pandas reads, and the labels that went in."""
    labels = read_labels(made["collected"].with_suffix(suffix))
    table = made["dlc_labels"]
    assert labels.index_style == "tuple"
    assert labels.images == made["images"]
    assert labels.individuals == (*INDIVIDUALS, SINGLE)
    assert labels.unique_bodyparts == (UNIQUE,)
    dlc_values = np.array(table["values"], dtype=float)
    mine = _flat(labels.xy, table["columns"], labels.individuals, labels.bodyparts, "xy")
    np.testing.assert_array_equal(mine, dlc_values)
    np.testing.assert_array_equal(labels.xy[:, :2, :-1], made["xy"][:, :2, :-1])
    np.testing.assert_array_equal(labels.xy[:, 2, -1], made["xy"][:, 2, -1])


def test_poseloop_loads_labels_of_dlc_project_and_training_set(made):
    """The project's labels through ``load_labels``, and the training set DeepLabCut
    merged from them, hold the same numbers as DeepLabCut reads."""
    project = open_project(made["root"])
    labels = project.load_labels()
    merged = read_labels(made["training_set"])
    for got, table in ((labels, made["dlc_labels"]), (merged, made["dlc_training_set"])):
        assert got.images == made["images"]
        mine = _flat(got.xy, table["columns"], got.individuals, got.bodyparts, "xy")
        np.testing.assert_array_equal(mine, np.array(table["values"], dtype=float))


def test_poseloop_reads_dlc_stitched_tracks(made, tmp_path):
    """``stitch_tracklets``'s ``_el.h5`` (key ``tracks``, the table format): the scorer,
    individuals, bodyparts and numbers DeepLabCut reads (as float32: poseloop's poses are
    float32); mouse2's two tracklets are one track; ``poseloop filter`` works on it."""
    poses, scorer = read_analysis(made["tracked"])
    table = made["dlc_tracked"]
    assert scorer == made["scorer"]
    assert poses.individuals == (*INDIVIDUALS, SINGLE)
    assert poses.unique_bodyparts == (UNIQUE,)
    assert [int(i) for i in table["index"]] == list(range(poses.n_frames))
    mine = _flat(poses.data, table["columns"], poses.individuals, poses.bodyparts, "xyl")
    np.testing.assert_array_equal(mine, np.array(table["values"], dtype=float).astype(
        np.float32))
    seen = np.isfinite(poses.data[:, :2, :-1, 0]).any(-1)  # (frames, animals)
    assert seen[:GAP[0]].all() and seen[GAP[1]:].all()
    assert cli(["filter", str(made["tracked"])]) == 0
    filtered, _ = read_analysis(filtered_path(made["tracked"]))
    assert filtered.individuals == poses.individuals
