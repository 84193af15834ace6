import numpy as np
import pytest
import torch
from torch import nn

from calib.errors import ModelError
from train.model.artifact import ModelMeta, PoseModel, export_model, load_model
from train.model.decode import HeatmapDecoder

pytest.importorskip("onnxruntime")


class ConvNet(nn.Module):
    """A small real network (convolutions, batch norm, a transposed convolution) with
    heatmap decoding: outputs move with the image, so poses are worth comparing."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 9, 4, stride=2, padding=1),
        )
        self.decoder = HeatmapDecoder(4, locref_std=2.0)

    def forward(self, x):
        y = self.body(x)
        return self.decoder(y[:, :3] * 4, y[:, 3:])


@pytest.fixture(scope="module", params=[1.0, 0.5])
def model_path(request, tmp_path_factory):
    meta = ModelMeta(bodyparts=["a", "b", "c"], scorer="DLC_conv", stride=4, min_size=16,
                     input_scale=request.param)
    path = tmp_path_factory.mktemp("onnx") / "conv.pt2"
    return export_model(ConvNet().eval(), meta, path, example_hw=(64, 64))


def test_onnxruntime_matches_pytorch_within_a_tenth_of_a_pixel(model_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (3, 120, 160, 3), dtype=np.uint8)
    frames[:, 30:50, 60:90] = 255  # something for the peaks to find
    torch_model = PoseModel(model_path)
    fast = load_model(model_path, backend="onnxruntime", threads=1)
    assert fast.bodyparts == torch_model.bodyparts
    assert fast.individuals == torch_model.individuals == ()
    assert fast.input_size(120, 160) == torch_model.input_size(120, 160)
    expected = torch_model(frames)
    for got in (fast(frames), fast.predict_frames(list(frames)), fast(frames[:1])):
        n = len(got)
        assert got.shape == (n, 3, 3) and got.dtype == np.float32
        np.testing.assert_allclose(got[..., :2], expected[:n, :, :2], atol=0.1)
        np.testing.assert_allclose(got[..., 2], expected[:n, :, 2], atol=1e-3)
    rgb = frames[..., ::-1].copy()
    np.testing.assert_allclose(fast(rgb, bgr=False)[..., :2], expected[..., :2], atol=0.1)


def test_onnxruntime_rejects_bad_input_and_backend(model_path):
    fast = load_model(model_path, backend="onnxruntime", threads=1)
    with pytest.raises(ModelError, match="uint8"):
        fast(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ModelError, match="backend"):
        load_model(model_path, backend="tensorflow")
