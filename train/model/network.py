"""The pose network: backbone + heatmap/location-refinement head, and the deployable
twin that adds :class:`train.model.decode.HeatmapDecoder` so decoding travels in the export.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from calib.errors import ModelError
from train.model.backbones import build_backbone
from train.model.decode import HeatmapDecoder


class PoseHead(nn.Module):
    """Upsampling by transposed convolutions, then 1x1 convs to heatmaps and offsets.

    ``(B, C, h, w)`` -> heatmap logits ``(B, K, h * u, w * u)`` and location refinement
    ``(B, 2K, h * u, w * u)`` (``dx, dy`` per bodypart), with ``u = upsample``.
    """

    def __init__(self, in_channels: int, n_keypoints: int, upsample: int = 1, channels: int = 128):
        super().__init__()
        steps = int(math.log2(upsample))
        if 2**steps != upsample:
            raise ModelError(f"head upsampling must be a power of 2, got {upsample}")
        layers: list[nn.Module] = []
        for _ in range(steps):
            layers += [
                nn.ConvTranspose2d(in_channels, channels, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            in_channels = channels
        self.upsample = nn.Sequential(*layers)
        self.heatmap = nn.Conv2d(in_channels, n_keypoints, 1)
        self.locref = nn.Conv2d(in_channels, 2 * n_keypoints, 1)
        nn.init.constant_(self.heatmap.bias, -4.0)  # start near "no keypoint here"
        nn.init.normal_(self.locref.weight, std=1e-3)
        nn.init.zeros_(self.locref.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.upsample(x)
        return self.heatmap(x), self.locref(x)


class PoseNet(nn.Module):
    """Normalized ``(B, 3, H, W)`` -> ``(heatmaps (B, K, h, w), locref (B, 2K, h, w))``."""

    def __init__(self, net: str, n_keypoints: int, stride: int = 8, weights: str = "none",
                 head_channels: int = 128, dilate: bool = True):
        super().__init__()
        if stride not in (4, 8, 16):
            raise ModelError(f"output stride must be 4, 8 or 16, got {stride}")
        self.backbone, channels, bstride = build_backbone(net, weights, dilate)
        self.head = PoseHead(channels, n_keypoints, bstride // stride, head_channels)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(x))


def build_network(config, n_keypoints: int, weights: str | None = None) -> PoseNet:
    """The :class:`PoseNet` of a :class:`train.model.train_config.TrainConfig` (`weights`
    overrides ``config.weights``, e.g. ``"none"`` before loading a snapshot)."""
    return PoseNet(config.net, n_keypoints, config.stride,
                   config.weights if weights is None else weights, config.head_channels,
                   config.dilate)


class DeployNet(nn.Module):
    """:class:`PoseNet` + decoding: normalized ``(B, 3, H, W)`` -> ``(B, K, 3)`` x, y, likelihood
    in input pixels; what :func:`train.model.artifact.export_model` exports."""

    def __init__(self, net: PoseNet, locref_std: float):
        super().__init__()
        self.net = net
        self.decoder = HeatmapDecoder(net.stride, locref_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heatmaps, locref = self.net(x)
        return self.decoder(heatmaps.float(), locref.float())
