"""Training targets and loss on the grid geometry of :mod:`train.model.decode`.

Cell ``(i, j)`` of the output is centered on input pixel ``cell_centers`` (the same
function the decoder uses), so a perfectly fitted net decodes to the labels exactly.
A bodypart that is not labeled (NaN) contributes nothing to the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from train.model.decode import cell_centers


@dataclass
class Targets:
    heatmap: torch.Tensor  # (B, K, h, w) in [0, 1]
    locref: torch.Tensor  # (B, 2K, h, w) offsets in units of locref_std
    locref_mask: torch.Tensor  # (B, 2K, h, w) 1 near a labeled keypoint
    valid: torch.Tensor  # (B, K) 1 where the keypoint is labeled


def make_targets(keypoints: torch.Tensor, out_hw: tuple[int, int], stride: int, sigma: float,
                 locref_std: float, locref_radius: float) -> Targets:
    """Targets for `keypoints` ``(B, K, 2)`` in input pixels (NaN = not labeled).

    The heatmap is a Gaussian of `sigma` input pixels around each keypoint; the
    location refinement target is ``(keypoint - cell center) / locref_std`` on cells
    within `locref_radius` input pixels.
    """
    h, w = out_hw
    device = keypoints.device
    valid = torch.isfinite(keypoints).all(dim=2)
    kp = torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints)).float()
    cx = cell_centers(w, stride, device)  # (w,)
    cy = cell_centers(h, stride, device)  # (h,)
    dx = kp[..., 0, None, None] - cx[None, None, None, :]  # (B, K, 1, w)
    dy = kp[..., 1, None, None] - cy[None, None, :, None]  # (B, K, h, 1)
    dist2 = dx.square() + dy.square()  # (B, K, h, w)
    vmask = valid[..., None, None].float()
    heatmap = torch.exp(-dist2 / (2 * sigma**2)) * vmask
    near = (dist2 <= locref_radius**2).float() * vmask
    locref = torch.stack([dx.expand_as(dist2), dy.expand_as(dist2)], dim=2) / locref_std
    b, k = valid.shape
    return Targets(
        heatmap=heatmap,
        locref=locref.reshape(b, 2 * k, h, w),
        locref_mask=near[:, :, None].expand(b, k, 2, h, w).reshape(b, 2 * k, h, w),
        valid=valid.float(),
    )


def pose_loss(heatmaps: torch.Tensor, locref: torch.Tensor, targets: Targets,
              locref_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(heatmap loss, locref loss)``: BCE over cells of labeled keypoints, and Huber on
    offsets near them. Unlabeled keypoints are masked out of both."""
    bce = F.binary_cross_entropy_with_logits(heatmaps.float(), targets.heatmap, reduction="none")
    per_kp = bce.mean(dim=(2, 3))  # (B, K)
    n_valid = targets.valid.sum().clamp(min=1.0)
    heat_loss = (per_kp * targets.valid).sum() / n_valid
    huber = F.smooth_l1_loss(locref.float(), targets.locref, reduction="none")
    locref_loss = (huber * targets.locref_mask).sum() / targets.locref_mask.sum().clamp(min=1.0)
    return heat_loss, locref_weight * locref_loss
