"""One project, both tools: poseloop trains, evaluates and analyzes in it, then DeepLabCut
3 does (ResNet-50 and ResNet-101), then poseloop again, then DeepLabCut again; each keeps
working and neither touches the other's model files. DeepLabCut's functions find and
read poseloop's analyses (scorer, ``_meta.pickle``), and DeepLabCut's models (both
snapshots and the ``export_model`` file), imported with ``poseloop import-model``, give
DeepLabCut's own poses in poseloop's runtime.

Sized for a CPU: 64x48 frames, 6 labeled images, one epoch per DeepLabCut training with
its crops shrunk to the frame (its default pads every image to 448x448). Accuracy does not
matter here; what each tool reads and writes does, and the imported models must equal
DeepLabCut's outputs whatever the weights are."""

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
from train.model.paths import MODELS_FOLDER
from train.synth.animal import SynthConfig, make_synthetic_project

pytestmark = pytest.mark.interop
TRAIN = ["--net", "resnet_18", "--weights", "none", "--epochs", "2", "--batch-size", "4",
         "--threads", "1", "--no-augment"]
DLC_TRAIN = {"epochs": 1, "save_epochs": 1, "batch_size": 2, "device": "cpu",
             "pytorch_cfg_updates": {"runner.eval_interval": 1,
                                     "data.train.crop_sampling.width": 64,
                                     "data.train.crop_sampling.height": 48}}
DLC_MODELS = ("dlc-models-pytorch", "exported-models-pytorch")
# DeepLabCut's shuffles: number -> its net type
SHUFFLES = {1: "resnet_50", 2: "resnet_101"}
# How far an imported model's poses may be from DeepLabCut's analyze_videos on the same
# frames (the issue asks 0.5 px and 0.01). Both run the same network and decoding on the
# same decoded frames, so only float rounding differs (measured 7.6e-6 px, 4.2e-7); a
# decoding mistake (stride, half-cell offset, locref scale) shows far above these bounds.
MAX_PX = 0.01
MAX_LIKELIHOOD = 1e-3


def _digest(root: Path, *folders: str) -> dict[str, str]:
    """Every file under the `folders` of `root` and its content hash."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted((root / folder).rglob("*")) if p.is_file()}


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


def _call(fn: str, *args, **kwargs) -> dict:
    return {"op": "call", "fn": fn, "args": list(args), "kwargs": kwargs}


def _dlc_round(config: str, shuffle: int, video: Path, dest: Path, tag: str,
               evaluate: bool = True) -> dict[str, dict]:
    """DeepLabCut's train, evaluate, analyze of one shuffle, and its scorer name."""
    steps = {f"train_network {tag}": _call("train_network", config, shuffle=shuffle,
                                            **DLC_TRAIN)}
    if evaluate:
        steps[f"evaluate_network {tag}"] = _call("evaluate_network", config,
                                                  Shuffles=[shuffle], device="cpu")
    steps[f"analyze_videos {tag}"] = _call("analyze_videos", config, [str(video)],
                                           shuffle=shuffle, device="cpu", destfolder=str(dest))
    steps[f"scorer {tag}"] = {"op": "scorer", "config": config, "shuffle": shuffle}
    return steps


def _run(dlc, steps: dict[str, dict]) -> dict[str, dict]:
    """DeepLabCut's results of the named `steps`, by name."""
    return dict(zip(steps, dlc.run(list(steps.values())), strict=True))


@pytest.fixture(scope="module")
def shared(dlc, tmp_path_factory):
    work = tmp_path_factory.mktemp("shared")
    project = make_synthetic_project(work, SynthConfig(64, 48, 12, seed=5), n_labeled=6,
                                     progress=False)
    root, config = project.root, str(project.config_path)
    (video,) = project.videos()
    out = {"root": root, "video": video, "work": work}

    # 1. poseloop first
    out["pl_table"] = _poseloop_round(root, video, work / "pl1")
    out["pl_models"] = _digest(root, MODELS_FOLDER)

    # 2. DeepLabCut in the same project: its functions on poseloop's analyses, then
    # labels, both backbones, train, evaluate, analyze, export
    pl_scorer = read_analysis(out["pl_table"])[1]
    steps = {
        "load_analyzed_data": {"op": "load_analyzed_data", "folder": str(work / "pl1"),
                               "video": video.stem, "scorer": pl_scorer},
        "load_analyzed_data filtered": {"op": "load_analyzed_data", "folder": str(work / "pl1"),
                                        "video": video.stem, "scorer": pl_scorer,
                                        "filtered": True},
        "check_labels": _call("check_labels", config, visualizeindividuals=False),
    }
    for shuffle, net in SHUFFLES.items():
        steps[f"create_training_dataset {net}"] = _call(
            "create_training_dataset", config, Shuffles=[shuffle], net_type=net)
    steps.update(_dlc_round(config, 1, video, work / "dlc-resnet_50", "resnet_50"))
    steps.update(_dlc_round(config, 2, video, work / "dlc-resnet_101", "resnet_101",
                            evaluate=False))
    steps["export_model resnet_50"] = _call("export_model", config, shuffle=1)
    out["dlc1"] = _run(dlc, steps)
    out["dlc_models"] = _digest(root, *DLC_MODELS)
    out["pl_models_after_dlc"] = _digest(root, MODELS_FOLDER)

    # 3. DeepLabCut's models in poseloop's runtime
    models = root / "dlc-models-pytorch" / "iteration-0"
    out["imports"] = {}
    sources = [(net, _snapshot(next(models.glob(f"*shuffle{shuffle}/train")),
                               ok(out["dlc1"][f"scorer {net}"])))
               for shuffle, net in SHUFFLES.items()]
    (exported,) = (root / "exported-models-pytorch").rglob("*.pt")
    for name, source in [*sources, ("export", exported)]:
        model = work / f"{name}.pt2"
        assert cli(["import-model", str(source), "--out", str(model)]) == 0
        dest = work / f"imported-{name}"
        assert cli(["analyze", str(model), str(video), "--destfolder", str(dest)]) == 0
        (table,) = dest.glob(f"{video.stem}DLC_*.h5")
        out["imports"][name] = (source, table)
    imported = out["imports"]["resnet_50"][1]
    unfiltered = work / "imported-unfiltered"
    shutil.copytree(imported.parent, unfiltered)
    assert cli(["filter", str(imported)]) == 0

    # 4. poseloop again after DeepLabCut, 5. DeepLabCut's functions on poseloop's
    # analyses of its model, and DeepLabCut again after poseloop
    out["pl_table2"] = _poseloop_round(root, video, work / "pl2")
    out["dlc_models_after_pl"] = _digest(root, *DLC_MODELS)
    on_imported = {"shuffle": 1, "destfolder": str(imported.parent)}
    steps = {
        "load_analyzed_data imported": {
            "op": "load_analyzed_data", "folder": str(imported.parent), "video": video.stem,
            "scorer": ok(out["dlc1"]["scorer resnet_50"]), "filtered": True},
        "plot_trajectories": _call("plot_trajectories", config, [str(video)], filtered=True,
                                   **on_imported),
        "create_labeled_video": _call("create_labeled_video", config, [str(video)],
                                      filtered=True, **on_imported),
        "filterpredictions": _call("filterpredictions", config, [str(video)], shuffle=1,
                                   destfolder=str(unfiltered)),
        **_dlc_round(config, 1, video, work / "dlc-again", "again"),
    }
    out["dlc2"] = _run(dlc, steps)
    return out


def test_poseloop_models_live_where_deeplabcut_does_not_look(shared):
    root = shared["root"]
    assert any(name.endswith("pytorch_config.yaml") for name in shared["pl_models"])
    # DeepLabCut's training, evaluation and analysis left poseloop's folder as it was ...
    assert shared["pl_models_after_dlc"] == shared["pl_models"]
    # ... and poseloop's second round left DeepLabCut's untouched
    assert shared["dlc_models_after_pl"] == shared["dlc_models"]
    assert any(name.endswith(".pt") for name in shared["dlc_models"])
    assert (root / "dlc-models-pytorch" / "iteration-0").is_dir()


def test_poseloop_works_after_deeplabcut(shared):
    first, _ = read_analysis(shared["pl_table"])
    again, scorer = read_analysis(shared["pl_table2"])
    assert again.bodyparts == first.bodyparts and again.n_frames == first.n_frames
    assert re.fullmatch(r"DLC_Resnet18_synth\w+shuffle1_snapshot_(best-)?\d+", scorer)
    assert np.isfinite(again.data).all()


def test_deeplabcut_reads_poseloop_analyses(shared):
    table, scorer = read_analysis(shared["pl_table"])
    assert re.fullmatch(r"DLC_Resnet18_synth\w+shuffle1_snapshot_(best-)?\d+", scorer)
    loaded = ok(shared["dlc1"]["load_analyzed_data"])
    assert loaded["pandas"].startswith("2.") and loaded["scorer"] == scorer
    values = np.array(loaded["values"], dtype=float).reshape(table.data.shape)
    np.testing.assert_allclose(values, table.data, rtol=1e-6)
    assert ok(shared["dlc1"]["load_analyzed_data filtered"])["path"].endswith("_filtered.h5")


@pytest.mark.parametrize("step", [
    "check_labels", "create_training_dataset resnet_50", "create_training_dataset resnet_101",
    "train_network resnet_50", "evaluate_network resnet_50", "analyze_videos resnet_50",
    "train_network resnet_101", "analyze_videos resnet_101", "export_model resnet_50"])
def test_deeplabcut_works_after_poseloop(shared, step):
    ok(shared["dlc1"][step])


def test_deeplabcut_functions_on_poseloop_analyses_of_its_model(shared):
    results, work = shared["dlc2"], shared["work"]
    folder = shared["imports"]["resnet_50"][1].parent
    assert ok(results["load_analyzed_data imported"])["path"].endswith("_filtered.h5")
    ok(results["plot_trajectories"])
    assert list((folder / "plot-poses").rglob("*.png"))
    ok(results["create_labeled_video"])
    assert list(folder.glob("*_labeled.mp4"))
    ok(results["filterpredictions"])
    assert list((work / "imported-unfiltered").glob("*_filtered.h5"))


@pytest.mark.parametrize("step", ["train_network again", "evaluate_network again",
                                  "analyze_videos again"])
def test_deeplabcut_works_after_poseloop_again(shared, step):
    ok(shared["dlc2"][step])
    if step == "analyze_videos again":
        assert list((shared["work"] / "dlc-again").glob("*.h5"))


@pytest.mark.parametrize("name, reference", [
    ("resnet_50", "resnet_50"), ("resnet_101", "resnet_101"), ("export", "resnet_50")])
def test_imported_models_give_deeplabcut_poses(shared, name, reference):
    snapshot, table = shared["imports"][name]
    poses, scorer = read_analysis(table)
    (dlc_table,) = (shared["work"] / f"dlc-{reference}").glob("*.h5")
    expected, dlc_scorer = read_analysis(dlc_table)
    if name != "export":  # the export's name carries its snapshot, not the project's scorer
        assert scorer == dlc_scorer == ok(shared["dlc1"][f"scorer {reference}"])
    assert poses.bodyparts == expected.bodyparts and poses.n_frames == expected.n_frames
    assert np.isfinite(expected.data).all()
    assert np.abs(poses.data[..., :2] - expected.data[..., :2]).max() < MAX_PX
    assert np.abs(poses.data[..., 2] - expected.data[..., 2]).max() < MAX_LIKELIHOOD
