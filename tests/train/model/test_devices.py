"""The model on every device and precision: the same poses as float32 on the CPU."""

import numpy as np
import pytest
import torch

from train.model.artifact import ModelMeta, PoseModel, export_model, load_model
from train.model.network import DeployNet, build_network
from train.model.train_config import TrainConfig

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture(scope="module")
def resnet_model(tmp_path_factory):
    config = TrainConfig(net="resnet_18", weights="none", stride=4, dilate=False, head_channels=64)
    torch.manual_seed(0)
    net = DeployNet(build_network(config, 3, weights="none"), config.locref_std).eval()
    meta = ModelMeta(bodyparts=["a", "b", "c"], scorer="DLC_dev", stride=config.stride,
                     input_scale=0.5, min_size=64)
    return export_model(net, meta, tmp_path_factory.mktemp("dev") / "m.pt2", example_hw=(128, 128))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("amp", [False, True])
def test_poses_agree_across_devices_and_precision(resnet_model, device, amp):
    frames = np.random.default_rng(0).integers(0, 255, (4, 240, 320, 3), dtype=np.uint8)
    frames[:, 100:140, 150:200] = 250
    reference = PoseModel(resnet_model, "cpu")(frames)
    model = load_model(resnet_model, device, amp=amp)
    got = model.predict_frames(list(frames))
    assert got.shape == reference.shape
    if model.amp:  # float16: a peak may move by a fraction of a cell where two are close
        assert np.median(np.abs(got[..., :2] - reference[..., :2])) < 0.5
    else:
        np.testing.assert_allclose(got, reference, atol=1e-2)
