"""The multi-animal network: targets, assembly (also inside the export), metrics, and a
few training steps through the shared trainer, evaluation and export."""

import numpy as np
import pytest
import torch

from train.model.animals.assembly import assemble
from train.model.animals.metrics import match_and_score, mean_average_precision, oks_matrix
from train.model.animals.targets import make_animal_targets

NAN = float("nan")
KP = torch.tensor([[[[20., 30], [40, 35], [60, 30]],
                    [[70, 80], [90, 85], [110, 90]],
                    [[NAN, NAN], [NAN, NAN], [NAN, NAN]]]])


def _perfect_outputs(identity: bool):
    """The network outputs that equal the targets (logits of the target heatmaps)."""
    t = make_animal_targets(KP, (32, 32), 4, 4.0, 7.28, 12.0, 32.0)

    def logit(p):
        return torch.logit(p.clamp(1e-4, 1 - 1e-4))

    out = [logit(t.parts.heatmap), t.parts.locref, logit(t.centers), t.offsets]
    if identity:
        out.append(10 * torch.nn.functional.one_hot(t.identity.clamp(min=0), 3)
                   .permute(0, 3, 1, 2).float())
    return out


@pytest.mark.parametrize("identity", [False, True])
def test_assembly_of_perfect_outputs_gives_back_the_animals(identity):
    out = _perfect_outputs(identity)
    poses = assemble(*out, None, 4, 7.28, 32.0, 3, 20.0) if not identity else assemble(
        *out, 4, 7.28, 32.0, 3, 20.0)
    found = poses[0][torch.isfinite(poses[0, :, 0, 0])]
    assert len(found) == 2
    if identity:  # slot i is individual i
        torch.testing.assert_close(poses[0, :2, :, :2], KP[0, :2], atol=1e-3, rtol=0)
        assert torch.isnan(poses[0, 2]).all()
    else:
        got = sorted(found[:, :, :2].tolist())
        torch.testing.assert_close(torch.tensor(got), KP[0, :2], atol=1e-3, rtol=0)


def test_assembly_exports_with_torch_export():
    class Net(torch.nn.Module):
        def forward(self, a, b, c, d):
            return assemble(a, b, c, d, None, 4, 7.28, 32.0, 3, 20.0)

    out = _perfect_outputs(False)
    program = torch.export.export(Net(), tuple(out))
    torch.testing.assert_close(program.module()(*out), Net()(*out), equal_nan=True)


def test_oks_map_and_matched_rmse():
    gt = np.array([[[[0, 0], [10, 0], [10, 10]], [[50, 50], [60, 50], [60, 60]]]], float)
    pred = np.concatenate([gt, np.full(gt.shape[:3] + (1,), 0.9)], -1)
    assert oks_matrix(gt[0], pred[0])[0, 0] == pytest.approx(1.0)
    perfect = match_and_score(gt, pred)
    assert perfect["rmse"] == 0 and perfect["mAP"] == pytest.approx(1.0)
    off = pred.copy()
    off[0, 1, :, :2] += 3.0  # one animal 4.24 px off: OKS exp(-18 / (2 * 100 * 0.04)) = 0.105
    scores = match_and_score(gt, off)
    assert scores["rmse"] == pytest.approx(np.hypot(3, 3) / 2)
    assert 0.4 < mean_average_precision(gt, off) < 0.6  # one of two animals found
    assert match_and_score(gt, pred[:, :1])["n_matched"] == 1


@pytest.fixture(scope="module")
def herd_project(tmp_path_factory):
    from train.synth.animal import SynthConfig, make_synthetic_project

    return make_synthetic_project(tmp_path_factory.mktemp("herd"), SynthConfig(
        width=128, height=96, n_frames=30, seed=1, body_length=0.3), n_labeled=6, animals=2,
        distinct=True, progress=False)


def test_train_export_evaluate_several_animals(herd_project):
    """Trained with the defaults chosen for a CPU (each animal's extent sizes the crops)."""
    from train.model.artifact import load_model
    from train.model.evaluate import evaluate_network
    from train.model.trainer import train_network

    test_images = herd_project.load_labels().images[:2]
    model_dir = train_network(herd_project, progress=False, test_images=test_images, epochs=2,
                              stride=8)
    written = model_dir.read_config()
    assert written.net == "efficientnet_lite0" and written.crop_size == [96, 128]
    assert "individuals" in model_dir.config_path.read_text()
    result = evaluate_network(herd_project, plot=True, progress=False)
    assert {"rmse", "mAP", "n_matched"} <= set(result.summary.columns)
    assert any((result.folder / "images").glob("*.png"))
    model = load_model(result.model_path)
    assert model.individuals == ("animal1", "animal2") and model.meta.identity
    out = model(np.zeros((2, 96, 128, 3), np.uint8))
    assert out.shape == (2, 2, 7, 3)


def test_augmentation_preview_of_several_animals(herd_project, tmp_path):
    from train.model.trainer import preview_augmentation

    out = preview_augmentation(herd_project, path=tmp_path / "aug.png", n=2, crop=(64, 64))
    assert out.exists() and out.stat().st_size > 0


@pytest.mark.gpu
def test_several_animals_train_and_run_on_cuda(herd_project):
    from train.model.artifact import load_model
    from train.model.export import export_network
    from train.model.trainer import train_network

    train_network(herd_project, shuffle=3, progress=False, epochs=1, crop=(64, 64), stride=8,
                  device="cuda")
    model = load_model(export_network(herd_project, 3), "cuda")
    frames = np.zeros((2, 96, 128, 3), np.uint8)
    cpu = load_model(model.path, "cpu")(frames)
    np.testing.assert_allclose(model(frames), cpu, atol=0.05, equal_nan=True)
