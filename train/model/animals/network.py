"""The bottom-up multi-animal network: one pass for every animal in the frame.

The backbone and upsampling of :class:`train.model.network.PoseNet` feed 1x1 heads:

- part heatmaps ``(B, K, h, w)`` and location refinement ``(B, 2K, h, w)``, as for one
  animal, but with a peak on every animal's part;
- an animal-center heatmap ``(B, 1, h, w)`` (center: the mean of an animal's labeled parts);
- part-to-center offsets ``(B, 2K, h, w)``: near part k of an animal, the vector from the
  cell to that animal's center, in units of :data:`OFFSET_SCALE` px, so every detected
  part votes for the animal it belongs to (assembly: :mod:`train.model.animals.assembly`);
- with ``identity: true``, identity logits ``(B, I, h, w)``: which individual the cell shows.

Bottom-up is one forward pass whatever the number of animals; it is the default only with
``identity: true``. Otherwise top-down is (:mod:`train.model.animals.approach`: measured
far more accurate with the same CPU budget), and this network is its animal finder, of
which only the center head is run (:class:`train.model.animals.topdown.CenterFinder`).
"""

from __future__ import annotations

import torch
from torch import nn

from train.model.animals.assembly import AnimalDecoder
from train.model.network import PoseNet

OFFSET_SCALE = 32.0  # px of network input per unit of the part-to-center offsets


class AnimalsNet(nn.Module):
    """Normalized ``(B, 3, H, W)`` -> ``(heatmaps, locref, centers, offsets[, identity])``."""

    def __init__(self, net: str, n_keypoints: int, n_identities: int = 0, stride: int = 8,
                 weights: str = "none", head_channels: int = 128, dilate: bool = True):
        super().__init__()
        self.pose = PoseNet(net, n_keypoints, stride, weights, head_channels, dilate)
        channels = self.pose.head.heatmap.in_channels
        self.center = nn.Conv2d(channels, 1, 1)
        self.offset = nn.Conv2d(channels, 2 * n_keypoints, 1)
        self.identity = nn.Conv2d(channels, n_identities, 1) if n_identities else None
        nn.init.constant_(self.center.bias, -4.0)  # start near "no animal here"
        nn.init.normal_(self.offset.weight, std=1e-3)
        nn.init.zeros_(self.offset.bias)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        head = self.pose.head
        features = head.upsample(self.pose.backbone(x))
        out = (head.heatmap(features), head.locref(features), self.center(features),
               self.offset(features))
        if self.identity is not None:
            out += (self.identity(features),)
        return out


def build_animals_network(config, n_keypoints: int, n_identities: int,
                          weights: str | None = None) -> AnimalsNet:
    """The :class:`AnimalsNet` of a :class:`train.model.train_config.TrainConfig`."""
    return AnimalsNet(config.net, n_keypoints, n_identities, config.stride,
                      config.weights if weights is None else weights, config.head_channels,
                      config.dilate)


class AnimalsDeployNet(nn.Module):
    """:class:`AnimalsNet` + assembly: normalized ``(B, 3, H, W)`` -> ``(B, M, K, 3)`` x, y,
    likelihood per animal slot (NaN: no animal / part not found), in input pixels; with an
    identity head, slot i is individual i."""

    def __init__(self, net: AnimalsNet, locref_std: float, max_animals: int,
                 max_distance: float):
        super().__init__()
        self.net = net
        self.decoder = AnimalDecoder(net.stride, locref_std, OFFSET_SCALE, max_animals,
                                     max_distance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(*(t.float() for t in self.net(x)))
