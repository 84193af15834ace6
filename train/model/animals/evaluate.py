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
from train.model.dataset import make_split
from train.model.evaluate import EvalResult, _read_image, _same_size_batches, _write_csv
from train.model.train_config import ModelDir

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


def evaluate_animals(project: Project, shuffle: int = 1, snapshot: str = "best",
                     plot: bool = True, device: str = "cpu", progress: bool = True,
                     batch_size: int = 8) -> EvalResult:
    """Train and test RMSE and mAP of a multi-animal shuffle, through the exported model."""
    from tqdm import tqdm

    from train.model.artifact import load_model
    from train.model.export import export_network, pick_snapshot

    c = project.config
    model_dir = ModelDir.of(project, shuffle)
    snap = pick_snapshot(model_dir, snapshot)
    model_path = export_network(project, shuffle, model_dir.test_dir / f"{snap.stem}.pt2",
                                snapshot=str(snap))
    model = load_model(model_path, device)
    labels = project.load_labels()
    split = make_split(project, shuffle, model_dir.training_fraction, labels=labels)
    index = {img: i for i, img in enumerate(labels.images)}
    names = split.train + split.test
    images = [_read_image(project.root / name) for name in names]
    preds = np.zeros((len(names), len(model.individuals), len(c.bodyparts), 3), np.float32)
    bar = tqdm(total=len(names), desc="evaluate", unit="img", disable=not progress)
    for batch in _same_size_batches(images, batch_size):
        preds[batch] = model(np.stack([images[i] for i in batch]))
        bar.update(len(batch))
    bar.close()
    gt = labels.xy[[index[n] for n in names]]
    rows, bp_rows = {}, []
    n_train = len(split.train)
    for which, sel in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
        if not len(names[sel]):
            continue
        scores = match_and_score(gt[sel], preds[sel], c.pcutoff)
        rows[which] = {"n_images": len(names[sel]), **scores, "error": scores["rmse"],
                       "error_pcutoff": scores["rmse_pcutoff"]}
        for bp, err in zip(c.bodyparts, per_bodypart_rmse(gt[sel], preds[sel]), strict=True):
            bp_rows.append({"set": which, "bodypart": bp, "rmse": err})
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "set"
    summary.insert(0, "snapshot", snap.name)
    summary["pcutoff"] = c.pcutoff
    per_bp = pd.DataFrame(bp_rows).set_index(["set", "bodypart"])
    folder = model_dir.test_dir
    _write_csv(summary, folder / "evaluation.csv")
    _write_csv(per_bp, folder / "evaluation_bodyparts.csv")
    sets = ["train"] * n_train + ["test"] * len(split.test)
    pred_df = pd.DataFrame(
        preds.reshape(len(names), -1),
        index=pd.MultiIndex.from_arrays([sets, names], names=["set", "image"]),
        columns=pd.MultiIndex.from_product([model.individuals, c.bodyparts,
                                            ("x", "y", "likelihood")]))
    _write_csv(pred_df, folder / "predictions.csv")
    if plot:
        pics = folder / "images"
        pics.mkdir(parents=True, exist_ok=True)
        parts = list(c.bodyparts)
        skeleton = [(parts.index(a), parts.index(b)) for a, b in c.skeleton]
        for i in range(n_train, len(names)):
            pic = draw_animals(images[i], gt[i], preds[i], c.pcutoff, skeleton)
            out = pics / names[i].replace("labeled-data/", "").replace("/", "_")
            cv2.imwrite(str(out.with_suffix(".png")), pic)
    for which in summary.index:
        log.info("%s: RMSE %.2f px (%.2f px with likelihood >= %.2f), mAP %.3f, %d of %d "
                 "animals matched", which, summary.loc[which, "rmse"],
                 summary.loc[which, "rmse_pcutoff"], c.pcutoff, summary.loc[which, "mAP"],
                 summary.loc[which, "n_matched"], summary.loc[which, "n_animals"])
    return EvalResult(model_path, summary, per_bp, folder)
