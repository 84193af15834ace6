"""Evaluation of a multi-animal shuffle through the deployable model, as DeepLabCut's
benchmark reports it: RMSE of labeled animals matched to predictions and mAP from OKS
(:mod:`train.model.animals.metrics`), overall and per bodypart, plus pictures of the test
frames. Files go to the model's ``test/`` folder as for one animal:
``evaluation.csv`` (``error`` is the RMSE), ``evaluation_bodyparts.csv``,
``predictions.csv`` and ``images/``.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np
import pandas as pd

from train.data.project import Project
from train.model.animals.metrics import match_and_score, per_bodypart_rmse
from train.model.evaluate import EvalResult, picture_path, predict_split, write_results

log = logging.getLogger(__name__)


def draw_animals(frame: np.ndarray, gt: np.ndarray, pred: np.ndarray, pcutoff: float,
                 skeleton: list[tuple[int, int]]) -> np.ndarray:
    """BGR picture: labels ``(I, K, 2)`` as dots, predictions ``(M, K, 3)`` as crosses
    joined by their skeleton, one color per prediction slot (thin under `pcutoff`)."""
    from train.post.labeled_video import bodypart_colors

    scale = max(1, int(math.ceil(480 / frame.shape[0])))
    img = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)

    def pt(p):
        return int(round((p[0] + 0.5) * scale - 0.5)), int(round((p[1] + 0.5) * scale - 0.5))

    for animal in gt:
        for p in animal[np.isfinite(animal).all(axis=1)]:
            cv2.circle(img, pt(p), 5, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(img, pt(p), 5, (0, 0, 0), 1, cv2.LINE_AA)
    for color, animal in zip(bodypart_colors(len(pred), "rainbow"), pred, strict=True):
        ok = np.isfinite(animal[:, :2]).all(axis=1)
        for a, b in skeleton:
            if ok[a] and ok[b]:
                cv2.line(img, pt(animal[a]), pt(animal[b]), color, 1, cv2.LINE_AA)
        for p in animal[ok]:
            cv2.drawMarker(img, pt(p), color, cv2.MARKER_CROSS, 14, 2 if p[2] >= pcutoff else 1,
                           cv2.LINE_AA)
    return img


def evaluate_animals(project: Project, shuffle: int = 1, snapshot: str = "last",
                     plot: bool = True, device: str = "cpu", progress: bool = True,
                     batch_size: int = 8) -> EvalResult:
    """Train and test RMSE and mAP of a multi-animal shuffle, through the exported model."""
    c = project.config
    pred = predict_split(project, shuffle, snapshot, device, progress, batch_size)
    rows, bp_rows = {}, []
    for which, sel in pred.sets():
        scores = match_and_score(pred.gt[sel], pred.preds[sel], c.pcutoff)
        rows[which] = {"n_images": len(pred.names[sel]), **scores, "error": scores["rmse"],
                       "error_pcutoff": scores["rmse_pcutoff"]}
        for bp, err in zip(c.bodyparts, per_bodypart_rmse(pred.gt[sel], pred.preds[sel]),
                           strict=True):
            bp_rows.append({"set": which, "bodypart": bp, "rmse": err})
    result = write_results(pred, rows, bp_rows, c.pcutoff, pd.MultiIndex.from_product(
        [pred.model.individuals, c.bodyparts, ("x", "y", "likelihood")]))
    if plot:
        parts = list(c.bodyparts)
        skeleton = [(parts.index(a), parts.index(b)) for a, b in c.skeleton]
        for i in range(pred.n_train, len(pred.names)):
            pic = draw_animals(pred.images[i], pred.gt[i], pred.preds[i], c.pcutoff, skeleton)
            cv2.imwrite(str(picture_path(pred, i)), pic)
    summary = result.summary
    for which in summary.index:
        log.info("%s: RMSE %.2f px (%.2f px with likelihood >= %.2f), mAP %.3f, %d of %d "
                 "animals matched", which, summary.loc[which, "rmse"],
                 summary.loc[which, "rmse_pcutoff"], c.pcutoff, summary.loc[which, "mAP"],
                 summary.loc[which, "n_matched"], summary.loc[which, "n_animals"])
    return result
