"""Assembly of detected parts into animals, as pure tensor ops plus an ``nn.Module`` twin,
so that it travels inside the exported model (``torch.export``: fixed loop counts, no
data-dependent shapes).

1. Animal centers: the `max_animals` highest local maxima of the center heatmap.
2. Parts: for each bodypart the ``2 * max_animals`` highest local maxima of its heatmap,
   refined by location refinement (as :func:`train.model.decode.decode_heatmaps`), each
   voting for a center with its part-to-center offset.
3. Per bodypart, parts and centers are paired greedily, closest vote first, each center
   and each part used once, pairs farther than `max_distance` input px left out.
4. With identity logits, each animal's identity is the mean of its parts' identity
   probabilities, and animals are put in identity slots greedily, surest first.

Geometry as in :mod:`train.model.decode`: cell ``j`` is centered on input pixel
``j * stride + (stride - 1) / 2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CENTER_THRESHOLD = 0.2  # an animal needs a center peak at least this likely


def local_peaks(logits: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `n` highest 3x3 local maxima of ``(B, C, h, w)`` logits: probabilities
    ``(B, C, n)`` and flat cell indices ``(B, C, n)``."""
    prob = torch.sigmoid(logits)
    keep = prob == F.max_pool2d(prob, 3, stride=1, padding=1)
    scores, idx = torch.topk((prob * keep).flatten(2), n, dim=2)
    return scores, idx


def cell_xy(idx: torch.Tensor, w: int, stride: int) -> torch.Tensor:
    """Input-pixel centers ``(..., 2)`` of flat cell indices."""
    row = torch.div(idx, w, rounding_mode="floor")
    col = idx - row * w
    half = (stride - 1) / 2
    return torch.stack([col * stride + half, row * stride + half], dim=-1).float()


def _gather_pairs(field: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``(B, 2K, h, w)`` vector field read at ``idx (B, K, n)`` -> ``(B, K, n, 2)``."""
    b, k, n = idx.shape
    flat = field.reshape(b, k, 2, -1)
    picked = torch.gather(flat, 3, idx[:, :, None, :].expand(b, k, 2, n))
    return picked.permute(0, 1, 3, 2)


def _greedy_pairs(cost: torch.Tensor, limit: float) -> torch.Tensor:
    """Greedy one-to-one assignment on ``cost (..., M, P)``: returns ``(..., M)`` the
    column assigned to each row, -1 when none is within `limit`."""
    m, p = cost.shape[-2:]
    out = torch.full(cost.shape[:-1], -1, dtype=torch.long, device=cost.device)
    cost = cost.clone()
    rows = torch.arange(m, device=cost.device)
    cols = torch.arange(p, device=cost.device)
    for _ in range(min(m, p)):
        best, flat = cost.flatten(-2).min(dim=-1)
        r = torch.div(flat, p, rounding_mode="floor")
        c = flat - r * p
        ok = best <= limit
        hit_row = (rows == r[..., None]) & ok[..., None]  # (..., M)
        out = torch.where(hit_row, c[..., None], out)
        used_row = (rows == r[..., None])[..., :, None]
        used_col = (cols == c[..., None])[..., None, :]
        cost = cost.masked_fill(used_row | used_col, float("inf"))
    return out


def assemble(heatmaps: torch.Tensor, locref: torch.Tensor, centers: torch.Tensor,
             offsets: torch.Tensor, identity: torch.Tensor | None, stride: int,
             locref_std: float, offset_scale: float, max_animals: int,
             max_distance: float) -> torch.Tensor:
    """Network outputs -> ``(B, M, K, 3)`` x, y, likelihood per animal in input pixels
    (M = `max_animals`; NaN where no animal or part). Without identity the slots are in
    order of center score; with it, slot i is individual i."""
    b, k, h, w = heatmaps.shape
    m = max_animals
    c_score, c_idx = local_peaks(centers, m)  # (B, 1, M)
    c_xy = cell_xy(c_idx[:, 0], w, stride)  # (B, M, 2)
    c_ok = c_score[:, 0] >= CENTER_THRESHOLD  # (B, M)
    n = 2 * m
    p_score, p_idx = local_peaks(heatmaps, n)  # (B, K, n)
    p_xy = cell_xy(p_idx, w, stride) + _gather_pairs(locref, p_idx) * locref_std
    votes = cell_xy(p_idx, w, stride) + _gather_pairs(offsets, p_idx) * offset_scale
    dist = (votes[:, :, None] - c_xy[:, None, :, None]).norm(dim=-1)  # (B, K, M, n)
    dist = dist.masked_fill(~c_ok[:, None, :, None], float("inf"))
    dist = dist.masked_fill(p_score[:, :, None, :] <= 0, float("inf"))
    pick = _greedy_pairs(dist, max_distance)  # (B, K, M)
    found = pick >= 0
    safe = pick.clamp(min=0)
    xy = torch.gather(p_xy, 2, safe[..., None].expand(b, k, m, 2))  # (B, K, M, 2)
    score = torch.gather(p_score, 2, safe)  # (B, K, M)
    poses = torch.cat([xy, score[..., None]], dim=-1).permute(0, 2, 1, 3)  # (B, M, K, 3)
    poses = torch.where(found.permute(0, 2, 1)[..., None], poses,
                        torch.full_like(poses, float("nan")))
    if identity is None:
        return poses
    n_id = identity.shape[1]
    prob = torch.softmax(identity, dim=1).reshape(b, 1, n_id, h * w).expand(b, k, n_id, h * w)
    at_parts = torch.gather(prob, 3, p_idx[:, :, None, :].expand(b, k, n_id, n))  # (B,K,I,n)
    mine = torch.gather(at_parts, 3, safe[:, :, None, :].expand(b, k, n_id, m))  # (B,K,I,M)
    weight = found[:, :, None, :].float()
    votes_id = (mine * weight).sum(1) / weight.sum(1).clamp(min=1.0)  # (B, I, M)
    alive = found.any(dim=1)  # (B, M)
    cost = (1.0 - votes_id).masked_fill(~alive[:, None, :], float("inf"))
    slot_of = _greedy_pairs(cost, 1.0)  # (B, I): which animal goes into identity slot i
    have = slot_of >= 0
    gathered = torch.gather(poses, 1, slot_of.clamp(min=0)[:, :, None, None].expand(
        b, n_id, k, 3))
    return torch.where(have[:, :, None, None], gathered, torch.full_like(gathered, float("nan")))


class AnimalDecoder(nn.Module):
    """Module twin of :func:`assemble`; input is :class:`AnimalsNet`'s output tuple."""

    def __init__(self, stride: int, locref_std: float, offset_scale: float, max_animals: int,
                 max_distance: float):
        super().__init__()
        self.stride = int(stride)
        self.locref_std = float(locref_std)
        self.offset_scale = float(offset_scale)
        self.max_animals = int(max_animals)
        self.max_distance = float(max_distance)

    def forward(self, heatmaps: torch.Tensor, locref: torch.Tensor, centers: torch.Tensor,
                offsets: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        return assemble(heatmaps, locref, centers, offsets, identity, self.stride,
                        self.locref_std, self.offset_scale, self.max_animals, self.max_distance)
