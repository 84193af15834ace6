"""One project, both tools: poseloop trains, evaluates and analyzes in it, then DeepLabCut
3 does (ResNet-50 and ResNet-101), then poseloop again, then DeepLabCut again; each keeps
working and neither touches the other's model files. DeepLabCut's functions find and
read poseloop's analyses (scorer, ``_meta.pickle``), and DeepLabCut's models, imported
with ``poseloop import-model``, give DeepLabCut's own poses in poseloop's runtime."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from stream.cli import main as cli
from tests.interop.conftest import ok
from train.data.tables import read_analysis
from train.synth.animal import SynthConfig, make_synthetic_project

pytestmark = pytest.mark.interop
TRAIN = ["--net", "resnet_18", "--weights", "none", "--epochs", "2", "--batch-size", "4",
         "--threads", "1", "--no-augment"]
DLC_TRAIN = {"epochs": 1, "save_epochs": 1, "batch_size": 2, "device": "cpu",
             "pytorch_cfg_updates": {"runner.eval_interval": 1}}


def _digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _poseloop_round(root: Path, video: Path, dest: Path) -> Path:
    """poseloop train, evaluate, export, analyze, filter; returns the analysis table."""
    assert cli(["train", str(root), *TRAIN]) == 0
    assert cli(["evaluate", str(root)]) == 0
    model = root / "exported-models" / "poseloop.pt2"
    assert cli(["export", str(root), "--out", str(model)]) == 0
    assert cli(["analyze", str(model), str(video), "--destfolder", str(dest)]) == 0
    (table,) = dest.glob(f"{video.stem}DLC_*.h5")
    assert cli(["filter", str(table)]) == 0
    return table


def _snapshot(train_dir: Path, scorer: str) -> Path:
    """The snapshot file DeepLabCut's scorer `scorer` names (``..._snapshot_best-1``)."""
    uid = scorer.rsplit("_snapshot_", 1)[1]
    for path in train_dir.glob("snapshot-*.pt"):
        match = re.fullmatch(r"snapshot-(best-)?(\d+)\.pt", path.name)
        if match and f"{match.group(1) or ''}{int(match.group(2))}" == uid:
            return path
    raise AssertionError(f"{train_dir}: no snapshot for {scorer}")


def _dlc_round(config: str, video: Path, work: Path) -> list[dict]:
    return [
        {"op": "call", "fn": "train_network", "args": [config],
         "kwargs": {"shuffle": 1, **DLC_TRAIN}},
        {"op": "call", "fn": "evaluate_network", "args": [config],
         "kwargs": {"Shuffles": [1], "device": "cpu"}},
        {"op": "call", "fn": "analyze_videos", "args": [config, [str(video)]],
         "kwargs": {"shuffle": 1, "device": "cpu", "destfolder": str(work)}},
        {"op": "scorer", "config": config, "shuffle": 1},
    ]


@pytest.fixture(scope="module")
def shared(dlc, tmp_path_factory):
    work = tmp_path_factory.mktemp("shared")
    project = make_synthetic_project(work, SynthConfig(128, 96, 24, seed=5), n_labeled=10,
                                     progress=False)
    root, config = project.root, str(project.config_path)
    (video,) = project.videos()
    out = {"root": root, "video": video, "work": work}

    # 1. poseloop first
    out["pl_table"] = _poseloop_round(root, video, work / "pl1")
    out["pl_models"] = _digest(root / "poseloop-models")

    # 2. DeepLabCut in the same project: labels, both backbones, train, evaluate, analyze
    steps = [
        {"op": "load_analyzed_data", "folder": str(work / "pl1"), "video": video.stem,
         "scorer": read_analysis(out["pl_table"])[1]},
        {"op": "load_analyzed_data", "folder": str(work / "pl1"), "video": video.stem,
         "scorer": read_analysis(out["pl_table"])[1], "filtered": True},
        {"op": "call", "fn": "check_labels", "args": [config],
         "kwargs": {"visualizeindividuals": False}},
        {"op": "call", "fn": "create_training_dataset", "args": [config],
         "kwargs": {"Shuffles": [1], "net_type": "resnet_50"}},
        {"op": "call", "fn": "create_training_dataset", "args": [config],
         "kwargs": {"Shuffles": [2], "net_type": "resnet_101"}},
        *_dlc_round(config, video, work / "dlc1"),
        {"op": "call", "fn": "train_network", "args": [config],
         "kwargs": {"shuffle": 2, **DLC_TRAIN}},
        {"op": "call", "fn": "analyze_videos", "args": [config, [str(video)]],
         "kwargs": {"shuffle": 2, "device": "cpu", "destfolder": str(work / "dlc2")}},
        {"op": "scorer", "config": config, "shuffle": 2},
        {"op": "call", "fn": "export_model", "args": [config], "kwargs": {"shuffle": 1}},
    ]
    out["dlc1"] = dlc.run(steps)
    out["dlc_models"] = _digest(root / "dlc-models-pytorch")
    out["pl_models_after_dlc"] = _digest(root / "poseloop-models")

    # 3. DeepLabCut's models in poseloop's runtime
    models = root / "dlc-models-pytorch" / "iteration-0"
    (train1,) = models.glob("*shuffle1/train")
    (train2,) = models.glob("*shuffle2/train")
    out["imports"] = {}
    for name, snapshot in [
        ("resnet_50", _snapshot(train1, ok(out["dlc1"][8]))),
        ("resnet_101", _snapshot(train2, ok(out["dlc1"][11]))),
        ("export", next((root / "exported-models-pytorch").rglob("*.pt"))),
    ]:
        model = work / f"{name}.pt2"
        assert cli(["import-model", str(snapshot), "--out", str(model)]) == 0
        dest = work / f"imported-{name}"
        assert cli(["analyze", str(model), str(video), "--destfolder", str(dest)]) == 0
        (table,) = dest.glob(f"{video.stem}DLC_*.h5")
        out["imports"][name] = (snapshot, table)
    imported = out["imports"]["resnet_50"][1]
    unfiltered = work / "imported-unfiltered"
    unfiltered.mkdir()
    for f in imported.parent.iterdir():
        shutil.copy(f, unfiltered / f.name)
    assert cli(["filter", str(imported)]) == 0

    # 4. poseloop again after DeepLabCut, 5. DeepLabCut again after poseloop, and its
    # functions on poseloop's analyses of its model
    out["pl_table2"] = _poseloop_round(root, video, work / "pl2")
    out["dlc_models_after_pl"] = _digest(root / "dlc-models-pytorch")
    dlc_scorer = ok(out["dlc1"][8])
    config_kw = {"shuffle": 1, "destfolder": str(imported.parent)}
    steps = [
        {"op": "load_analyzed_data", "folder": str(imported.parent), "video": video.stem,
         "scorer": dlc_scorer, "filtered": True},
        {"op": "call", "fn": "plot_trajectories", "args": [config, [str(video)]],
         "kwargs": {**config_kw, "filtered": True}},
        {"op": "call", "fn": "create_labeled_video", "args": [config, [str(video)]],
         "kwargs": {**config_kw, "filtered": True}},
        {"op": "call", "fn": "filterpredictions", "args": [config, [str(video)]],
         "kwargs": {"shuffle": 1, "destfolder": str(unfiltered)}},
        *_dlc_round(config, video, work / "dlc3"),
    ]
    out["dlc2"] = dlc.run(steps)
    return out


def test_poseloop_models_live_where_deeplabcut_does_not_look(shared):
    root = shared["root"]
    assert any(name.endswith("pytorch_config.yaml") for name in shared["pl_models"])
    # DeepLabCut's training, evaluation and analysis left poseloop's folder as it was ...
    assert shared["pl_models_after_dlc"] == shared["pl_models"]
    # ... and poseloop's second round left DeepLabCut's untouched
    assert shared["dlc_models_after_pl"] == shared["dlc_models"]
    assert (root / "dlc-models-pytorch" / "iteration-0").is_dir()


def test_deeplabcut_reads_poseloop_analyses(shared):
    table, scorer = read_analysis(shared["pl_table"])
    assert re.fullmatch(r"DLC_Resnet18_synth\w+shuffle1_snapshot_(best-)?\d+", scorer)
    loaded = ok(shared["dlc1"][0])
    assert loaded["pandas"].startswith("2.") and loaded["scorer"] == scorer
    values = np.array(loaded["values"], dtype=float).reshape(table.data.shape)
    np.testing.assert_allclose(values, table.data, rtol=1e-6)
    assert ok(shared["dlc1"][1])["path"].endswith("_filtered.h5")


@pytest.mark.parametrize("step", range(2, 13))
def test_deeplabcut_works_after_poseloop(shared, step):
    ok(shared["dlc1"][step])


@pytest.mark.parametrize("step", range(4))
def test_deeplabcut_functions_on_poseloop_analyses_of_its_model(shared, step):
    ok(shared["dlc2"][step])
    folder = shared["imports"]["resnet_50"][1].parent
    if step == 1:
        assert list((folder / "plot-poses").rglob("*.png"))
    if step == 2:
        assert list(folder.glob("*_labeled.mp4"))
    if step == 3:
        assert list((shared["work"] / "imported-unfiltered").glob("*_filtered.h5"))


@pytest.mark.parametrize("step", range(4, 8))
def test_deeplabcut_works_after_poseloop_again(shared, step):
    ok(shared["dlc2"][step])


@pytest.mark.parametrize("name, dlc_folder, scorer_step", [
    ("resnet_50", "dlc1", 8), ("resnet_101", "dlc2", 11), ("export", "dlc1", 8)])
def test_imported_models_give_deeplabcut_poses(shared, name, dlc_folder, scorer_step):
    snapshot, table = shared["imports"][name]
    poses, scorer = read_analysis(table)
    (reference,) = (shared["work"] / dlc_folder).glob("*.h5")
    expected, dlc_scorer = read_analysis(reference)
    if name != "export":  # the export's name carries its snapshot, not the project's scorer
        assert scorer == dlc_scorer == ok(shared["dlc1"][scorer_step])
    assert poses.bodyparts == expected.bodyparts and poses.n_frames == expected.n_frames
    assert np.nanmax(np.abs(poses.data[..., :2] - expected.data[..., :2])) < 0.5
    assert np.nanmax(np.abs(poses.data[..., 2] - expected.data[..., 2])) < 0.01
