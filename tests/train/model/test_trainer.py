import csv
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from calib.errors import ConfigError
from tests.conftest import ROOT
from tests.train.model.conftest import make_blob_project
from train.model.artifact import load_model, read_meta
from train.model.export import export_network
from train.model.train_config import ModelDir, TrainConfig


def test_training_writes_config_log_and_snapshots(trained_blobs):
    project, model_dir = trained_blobs
    assert model_dir.path.parent.name == "iteration-0"
    assert model_dir.name == f"blobs{project.config.date}-trainset75shuffle1"
    assert model_dir.read_config().net == "resnet_18"
    with model_dir.log_path.open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["samples_per_s"]) > 0 and float(r["lr"]) > 0 for r in rows)
    assert rows[1]["test_error"] and rows[3]["test_error"] and not rows[0]["test_error"]
    assert [p.name for p in model_dir.snapshots()] == [  # keep_snapshots; none chosen by test
        "snapshot-00002.pt", "snapshot-00003.pt", "snapshot-00004.pt"]
    assert sorted(p.name for p in model_dir.train_dir.glob("snapshot-*")) == [
        p.name for p in model_dir.snapshots()]


def test_export_meta_and_prediction_shape(trained_blobs, tmp_path):
    project, _ = trained_blobs
    path = export_network(project, out=tmp_path / "m.pt2")
    meta = read_meta(path)
    assert meta.bodyparts == ["red", "green", "blue"] and meta.stride == 8
    assert meta.net_type == "resnet_18" and meta.training_set["shuffle"] == 1
    # the last snapshot is the model: none is chosen by its test error
    assert meta.training_set["epoch"] == 4 and meta.training_set["snapshot"] == "snapshot-00004.pt"
    model = load_model(path)
    out = model(np.zeros((2, 64, 96, 3), np.uint8))
    assert out.shape == (2, 3, 3)


def test_bad_train_config_is_named():
    with pytest.raises(ConfigError, match="net"):
        TrainConfig(net="alexnet")
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainConfig.from_dict({"epochz": 3})


def _train_cmd(project, *extra):
    return [sys.executable, "-m", "stream.cli", "train", str(project.root), "--net", "resnet_18",
            "--weights", "none", "--epochs", "4", "--batch-size", "4", "--seed", "3",
            "--save-every", "1", *extra]


def _weights(model_dir: ModelDir, epoch: int) -> dict:
    return torch.load(model_dir.snapshot(epoch), weights_only=True)["model"]


def test_killed_run_resumes_to_the_same_result(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    straight = make_blob_project(tmp_path / "a")
    subprocess.run(_train_cmd(straight), cwd=ROOT, env=env, check=True, capture_output=True)
    killed = make_blob_project(tmp_path / "b")
    model_dir = ModelDir.of(killed)
    proc = subprocess.Popen(_train_cmd(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while not model_dir.snapshot(2).exists() and proc.poll() is None:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert model_dir.snapshot(2).exists() and not model_dir.snapshot(4).exists()
    resumed = subprocess.run(_train_cmd(killed, "--resume"), cwd=ROOT, env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = _weights(ModelDir.of(straight), 4), _weights(model_dir, 4)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with model_dir.log_path.open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]


def test_preview_augmentation_writes_picture_and_exits(blob_project, tmp_path):
    from stream.cli import main as cli

    out = tmp_path / "preview.png"
    assert cli(["train", str(blob_project.root), "--preview-augmentation", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[0] > 64 and picture.shape[1] > 96 * 5
    assert not ModelDir.of(blob_project).snapshots()


def test_augmentation_settings_are_validated():
    with pytest.raises(ConfigError, match="rotation"):
        TrainConfig(augment={"rotation": "lots"})
    assert TrainConfig(augment=None).augment is None


def test_every_train_option_reaches_the_python_function(blob_project, monkeypatch):
    import train.model.trainer as trainer
    from stream.cli import main as cli

    calls = {}

    def fake_train(project, **kwargs):
        calls.update(kwargs, project=project)
        return ModelDir.of(blob_project)

    monkeypatch.setattr(trainer, "train_network", fake_train)
    assert cli(["train", str(blob_project.root), "--shuffle", "2", "--net", "resnet_18",
                "--weights", "none", "--stride", "4", "--epochs", "3", "--batch-size", "2",
                "--lr", "0.01", "--crop", "64", "96", "--input-scale", "0.5", "--max-minutes",
                "1.5", "--save-every", "2", "--seed", "7", "--device", "cpu", "--threads", "1",
                "--resume", "--test-images", "labeled-data/clip/img000.png",
                "--no-augment", "--approach", "bottomup"]) == 0
    assert calls == dict(project=str(blob_project.root), shuffle=2, net="resnet_18",
                         weights="none", stride=4, epochs=3, batch_size=2, lr=0.01, crop=[64, 96],
                         input_scale=0.5, max_minutes=1.5, save_every=2, seed=7, device="cpu",
                         threads=1, resume=True, test_images=["labeled-data/clip/img000.png"],
                         augment=False, approach="bottomup")


@pytest.mark.gpu
def test_gpu_defaults_train_with_amp_and_channels_last(blob_project):
    from train.model.trainer import train_network

    model_dir = train_network(blob_project, progress=False, weights="none", epochs=2,
                              device="cuda")
    config = model_dir.read_config()
    assert config.net == "resnet_50" and config.amp and config.channels_last
    assert model_dir.snapshots()
