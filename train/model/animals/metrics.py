"""Multi-animal pose metrics as DeepLabCut's benchmark reports them.

- **OKS** (object keypoint similarity) of a prediction against a labeled animal: the
  mean over the animal's labeled parts of ``exp(-d^2 / (2 s^2 k^2))``, with ``d`` the
  pixel distance (a missing prediction counts as infinitely far), ``s^2`` the area of
  the box around the animal's labeled parts and ``k = 2 * sigma``, sigma 0.1 for every
  part; animals with fewer than two labeled parts are left out.
- **mAP**: COCO's average precision over OKS thresholds 0.5, 0.55, ..., 0.95 and 101
  recall points; per image, predictions (scored by their mean part likelihood, best
  first) are matched greedily to the unmatched animal of highest OKS.
- **RMSE** (DeepLabCut's name; it is the mean Euclidean error): over the labeled parts
  of animals matched with OKS > 0, the distance to the matched prediction's part.
"""

from __future__ import annotations

import math

import numpy as np

OKS_SIGMA = 0.1
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def oks_matrix(gt: np.ndarray, pred: np.ndarray, sigma: float = OKS_SIGMA) -> np.ndarray:
    """``(P, G)`` OKS of predictions ``(P, K, >=2)`` against animals ``(G, K, 2)`` (NaN where
    an animal has fewer than two labeled parts or no extent)."""
    out = np.full((len(pred), len(gt)), np.nan)
    k2 = (2 * sigma) ** 2
    for g, animal in enumerate(gt):
        seen = np.isfinite(animal).all(axis=1)
        if seen.sum() < 2:
            continue
        true = animal[seen]
        area = np.prod(np.ptp(true, axis=0) + np.spacing(1))
        if np.isclose(area, 0):
            continue
        d2 = ((pred[:, seen, :2] - true[None]) ** 2).sum(-1)
        d2 = np.where(np.isfinite(d2), d2, np.inf)
        out[:, g] = np.exp(-d2 / (2 * area * k2)).mean(axis=1)
    return out


def _keep(animals: np.ndarray) -> np.ndarray:
    """Animals (or predictions) with at least two points."""
    return animals[np.isfinite(animals[..., :2]).all(-1).sum(-1) > 1]


def greedy_match(oks: np.ndarray, threshold: float) -> np.ndarray:
    """For predictions in score order (rows of `oks`), the matched animal or -1."""
    taken: set[int] = set()
    out = np.full(len(oks), -1)
    for p, row in enumerate(oks):
        if np.isnan(row).all():
            continue
        g = int(np.nanargmax(row))
        if g in taken or row[g] < threshold:
            continue
        taken.add(g)
        out[p] = g
    return out


def _sorted_predictions(pred: np.ndarray) -> np.ndarray:
    pred = _keep(pred)
    score = np.nanmean(pred[..., 2], axis=1) if len(pred) else np.zeros(0)
    return pred[np.argsort(-score, kind="mergesort")]


def mean_average_precision(gt: np.ndarray, pred: np.ndarray) -> float:
    """mAP over images: labels ``(N, I, K, 2)``, predictions ``(N, M, K, 3)``."""
    items, total = [], 0
    for g, p in zip(gt, pred, strict=True):
        g, p = _keep(g), _sorted_predictions(p)
        total += len(g)
        score = np.nanmean(p[..., 2], axis=1) if len(p) else np.zeros(0)
        items.append((oks_matrix(g, p), score))
    if total == 0:
        return math.nan
    precisions = []
    for t in OKS_THRESHOLDS:
        scores, hits = [], []
        for oks, score in items:
            match = greedy_match(oks, t)
            scores.append(score)
            hits.append(match >= 0)
        if not scores or not np.concatenate(scores).size:
            return 0.0
        order = np.argsort(-np.concatenate(scores), kind="mergesort")
        hit = np.concatenate(hits)[order]
        tp, fp = np.cumsum(hit), np.cumsum(~hit)
        recall = tp / total
        precision = tp / np.maximum(tp + fp, np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
        at = np.searchsorted(recall, RECALL_POINTS, side="left")
        picked = np.zeros(len(RECALL_POINTS))
        inside = at < len(precision)
        picked[inside] = precision[at[inside]]
        precisions.append(picked.mean())
    return float(np.mean(precisions))


def matched_errors(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances and likelihoods ``(matches, K)`` of labeled parts of animals matched (OKS
    > 0) to predictions; NaN where a part is not labeled."""
    dists, liks = [], []
    for g, p in zip(gt, pred, strict=True):
        g, p = _keep(g), _sorted_predictions(p)
        if not len(g) or not len(p):
            continue
        match = greedy_match(oks_matrix(g, p), 1e-6)
        for pi, gi in enumerate(match):
            if gi >= 0:
                dists.append(np.linalg.norm(p[pi, :, :2] - g[gi], axis=-1))
                liks.append(p[pi, :, 2])
    k = gt.shape[2]
    if not dists:
        return np.zeros((0, k)), np.zeros((0, k))
    return np.stack(dists), np.stack(liks)


def match_and_score(gt: np.ndarray, pred: np.ndarray, pcutoff: float = 0.6) -> dict[str, float]:
    """``rmse``, ``rmse_pcutoff`` (parts predicted at or above `pcutoff`), ``mAP`` and how
    many animals were labeled and matched."""
    dist, lik = matched_errors(gt, pred)
    labeled = np.isfinite(dist)
    sure = labeled & (np.nan_to_num(lik) >= pcutoff)
    n_gt = sum(len(_keep(g)) for g in gt)
    return {"rmse": float(dist[labeled].mean()) if labeled.any() else math.nan,
            "rmse_pcutoff": float(dist[sure].mean()) if sure.any() else math.nan,
            "mAP": mean_average_precision(gt, pred), "n_animals": n_gt,
            "n_matched": int(len(dist))}


def per_bodypart_rmse(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``(K,)`` mean error per bodypart over matched animals."""
    dist, _ = matched_errors(gt, pred)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isfinite(dist), dist, np.nan), axis=0) if len(dist) \
            else np.full(gt.shape[2], np.nan)
