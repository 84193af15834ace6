import math

import cv2
import numpy as np
import pandas as pd
import pytest

from train.data.config import save_config
from train.data.project import open_project
from train.model.artifact import load_model, read_meta
from train.model.dataset import make_split
from train.model.evaluate import evaluate_network, summarize
from train.model.export import export_network


def test_summarize_matches_hand_computation():
    dist = np.array([[3.0, 4.0, np.nan], [12.0, 5.0, 1.0]])
    lik = np.array([[0.9, 0.2, 0.9], [0.7, 0.9, 0.1]])
    ref = np.array([20.0, np.nan])
    out = summarize(dist, lik, pcutoff=0.5, ref=ref, fraction=0.2)
    assert out["n_points"] == 5
    assert out["error"] == pytest.approx((3 + 4 + 12 + 5 + 1) / 5)
    assert out["error_pcutoff"] == pytest.approx((3 + 12 + 5) / 3)
    assert out["frac_above_pcutoff"] == pytest.approx(3 / 5)
    assert out["pck5"] == pytest.approx(4 / 5) and out["pck10"] == pytest.approx(4 / 5)
    assert out["pck_ref"] == pytest.approx(2 / 2)  # image 0 only: 3 and 4 <= 4


def test_evaluate_matches_the_exported_model(trained_blobs):
    project, model_dir = trained_blobs
    project.config.set("reference_length", ["red", "green"])
    save_config(project.config)
    project = open_project(project.root)
    result = evaluate_network(project, plot=True, progress=False)
    split = make_split(project, 1)
    labels = project.load_labels()
    model = load_model(result.model_path)
    idx = [labels.images.index(n) for n in split.test]
    frames = np.stack([cv2.imread(str(project.root / n)) for n in split.test])
    pred = model(frames)
    gt = labels.xy[idx]
    dist = np.linalg.norm(pred[..., :2] - gt, axis=2)
    ref = np.linalg.norm(gt[:, 0] - gt[:, 1], axis=1)
    expected = summarize(dist, pred[..., 2], project.config.pcutoff, ref, 0.2)
    table = pd.read_csv(model_dir.test_dir / "evaluation.csv", index_col="set")
    for key in ("error", "error_pcutoff", "pck5", "pck10", "pck_ref"):
        want, got = expected[key], table.loc["test", key]
        assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want, abs=1e-3)
    assert result.error("test") == pytest.approx(np.nanmean(dist), abs=1e-4)
    per_bp = pd.read_csv(model_dir.test_dir / "evaluation_bodyparts.csv", index_col=[0, 1])
    assert per_bp.loc[("test", "blue"), "n_points"] == np.isfinite(gt[:, 2, 0]).sum()
    pictures = sorted((model_dir.test_dir / "images").glob("*.png"))
    assert len(pictures) == len(split.test)
    # a later export carries the evaluated errors in its metadata
    meta = read_meta(export_network(project))
    assert meta.test_error == pytest.approx(table.loc["test", "error"])
    assert meta.train_error == pytest.approx(table.loc["train", "error"])
