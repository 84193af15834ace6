import socket

import pytest
import torch
import torchvision

from calib.errors import ModelError
from train.model.backbones import build_backbone
from train.model.network import DeployNet, PoseNet


def test_weights_file_is_loaded(tmp_path):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    path = tmp_path / "my_resnet18.pth"
    torch.save(reference.state_dict(), path)
    features, channels, stride = build_backbone("resnet_18", str(path))
    assert (channels, stride) == (512, 16)
    ref = dict(reference.named_parameters())
    ours = dict(features.named_parameters())
    # features = conv1, bn1, relu, maxpool, layer1..layer4
    assert torch.equal(ours["0.weight"], ref["conv1.weight"])
    assert torch.equal(ours["7.1.conv2.weight"], ref["layer4.1.conv2.weight"])
    fresh, _, _ = build_backbone("resnet_18", "none")
    assert not torch.equal(dict(fresh.named_parameters())["0.weight"], ref["conv1.weight"])


def test_weights_file_of_another_net_is_named(tmp_path):
    path = tmp_path / "mobile.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    with pytest.raises(ModelError, match="mobile.pth"):
        build_backbone("resnet_18", str(path))
    with pytest.raises(ModelError, match="absent.pth"):
        build_backbone("resnet_18", str(tmp_path / "absent.pth"))


def test_imagenet_offline_fails_at_once_naming_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    with pytest.raises(ModelError) as info:
        build_backbone("resnet_50", "imagenet")
    message = str(info.value)
    assert str(tmp_path / "torch-home" / "hub") in message
    assert "--weights FILE" in message and "resnet50-" in message


@pytest.mark.parametrize("net", ["resnet_18", "resnet_50", "mobilenet_v3", "efficientnet_b0"])
@pytest.mark.parametrize("stride", [8, 4])
def test_output_stride(net, stride):
    torch.set_num_threads(1)
    model = PoseNet(net, 3, stride=stride, head_channels=16).eval()
    with torch.no_grad():
        heat, locref = model(torch.zeros(1, 3, 64, 96))
        poses = DeployNet(model, 7.0)(torch.zeros(2, 3, 64, 96))
    assert heat.shape == (1, 3, 64 // stride, 96 // stride)
    assert locref.shape == (1, 6, 64 // stride, 96 // stride)
    assert poses.shape == (2, 3, 3)
