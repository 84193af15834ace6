from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from train.model.backbones import build_backbone
from train.model.efficientnet_lite import (
    MEAN,
    STD,
    EfficientNetLite0,
    SameConv,
    imagenet_weights_path,
)

MILITARY_UNIFORM = 652  # ImageNet class of the portrait of Grace Hopper


def test_imagenet_weights_fit_every_tensor():
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert state.keys() == model.state_dict().keys()
    assert all(state[k].shape == v.shape for k, v in model.state_dict().items())
    n = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert 4.6e6 < n < 4.7e6  # 4.65 M parameters + batch-norm statistics = 4.69 M numbers


def test_imagenet_weights_recognise_a_photograph():
    """The architecture matches the weights beyond their shapes (padding, activations,
    normalization): a photograph is classified as ImageNet labels it."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.exists():
        pytest.skip(f"{path}: matplotlib's sample photograph is not installed")
    torch.set_num_threads(1)
    image = cv2.imread(str(path))[:, :, ::-1]
    h, w = image.shape[:2]
    side = min(h, w)
    image = image[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
    image = cv2.resize(np.ascontiguousarray(image), (224, 224), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    model = EfficientNetLite0().eval()
    model.load_state_dict(torch.load(imagenet_weights_path(), weights_only=True))
    with torch.no_grad():
        assert int(model(x).argmax()) == MILITARY_UNIFORM


@pytest.mark.parametrize("dilate, stride", [(False, 32), (True, 16)])
def test_backbone_keeps_imagenet_features(dilate, stride):
    torch.set_num_threads(1)
    features, channels, out_stride = build_backbone("efficientnet_lite0", "imagenet", dilate)
    assert (channels, out_stride) == (1280, stride)
    state = torch.load(imagenet_weights_path(), weights_only=True)
    ours = features.state_dict()
    assert torch.equal(ours["model._conv_stem.weight"], state["_conv_stem.weight"])
    assert not any("_fc" in k for k in ours)  # the classifier is dropped
    with torch.no_grad():
        out = features.eval()(torch.zeros(1, 3, 96, 128))
    assert out.shape == (1, 1280, 96 // stride, 128 // stride)


def test_weights_file_of_lite0_is_loaded(tmp_path):
    torch.manual_seed(2)
    reference = EfficientNetLite0()
    path = tmp_path / "lite0.pth"
    torch.save(reference.state_dict(), path)
    features, _, _ = build_backbone("efficientnet_lite0", str(path), dilate=False)
    assert torch.equal(features.state_dict()["model._blocks.15._project_conv.weight"],
                       reference.state_dict()["_blocks.15._project_conv.weight"])


@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_matches_tensorflow_on_even_sizes(kernel):
    """TensorFlow's rule: total = max((ceil(n / s) - 1) s + k - n, 0), the extra pixel after."""
    torch.manual_seed(0)
    conv = SameConv(2, 3, kernel, 2, bias=False)
    x = torch.randn(1, 2, 32, 40)
    pads = []
    for n in (40, 32):
        total = max((-(-n // 2) - 1) * 2 + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, pads), conv.weight, None, 2)
    assert torch.allclose(conv(x), expected, atol=1e-6)


def test_features_of_odd_and_even_frames_line_up():
    """A frame one pixel larger (odd) gives the same features on the common part: the grid
    does not shift with the size's parity, so predictions on whole frames of any size line
    up with training crops."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = EfficientNetLite0().eval()
    x = torch.randn(1, 3, 129, 161)
    with torch.no_grad():
        odd = model.features(x)
        even = model.features(x[:, :, :128, :160])
    assert torch.allclose(odd[..., :3, :4], even[..., :3, :4], atol=1e-4)
