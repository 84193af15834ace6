"""``poseloop import-model`` on DeepLabCut-shaped files made here (the equality with
DeepLabCut's own analyze_videos is tests/interop/test_dlc_shared_project.py), and the
names and places of models."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import yaml

from calib.errors import ModelError
from stream.cli import main as cli
from tests.train.model.conftest import make_blob_project
from train.model.artifact import load_model, read_meta
from train.model.dlc_import import DlcPoseNet, import_dlc_model
from train.model.paths import MODELS_FOLDER, net_display_name, scorer_name
from train.model.train_config import ModelDir

BODYPARTS = ["nose", "tail"]


def _config(model_name: str, channels: int) -> dict:
    def head(n):
        return {"channels": [channels, n], "kernel_size": [3], "strides": [2]}

    return {
        "net_type": "resnet_18" if model_name == "resnet18" else "resnet_50",
        "model": {
            "backbone": {"type": "ResNet", "model_name": model_name,
                         "output_stride": 32 if model_name == "resnet18" else 16},
            "heads": {"bodypart": {
                "type": "HeatmapHead",
                "predictor": {"type": "HeatmapPredictor", "apply_sigmoid": False,
                              "clip_scores": True, "location_refinement": True,
                              "locref_std": 7.2801},
                "heatmap_config": head(2), "locref_config": head(4)}},
        },
        "metadata": {"bodyparts": BODYPARTS},
    }


def _dlc_project(tmp_path, model_name="resnet18", channels=512):
    """A DeepLabCut layout holding a randomly initialized snapshot of `model_name`."""
    root = tmp_path / "proj"
    train = root / "dlc-models-pytorch" / "iteration-0" / "miceNov2-trainset95shuffle3" / "train"
    train.mkdir(parents=True)
    (root / "config.yaml").write_text("Task: mice\ndate: Nov2\npcutoff: 0.4\n")
    config = _config(model_name, channels)
    (train / "pytorch_config.yaml").write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    net = DlcPoseNet(config, train)
    snapshot = train / "snapshot-best-007.pt"
    torch.save({"model": net.state_dict(), "metadata": {"epoch": 7}}, snapshot)
    return snapshot, net.eval()


@pytest.mark.parametrize("model_name, channels", [("resnet18", 512), ("resnet50_gn", 2048)])
def test_imported_snapshot_predicts_as_the_network(tmp_path, model_name, channels):
    snapshot, net = _dlc_project(tmp_path, model_name, channels)
    out = tmp_path / "m.pt2"
    assert cli(["import-model", str(snapshot), "--out", str(out)]) == 0
    meta = read_meta(out)
    assert meta.scorer == f"DLC_{net_display_name(meta.net_type)}_miceNov2shuffle3_snapshot_best-7"
    assert meta.bodyparts == BODYPARTS and meta.pcutoff == 0.4
    frame = np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8)
    poses = load_model(out)(frame)[0]
    x = torch.from_numpy(frame[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(meta.mean)[:, None, None]) / torch.tensor(meta.std)[:, None, None]
    with torch.no_grad():
        expected = net(x)[0].numpy()
    np.testing.assert_allclose(poses, expected, atol=1e-3)
    assert (poses[:, 2] >= 0).all() and (poses[:, 2] <= 1).all()  # clip_scores


def test_export_model_file_imports_with_its_config(tmp_path):
    snapshot, _ = _dlc_project(tmp_path)
    config = yaml.safe_load((snapshot.parent / "pytorch_config.yaml").read_text())
    weights = torch.load(snapshot, weights_only=True)["model"]
    export = tmp_path / "DLC_mice_resnet_18_iteration-0_shuffle-3_snapshot-best-7.pt"
    torch.save({"config": config, "pose": weights}, export)
    out = import_dlc_model(export, tmp_path / "e.pt2", scorer="DLC_mine")
    assert read_meta(out).scorer == "DLC_mine"
    a = load_model(out)(np.zeros((48, 64, 3), np.uint8))
    b = load_model(import_dlc_model(snapshot, tmp_path / "s.pt2"))(np.zeros((48, 64, 3), np.uint8))
    np.testing.assert_array_equal(a, b)


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_hostile_and_mismatched_files_fail_naming_the_file(tmp_path, capsys):
    snapshot, _ = _dlc_project(tmp_path)
    evil = snapshot.with_name("snapshot-001.pt")
    evil.write_bytes(pickle.dumps({"model": _Payload()}))
    with pytest.raises(ModelError, match="snapshot-001.pt.*weights_only"):
        import_dlc_model(evil, tmp_path / "x.pt2")
    assert "unpickled!" not in capsys.readouterr().out
    truncated = snapshot.with_name("snapshot-002.pt")
    truncated.write_bytes(snapshot.read_bytes()[:1000])
    with pytest.raises(ModelError, match="snapshot-002.pt"):
        import_dlc_model(truncated, tmp_path / "x.pt2")
    config = snapshot.parent / "pytorch_config.yaml"
    other = yaml.safe_load(config.read_text())
    other["model"]["heads"]["bodypart"]["heatmap_config"]["channels"] = [512, 3]
    config.write_text(yaml.safe_dump(other))
    with pytest.raises(ModelError, match="snapshot-best-007.pt.*do not fit"):
        import_dlc_model(snapshot, tmp_path / "x.pt2")
    assert not (tmp_path / "x.pt2").exists()


def test_deeplabcut_names_and_poseloop_model_folder(tmp_path):
    assert net_display_name("resnet_50") == "Resnet50"
    assert net_display_name("hrnet_w32") == "HrnetW32"
    assert scorer_name("resnet_50", "mice", "Nov2", 1, "best-15") == (
        "DLC_Resnet50_miceNov2shuffle1_snapshot_best-15")
    project = make_blob_project(tmp_path, n=2)
    path = ModelDir.of(project).path
    assert path.relative_to(project.root).parts[:2] == (MODELS_FOLDER, "iteration-0")
