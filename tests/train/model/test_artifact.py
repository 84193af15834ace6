import numpy as np
import pytest
import torch
from torch import nn

from calib.errors import ModelError
from train.model.artifact import ModelMeta, export_model, load_model, read_meta
from train.model.decode import HeatmapDecoder, cell_centers, decode_heatmaps


class PeakNet(nn.Module):
    """Heatmap = mean brightness pooled by stride: the peak is the bright square."""

    def __init__(self, stride=4):
        super().__init__()
        self.pool = nn.AvgPool2d(stride)
        self.decoder = HeatmapDecoder(stride, locref_std=1.0)

    def forward(self, x):
        heat = self.pool(x.mean(1, keepdim=True)) * 10
        return self.decoder(heat, torch.zeros_like(heat).repeat(1, 2, 1, 1))


def test_decode_places_peak_at_cell_center_plus_offset():
    heat = torch.full((1, 1, 5, 7), -10.0)
    heat[0, 0, 3, 2] = 4.0
    off = torch.zeros(1, 2, 5, 7)
    off[0, :, 3, 2] = torch.tensor([0.5, -1.0])
    out = decode_heatmaps(heat, off, stride=8, locref_std=2.0)
    centers = cell_centers(7, 8)
    assert out[0, 0, 0].item() == pytest.approx(centers[2].item() + 1.0)
    assert out[0, 0, 1].item() == pytest.approx(3 * 8 + 3.5 - 2.0)
    assert out[0, 0, 2].item() == pytest.approx(torch.sigmoid(torch.tensor(4.0)).item())


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_export_load_predict(tmp_path, scale):
    meta = ModelMeta(bodyparts=["spot"], scorer="DLC_test", stride=4, input_scale=scale,
                     mean=[0, 0, 0], std=[1, 1, 1], min_size=16)
    path = export_model(PeakNet(), meta, tmp_path / "m.pt2", example_hw=(64, 64))
    model = load_model(path)
    assert model.bodyparts == ("spot",) and read_meta(path).stride == 4
    frames = np.zeros((3, 96, 128, 3), np.uint8)
    for i in range(3):
        frames[i, 40:48, 16 + 32 * i: 24 + 32 * i] = 255
    out = model(frames)
    assert out.shape == (3, 1, 3) and out.dtype == np.float32
    for i in range(3):
        assert abs(out[i, 0, 0] - (19.5 + 32 * i)) <= 2 / scale
        assert abs(out[i, 0, 1] - 43.5) <= 2 / scale


def test_truncated_or_missing_model_is_named(tmp_path):
    meta = ModelMeta(bodyparts=["spot"], scorer="s", stride=4, min_size=16)
    path = export_model(PeakNet(), meta, tmp_path / "m.pt2", example_hw=(32, 32))
    cut = tmp_path / "cut.pt2"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for bad in (cut, tmp_path / "absent.pt2"):
        with pytest.raises(ModelError, match=bad.name):
            load_model(bad)
