"""Evaluation of a trained shuffle through the deployable model.

The snapshot is exported to ``.pt2`` and every labeled image of the recorded split is
predicted by :class:`train.model.artifact.PoseModel`, exactly as the streaming runtime would,
so offline numbers and online behaviour agree. Results go beside the model, in its
``test/`` folder: ``evaluation.csv`` (one row per set), ``evaluation_bodyparts.csv``,
``predictions.csv`` and pictures of the test frames with ground truth and prediction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from calib.errors import DataError
from calib.fileio import atomic_path, read_image
from train.data.project import Project, open_project
from train.model.dataset import make_split
from train.model.train_config import ModelDir

log = logging.getLogger(__name__)

PCK_PX = (5.0, 10.0)


def point_errors(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(N, K)`` between labels ``(N, K, 2)`` and predictions
    ``(N, K, >=2)``; NaN where the label is missing."""
    return np.linalg.norm(pred[..., :2] - gt, axis=2)


def reference_lengths(gt: np.ndarray, bodyparts: tuple[str, ...],
                      pair: tuple[str, str] | None) -> np.ndarray | None:
    """Per-image length ``(N,)`` between the labels of the two bodyparts of `pair`."""
    if pair is None:
        return None
    a, b = bodyparts.index(pair[0]), bodyparts.index(pair[1])
    return np.linalg.norm(gt[:, a] - gt[:, b], axis=1)


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def summarize(dist: np.ndarray, likelihood: np.ndarray, pcutoff: float,
              ref: np.ndarray | None = None, fraction: float = 0.2) -> dict[str, float]:
    """Metrics of distances `dist` ``(N, K)`` (NaN = unlabeled) and predicted
    `likelihood` ``(N, K)``.

    ``error``: mean over labeled points; ``error_pcutoff``: mean over labeled points
    predicted with likelihood >= `pcutoff`; ``pck5``/``pck10``: fraction of labeled points
    within 5/10 px; ``pck_ref``: within `fraction` of the image's reference length (images
    where the reference is unlabeled are left out).
    """
    labeled = np.isfinite(dist)
    confident = labeled & (likelihood >= pcutoff)
    out = {
        "n_images": int(dist.shape[0]),
        "n_points": int(labeled.sum()),
        "error": _mean(dist[labeled]),
        "error_pcutoff": _mean(dist[confident]),
        "frac_above_pcutoff": float(confident.sum() / labeled.sum()) if labeled.any() else math.nan,
    }
    for t in PCK_PX:
        out[f"pck{t:g}"] = float((dist[labeled] <= t).mean()) if labeled.any() else math.nan
    if ref is not None:
        ok = labeled & np.isfinite(ref)[:, None]
        within = dist <= fraction * ref[:, None]
        out["pck_ref"] = float(within[ok].mean()) if ok.any() else math.nan
    return out


@dataclass
class EvalResult:
    model_path: Path
    summary: pd.DataFrame  # one row per set ("train", "test")
    bodyparts: pd.DataFrame  # one row per (set, bodypart)
    folder: Path

    def error(self, which: str = "test") -> float:
        return float(self.summary.loc[which, "error"]) if which in self.summary.index else math.nan


def draw_prediction(frame: np.ndarray, gt: np.ndarray, pred: np.ndarray, pcutoff: float,
                    bodyparts: tuple[str, ...], colormap: str = "rainbow") -> np.ndarray:
    """BGR picture: labels as filled dots, predictions as crosses (thin when below
    `pcutoff`), a line from each label to its prediction, and a legend strip below."""
    from train.post.labeled_video import bodypart_colors

    colors = bodypart_colors(len(bodyparts), colormap)
    scale = max(1, int(math.ceil(480 / frame.shape[0])))
    img = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)

    def pt(p):
        return int(round((p[0] + 0.5) * scale - 0.5)), int(round((p[1] + 0.5) * scale - 0.5))

    for k, color in enumerate(colors):
        has_gt = np.isfinite(gt[k]).all()
        if has_gt:
            cv2.circle(img, pt(gt[k]), 5, color, -1, cv2.LINE_AA)
            cv2.circle(img, pt(gt[k]), 5, (0, 0, 0), 1, cv2.LINE_AA)
        if np.isfinite(pred[k, :2]).all():
            thick = 2 if pred[k, 2] >= pcutoff else 1
            cv2.drawMarker(img, pt(pred[k]), color, cv2.MARKER_CROSS, 14, thick, cv2.LINE_AA)
            if has_gt:
                cv2.line(img, pt(gt[k]), pt(pred[k]), color, 1, cv2.LINE_AA)
    # legend on a strip below the frame, so it never hides the animal
    strip = np.zeros((22 * (len(bodyparts) // 4 + 2), img.shape[1], 3), np.uint8)
    for k, color in enumerate(colors):
        cv2.putText(strip, bodyparts[k], (6 + (k % 4) * (img.shape[1] // 4), 16 + 22 * (k // 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
    cv2.putText(strip, "dot: label  cross: prediction (thin: below pcutoff)",
                (6, strip.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    img = np.concatenate([img, strip])
    return img


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, float_format="%.4f")


def _read_image(path: Path) -> np.ndarray:
    frame = read_image(path)
    if frame is None:
        raise DataError(f"{path}: missing, cut off or not an image OpenCV can read")
    return frame


def _same_size_batches(images: list[np.ndarray], batch_size: int) -> list[list[int]]:
    """Indices of `images` in batches of at most `batch_size` frames of one shape."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    return [idx[k:k + batch_size] for idx in by_shape.values()
            for k in range(0, len(idx), batch_size)]


@dataclass
class SplitPredictions:
    """A shuffle's labeled images (train then test) predicted by its exported snapshot."""

    snapshot: Path
    model_path: Path
    model: object  # train.model.artifact.PoseModel
    names: list[str]
    n_train: int
    images: list[np.ndarray]  # BGR, as read
    gt: np.ndarray  # labels, (N, [I,] K, 2)
    preds: np.ndarray  # (N, [I,] K, 3)
    folder: Path  # the model's test/ folder

    def sets(self) -> list[tuple[str, slice]]:
        """``("train", rows), ("test", rows)``, leaving out an empty set."""
        out = [("train", slice(0, self.n_train)), ("test", slice(self.n_train, None))]
        return [(which, sel) for which, sel in out if len(self.names[sel])]


def predict_split(project: Project, shuffle: int, snapshot: str, device: str, progress: bool,
                  batch_size: int) -> SplitPredictions:
    """Export `snapshot` of `shuffle` to its ``test/`` folder and predict every labeled image
    of the recorded split through it."""
    from tqdm import tqdm

    from train.model.artifact import load_model
    from train.model.export import export_network, pick_snapshot

    model_dir = ModelDir.of(project, shuffle)
    snap = pick_snapshot(model_dir, snapshot)
    model_path = export_network(project, shuffle, model_dir.test_dir / f"{snap.stem}.pt2",
                                snapshot=str(snap))
    model = load_model(model_path, device)
    labels = project.load_labels()
    split = make_split(project, shuffle, model_dir.training_fraction, labels=labels)
    index = {img: i for i, img in enumerate(labels.images)}
    names = split.train + split.test
    rows = (len(model.individuals),) if model.individuals else ()
    preds = np.zeros((len(names), *rows, len(project.config.bodyparts), 3), np.float32)
    images = [_read_image(project.root / name) for name in names]
    bar = tqdm(total=len(names), desc="evaluate", unit="img", disable=not progress)
    for batch in _same_size_batches(images, batch_size):
        preds[batch] = model(np.stack([images[i] for i in batch]))
        bar.update(len(batch))
    bar.close()
    gt = labels.xy[[index[n] for n in names]]
    return SplitPredictions(snap, model_path, model, names, len(split.train), images, gt, preds,
                            model_dir.test_dir)


def write_results(pred: SplitPredictions, rows: dict, bp_rows: list[dict], pcutoff: float,
                  columns: pd.MultiIndex) -> EvalResult:
    """``evaluation.csv`` (`rows`: one per set), ``evaluation_bodyparts.csv`` and
    ``predictions.csv`` (with `columns`) in the model's ``test/`` folder."""
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "set"
    summary.insert(0, "snapshot", pred.snapshot.name)
    summary["pcutoff"] = pcutoff
    per_bp = pd.DataFrame(bp_rows).set_index(["set", "bodypart"])
    _write_csv(summary, pred.folder / "evaluation.csv")
    _write_csv(per_bp, pred.folder / "evaluation_bodyparts.csv")
    sets = ["train"] * pred.n_train + ["test"] * (len(pred.names) - pred.n_train)
    pred_df = pd.DataFrame(
        pred.preds.reshape(len(pred.names), -1),
        index=pd.MultiIndex.from_arrays([sets, pred.names], names=["set", "image"]),
        columns=columns)
    _write_csv(pred_df, pred.folder / "predictions.csv")
    return EvalResult(pred.model_path, summary, per_bp, pred.folder)


def picture_path(pred: SplitPredictions, i: int) -> Path:
    """Where the picture of test image `i` goes: ``test/images/<video>_<file>.png``."""
    pics = pred.folder / "images"
    pics.mkdir(parents=True, exist_ok=True)
    name = pred.names[i].replace("labeled-data/", "").replace("/", "_")
    return (pics / name).with_suffix(".png")


def evaluate_network(project: str | Path | Project, shuffle: int = 1, snapshot: str = "last",
                     pck_fraction: float = 0.2, plot: bool = True, device: str = "cpu",
                     progress: bool = True, batch_size: int = 8) -> EvalResult:
    """Train and test errors of shuffle `shuffle`, predicted through the exported model."""
    if not isinstance(project, Project):
        project = open_project(project)
    if project.config.multianimal:
        from train.model.animals.evaluate import evaluate_animals

        return evaluate_animals(project, shuffle, snapshot, plot, device, progress, batch_size)
    c = project.config
    pred = predict_split(project, shuffle, snapshot, device, progress, batch_size)
    gt, preds = pred.gt, pred.preds
    dist = point_errors(gt, preds)
    ref = reference_lengths(gt, c.bodyparts, c.reference_length)
    rows, bp_rows = {}, []
    for which, sel in pred.sets():
        r = None if ref is None else ref[sel]
        rows[which] = summarize(dist[sel], preds[sel, :, 2], c.pcutoff, r, pck_fraction)
        for k, bp in enumerate(c.bodyparts):
            rk = summarize(dist[sel, k:k + 1], preds[sel, k:k + 1, 2], c.pcutoff,
                           r, pck_fraction)
            bp_rows.append({"set": which, "bodypart": bp, **rk})
    result = write_results(pred, rows, bp_rows, c.pcutoff, pd.MultiIndex.from_product(
        [c.bodyparts, ("x", "y", "likelihood")]))
    if plot:
        for i in range(pred.n_train, len(pred.names)):
            pic = draw_prediction(pred.images[i], gt[i], preds[i], c.pcutoff, c.bodyparts,
                                  str(c.raw.get("colormap") or "rainbow"))
            cv2.imwrite(str(picture_path(pred, i)), pic)
    summary = result.summary
    for which in summary.index:
        log.info("%s: %.2f px mean error (%.2f px with likelihood >= %.2f), PCK@5 %.2f, "
                 "PCK@10 %.2f",
                 which, summary.loc[which, "error"], summary.loc[which, "error_pcutoff"],
                 c.pcutoff, summary.loc[which, "pck5"], summary.loc[which, "pck10"])
    return result
