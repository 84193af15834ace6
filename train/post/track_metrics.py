"""How well tracks follow the animals, against ground truth: ID switches, MOTA and IDF1.

An animal of the ground truth ``(F, I, K, 3)`` (likelihood 1 where a part is visible)
counts on a frame when it has at least two visible parts; a track ``(F, J, K, 3)`` counts
where it has at least two points. They *match* on a frame when their OKS (as in
:mod:`train.model.animals.metrics`, over the animal's visible parts) is at least
``threshold``; per frame, animals and tracks are paired by the Hungarian method on OKS.

- **ID switches**: times an animal's matched track differs from the track it was last
  matched to (CLEAR MOT); reported per 1000 frames too.
- **MOTA** = 1 - (missed animals + unmatched tracks + ID switches) / animals, summed over
  frames.
- **IDF1** = 2 IDTP / (animals + tracks, summed over frames), with IDTP the frames where
  an animal and the one track globally assigned to it (Hungarian on shared matched
  frames) match.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from train.model.animals.metrics import oks_matrix


def tracking_scores(truth: np.ndarray, tracks: np.ndarray, threshold: float = 0.5) -> dict:
    """``id_switches``, ``id_switches_per_1000``, ``mota``, ``idf1`` and the counts."""
    n_frames, n_gt = truth.shape[:2]
    n_tr = tracks.shape[1]
    gt_xy = np.where((truth[..., 2] > 0)[..., None], truth[..., :2], np.nan)
    gt_on = np.isfinite(gt_xy).all(-1).sum(-1) >= 2  # (F, I)
    tr_on = np.isfinite(tracks[..., :2]).all(-1).sum(-1) >= 2  # (F, J)
    last = np.full(n_gt, -1)
    switches = missed = extra = 0
    shared = np.zeros((n_gt, n_tr))
    for f in range(n_frames):
        gi, ti = np.flatnonzero(gt_on[f]), np.flatnonzero(tr_on[f])
        oks = np.nan_to_num(oks_matrix(gt_xy[f, gi], tracks[f, ti]).T) if len(gi) and len(
            ti) else np.zeros((len(gi), len(ti)))
        close = oks >= threshold
        shared[np.ix_(gi, ti)] += close
        rows, cols = linear_sum_assignment(-oks) if oks.size else ([], [])
        pairs = [(gi[r], ti[c]) for r, c in zip(rows, cols, strict=True) if close[r, c]]
        for g, t in pairs:
            if last[g] >= 0 and last[g] != t:
                switches += 1
            last[g] = t
        missed += len(gi) - len(pairs)
        extra += len(ti) - len(pairs)
    n_objects, n_hyp = int(gt_on.sum()), int(tr_on.sum())
    rows, cols = linear_sum_assignment(-shared)
    idtp = float(shared[rows, cols].sum())
    return {"frames": n_frames, "animals": n_objects, "tracks": n_hyp,
            "id_switches": switches, "id_switches_per_1000": 1000.0 * switches / n_frames,
            "missed": missed, "false_positives": extra,
            "mota": 1.0 - (missed + extra + switches) / max(n_objects, 1),
            "idf1": 2 * idtp / max(n_objects + n_hyp, 1)}
