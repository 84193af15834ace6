"""Editable labels of a project's extracted frames, and the one way they are saved.

A :class:`LabelSession` is what the labeler (``poseloop label`` / ``poseloop refine``)
edits, and what scripts use to write labels the same way (e.g. correcting outlier
frames from ground truth). Saving merges the session's frames into each folder's
``CollectedData_<scorer>.h5|.csv`` (rows of images not in the session are kept) and
writes through :func:`train.data.tables.write_labels`, which replaces files atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import DataError
from train.data.config import ProjectConfig
from train.data.keypoints import LabeledFrames, table_columns
from train.data.project import Project
from train.data.tables import read_labels, write_labels

log = logging.getLogger(__name__)


def machinelabels_path(folder: Path, iteration: int) -> Path:
    """DeepLabCut's file of machine predictions for outlier frames of one iteration."""
    return folder / f"machinelabels-iter{iteration}.h5"


def relative_image(stem: str, name: str) -> str:
    """The table index of an image: ``labeled-data/<video stem>/<file name>``."""
    return f"labeled-data/{stem}/{name}"


def read_folder_labels(project: Project, stem: str) -> LabeledFrames | None:
    """The folder's CollectedData table in config bodypart order, or None if absent.

    Bodyparts added to config.yaml since the table was written come back empty.
    """
    h5 = project.labels_path(stem)
    path = h5 if h5.exists() else h5.with_suffix(".csv")
    if not path.exists():
        return None
    labels = read_labels(path)
    try:
        return project.conform(labels)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def read_machine_labels(project: Project, stem: str) -> LabeledFrames | None:
    """The current iteration's machine labels of a folder (config bodypart order), or None."""
    path = machinelabels_path(project.labeled_data / stem, project.config.iteration)
    if not path.exists():
        return None
    labels = read_labels(path)
    if labels.likelihood is None:
        raise DataError(f"{path}: machine labels must have a likelihood column")
    try:
        return project.conform(labels)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def label_folders(project: Project, videos: list[str] | None = None) -> list[str]:
    """Stems of ``labeled-data/`` folders (all, or those of `videos`), ``_labeled`` excluded."""
    if not project.labeled_data.is_dir():
        return []
    stems = sorted(p.name for p in project.labeled_data.iterdir()
                   if p.is_dir() and not p.name.endswith("_labeled"))
    if videos:
        wanted = {Path(v).stem for v in videos}
        missing = wanted - set(stems)
        if missing:
            raise DataError(f"{project.labeled_data}: no folder for {sorted(missing)} "
                            f"(found {stems}; run poseloop extract first)")
        stems = [s for s in stems if s in wanted]
    return stems


def point_cells(config: ProjectConfig) -> list[tuple[int, int]]:
    """``(individual, bodypart)`` of each point column of a session: every bodypart
    (individual 0) for one animal, the table's (individual, bodypart) pairs for several."""
    if not config.multianimal:
        return [(0, j) for j in range(len(config.bodyparts))]
    return table_columns(config.label_individuals, config.bodyparts, config.unique_bodyparts)


def flatten_points(config: ProjectConfig, points: np.ndarray) -> np.ndarray:
    """A table row ``([individuals,] bodyparts, ...)`` -> ``(columns, ...)``."""
    if not config.multianimal:
        return points
    i, j = (np.array(v) for v in zip(*point_cells(config), strict=True))
    return points[i, j]


def unflatten_points(config: ProjectConfig, points: np.ndarray) -> np.ndarray:
    """``(columns, ...)`` -> a table row ``([individuals,] bodyparts, ...)`` (NaN where the
    table has no column)."""
    if not config.multianimal:
        return points
    out = np.full((len(config.label_individuals), len(config.bodyparts), *points.shape[1:]),
                  np.nan)
    for col, (i, j) in enumerate(point_cells(config)):
        out[i, j] = points[col]
    return out


@dataclass
class LabelSession:
    """Frames being labeled and their points.

    ``xy`` is float64 ``(frames, columns, 2)`` in image pixels (NaN: not labeled), one
    column per bodypart, or for a multi-animal project per (individual, bodypart) pair
    of the table (:attr:`cells`, :meth:`flatten`, :meth:`unflatten`);
    ``likelihood`` is ``(frames, columns)``: the machine's confidence for a predicted
    point, NaN for a point a human placed or confirmed. ``reviewed`` marks frames that
    are saved: every frame when labeling, frames the user has looked at when refining.
    """

    project: Project
    images: list[str]
    xy: np.ndarray
    likelihood: np.ndarray
    reviewed: np.ndarray
    refine: bool = False
    dirty: bool = False

    @property
    def bodyparts(self) -> tuple[str, ...]:
        return self.project.config.bodyparts

    @property
    def cells(self) -> list[tuple[int, int]]:
        """``(individual, bodypart)`` of each point column (see :func:`point_cells`)."""
        return point_cells(self.project.config)

    @property
    def columns(self) -> list[str]:
        """Name of each point column: the bodypart, or ``<individual> <bodypart>``."""
        c = self.project.config
        if not c.multianimal:
            return list(c.bodyparts)
        return [f"{c.label_individuals[i]} {c.bodyparts[j]}" for i, j in self.cells]

    def flatten(self, points: np.ndarray) -> np.ndarray:
        return flatten_points(self.project.config, points)

    def unflatten(self, points: np.ndarray) -> np.ndarray:
        return unflatten_points(self.project.config, points)

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, i: int) -> Path:
        return self.project.root / self.images[i]

    def stem(self, i: int) -> str:
        return self.images[i].split("/")[1]

    # ------------------------------------------------------------ opening

    @classmethod
    def for_labeling(cls, project: Project, videos: list[str] | None = None) -> LabelSession:
        """Every extracted PNG of the folders, with the labels their tables already hold."""
        images, rows = [], []
        cfg = project.config
        for stem in label_folders(project, videos):
            table = read_folder_labels(project, stem)
            known = {img: flatten_points(cfg, xy) for img, xy in zip(table.images, table.xy,
                                                                      strict=True)} if table else {}
            folder = project.labeled_data / stem
            names = {Path(img).name for img in known if (project.root / img).exists()}
            names |= {p.name for p in folder.glob("*.png")}
            in_table = [Path(img).name for img in known if Path(img).name in names]
            ordered = list(dict.fromkeys(in_table + sorted(names)))
            for name in ordered:
                image = relative_image(stem, name)
                images.append(image)
                rows.append(known.get(image, np.full((len(point_cells(cfg)), 2), np.nan)))
        if not images:
            raise DataError(f"{project.labeled_data}: no frames to label "
                            "(run poseloop extract first)")
        xy = np.stack(rows)
        return cls(project, images, xy, np.full(xy.shape[:2], np.nan),
                   np.ones(len(images), bool))

    @classmethod
    def for_refining(cls, project: Project, videos: list[str] | None = None) -> LabelSession:
        """Outlier frames of the current iteration, prefilled with the machine's labels
        (or with the human's where a frame was already refined and saved)."""
        images, rows, liks, seen = [], [], [], []
        cfg = project.config
        k = len(point_cells(cfg))
        for stem in label_folders(project, videos):
            machine = read_machine_labels(project, stem)
            if machine is None:
                continue
            table = read_folder_labels(project, stem)
            human = {img: flatten_points(cfg, xy) for img, xy in zip(table.images, table.xy,
                                                                      strict=True)} if table else {}
            for image, xy, lik in zip(machine.images, machine.xy, machine.likelihood,
                                      strict=True):
                xy, lik = flatten_points(cfg, xy), flatten_points(cfg, lik)
                if not (project.root / image).exists():
                    log.warning("%s: image of machine labels is missing; skipped", image)
                    continue
                images.append(image)
                done = image in human
                rows.append(human[image] if done else xy)
                liks.append(np.full(k, np.nan) if done else lik)
                seen.append(done)
        if not images:
            raise DataError(
                f"{project.labeled_data}: no machinelabels-iter{project.config.iteration}.h5 "
                "with frames (run poseloop outliers first)")
        return cls(project, images, np.stack(rows), np.stack(liks), np.array(seen), refine=True)

    # ------------------------------------------------------------ editing

    def point(self, i: int, j: int) -> tuple[float, float, float]:
        """``(x, y, likelihood)`` of column `j` on frame `i` (NaN where absent)."""
        x, y = self.xy[i, j]
        return float(x), float(y), float(self.likelihood[i, j])

    def set_point(self, i: int, j: int, xy: tuple[float, float] | None,
                  likelihood: float = np.nan) -> None:
        """Place (or with None, delete) a point; a placed point is human unless a
        likelihood is given (undo restores a machine point that way)."""
        self.xy[i, j] = (np.nan, np.nan) if xy is None else xy
        self.likelihood[i, j] = np.nan if xy is None else likelihood
        self.reviewed[i] = True
        self.dirty = True

    def mark_reviewed(self, i: int) -> None:
        if not self.reviewed[i]:
            self.reviewed[i] = True
            self.dirty = True

    def labeled(self, i: int) -> np.ndarray:
        """``(columns,)`` True where frame `i` has the point."""
        return np.isfinite(self.xy[i]).all(axis=1)

    def complete_frames(self) -> int:
        """Frames with every point labeled."""
        return int(np.isfinite(self.xy).all(axis=(1, 2)).sum())

    # ------------------------------------------------------------ saving

    def save(self) -> list[Path]:
        """Write every folder's CollectedData table (h5 + csv), atomically.

        Rows of this session replace the table's rows of the same images; other rows
        are kept; new images are appended. A frame is written when reviewed (always,
        when labeling) and either already in the table or holding a label.
        """
        written = []
        for stem in dict.fromkeys(self.stem(i) for i in range(len(self))):
            path = self._save_folder(stem)
            if path is not None:
                written.append(path)
        self.dirty = False
        return written

    def _save_folder(self, stem: str) -> Path | None:
        cfg = self.project.config
        table = read_folder_labels(self.project, stem)
        rows = dict(zip(table.images, table.xy, strict=True)) if table else {}
        for i in range(len(self)):
            if self.stem(i) != stem or not self.reviewed[i]:
                continue
            if self.images[i] in rows or self.labeled(i).any():
                rows[self.images[i]] = self.unflatten(self.xy[i])
        if not rows:
            return None
        labels = LabeledFrames(cfg.scorer, cfg.bodyparts, list(rows), np.stack(list(rows.values())),
                               table.index_style if table else "flat",
                               individuals=cfg.label_individuals,
                               unique_bodyparts=cfg.unique_bodyparts)
        path = write_labels(labels, self.project.labels_path(stem))
        log.info("saved %d labeled frames to %s", len(labels), path)
        return path


def correct_frames(project: Project, truth: dict[str, np.ndarray],
                   videos: list[str] | None = None) -> list[Path]:
    """Refine the current outlier frames without the window: each frame's points become
    ``truth[image]`` (``(bodyparts, 2)``, NaN: not visible) and are saved exactly as the
    labeler saves them (multi-animal: ``(individuals, bodyparts, 2)``). Returns the
    tables written."""
    session = LabelSession.for_refining(project, videos)
    for i, image in enumerate(session.images):
        if image not in truth:
            raise DataError(f"no ground truth for outlier frame {image}")
        xy = session.flatten(np.asarray(truth[image], float))
        for j in range(len(session.cells)):
            session.set_point(i, j, tuple(xy[j]) if np.isfinite(xy[j]).all() else None)
    return session.save()

