"""Training targets and losses of :class:`train.model.animals.network.AnimalsNet`, on the
grid geometry of :mod:`train.model.decode` (the same as the single-animal targets).

Each cell belongs to the animal whose part is nearest (for that part's channels): the
part heatmap is the maximum of the animals' Gaussians, location refinement and
part-to-center offsets are those of the nearest animal. An image's hidden or unlabeled
part is background, as in bottom-up training on COCO: with several animals an empty
heatmap cannot be told apart from "not labeled".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from train.model.decode import cell_centers
from train.model.targets import Targets, make_targets, pose_loss

IGNORE = -100  # identity target of cells near no animal


@dataclass
class AnimalTargets:
    parts: Targets  # heatmap/locref of the nearest animal per cell; valid = image labeled
    centers: torch.Tensor  # (B, 1, h, w) in [0, 1]
    offsets: torch.Tensor  # (B, 2K, h, w) cell -> center, in units of offset_scale
    offset_mask: torch.Tensor  # (B, 2K, h, w)
    identity: torch.Tensor  # (B, h, w) long: individual index, IGNORE elsewhere


def animal_centers(keypoints: torch.Tensor) -> torch.Tensor:
    """``(B, I, 2)`` mean of each animal's labeled parts (NaN for an animal without any)."""
    valid = torch.isfinite(keypoints).all(dim=-1, keepdim=True)
    total = torch.where(valid, keypoints, torch.zeros_like(keypoints)).sum(dim=2)
    count = valid.sum(dim=2).float()
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def make_animal_targets(keypoints: torch.Tensor, out_hw: tuple[int, int], stride: int,
                        sigma: float, locref_std: float, locref_radius: float,
                        offset_scale: float) -> AnimalTargets:
    """Targets for ``keypoints (B, I, K, 2)`` in input pixels (NaN: not labeled)."""
    b, n_ind, k, _ = keypoints.shape
    h, w = out_hw
    flat = make_targets(keypoints.reshape(b, n_ind * k, 2), out_hw, stride, sigma, locref_std,
                        locref_radius)
    heat = flat.heatmap.reshape(b, n_ind, k, h, w)
    heatmap, owner = heat.max(dim=1)  # (B, K, h, w): nearest animal per cell and part

    def nearest(field: torch.Tensor) -> torch.Tensor:  # (B, I*2K, h, w) -> (B, 2K, h, w)
        per = field.reshape(b, n_ind, k, 2, h, w)
        index = owner[:, None, :, None].expand(b, 1, k, 2, h, w)
        return torch.gather(per, 1, index)[:, 0].reshape(b, 2 * k, h, w)

    locref, locref_mask = nearest(flat.locref), nearest(flat.locref_mask)
    labeled = torch.isfinite(keypoints).all(-1).flatten(1).any(dim=1).float()  # (B,)
    parts = Targets(heatmap, locref, locref_mask, labeled[:, None].expand(b, k).contiguous())

    centers = animal_centers(keypoints)  # (B, I, 2)
    center_heat = make_targets(centers, out_hw, stride, 1.5 * sigma, locref_std, 0.0).heatmap
    cx = cell_centers(w, stride, keypoints.device)
    cy = cell_centers(h, stride, keypoints.device)
    owner_center = torch.gather(
        torch.nan_to_num(centers)[:, :, None, None, None, :].expand(b, n_ind, k, h, w, 2), 1,
        owner[:, None, ..., None].expand(b, 1, k, h, w, 2))[:, 0]  # (B, K, h, w, 2)
    to_center = torch.stack([owner_center[..., 0] - cx, owner_center[..., 1] - cy[:, None]],
                            dim=2) / offset_scale  # (B, K, 2, h, w)
    has_center = torch.isfinite(centers).all(-1)  # (B, I)
    owner_ok = torch.gather(has_center, 1, owner.flatten(1)).reshape(b, k, h, w)
    offset_mask = locref_mask.reshape(b, k, 2, h, w) * owner_ok[:, :, None].float()

    whole = heat.amax(dim=2)  # (B, I, h, w): how close each animal's nearest part is
    strength, who = whole.max(dim=1)
    identity = torch.where(strength > 0.3, who, torch.full_like(who, IGNORE))
    return AnimalTargets(parts, center_heat.amax(dim=1, keepdim=True),
                         to_center.reshape(b, 2 * k, h, w), offset_mask.reshape(b, 2 * k, h, w),
                         identity)


def animal_losses(outputs: tuple[torch.Tensor, ...], targets: AnimalTargets,
                  heatmap_weight: float, locref_weight: float
                  ) -> tuple[torch.Tensor, ...]:
    """``(part heatmaps, locref, centers, offsets[, identity])`` weighted loss terms."""
    heatmaps, locref, centers, offsets = outputs[:4]
    heat_loss, locref_loss = pose_loss(heatmaps, locref, targets.parts, locref_weight)
    center_loss = F.binary_cross_entropy_with_logits(centers.float(), targets.centers)
    huber = F.smooth_l1_loss(offsets.float(), targets.offsets, reduction="none")
    offset_loss = (huber * targets.offset_mask).sum() / targets.offset_mask.sum().clamp(min=1.0)
    terms = (heatmap_weight * heat_loss, locref_loss, heatmap_weight * center_loss,
             locref_weight * offset_loss)
    if len(outputs) > 4:
        ce = F.cross_entropy(outputs[4].float(), targets.identity, ignore_index=IGNORE,
                             reduction="sum")
        terms += (ce / (targets.identity != IGNORE).sum().clamp(min=1),)
    return terms
