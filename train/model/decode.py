"""Heatmap decoding as pure tensor ops plus an ``nn.Module`` twin, so that decoding
travels inside the exported model.

Geometry: output cell ``j`` of a network with stride ``s`` is centered on input pixel
``j * s + (s - 1) / 2`` (OpenCV convention, pixel centers at integers). Training
targets use :func:`cell_centers` too, so the two can never drift apart.
"""

from __future__ import annotations

import torch
from torch import nn


def cell_centers(n: int, stride: int, device=None) -> torch.Tensor:
    """Input-pixel coordinates ``(n,)`` of the centers of `n` output cells."""
    return torch.arange(n, device=device, dtype=torch.float32) * stride + (stride - 1) / 2


def decode_heatmaps(
    heatmaps: torch.Tensor, offsets: torch.Tensor, stride: int, locref_std: float
) -> torch.Tensor:
    """Argmax + location refinement.

    Args:
        heatmaps: ``(B, K, h, w)`` logits.
        offsets: ``(B, 2K, h, w)`` location refinement, ``(dx, dy)`` per bodypart,
            in units of ``locref_std`` input pixels.
    Returns:
        ``(B, K, 3)``: ``x, y`` in input pixels and the likelihood (sigmoid of the peak).
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.flatten(2)
    peak, idx = flat.max(dim=2)
    row = torch.div(idx, w, rounding_mode="floor")
    col = idx - row * w
    off = offsets.reshape(b, k, 2, h * w)
    picked = torch.gather(off, 3, idx[:, :, None, None].expand(b, k, 2, 1)).squeeze(3)
    half = (stride - 1) / 2
    x = col.to(heatmaps.dtype) * stride + half + picked[:, :, 0] * locref_std
    y = row.to(heatmaps.dtype) * stride + half + picked[:, :, 1] * locref_std
    return torch.stack([x, y, torch.sigmoid(peak)], dim=2).float()


class HeatmapDecoder(nn.Module):
    """Module twin of :func:`decode_heatmaps`; input is the head's ``(heatmaps, offsets)``."""

    def __init__(self, stride: int, locref_std: float):
        super().__init__()
        self.stride = int(stride)
        self.locref_std = float(locref_std)

    def forward(self, heatmaps: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return decode_heatmaps(heatmaps, offsets, self.stride, self.locref_std)
