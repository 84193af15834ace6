"""``poseloop merge``: fold the refined outlier frames into the labeled set and start the
next iteration (``iteration`` + 1 in config.yaml, comments kept).

Refined frames already live in each folder's ``CollectedData_<scorer>`` (the labeler
saves there); merging checks that every outlier frame of this iteration was refined,
rewrites tables whose bodyparts lag behind config.yaml (new parts empty, old labels
kept), and bumps the iteration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from calib.errors import DataError
from train.data.config import save_config
from train.data.project import Project, open_project
from train.data.tables import read_labels, write_labels
from train.label.session import label_folders, read_folder_labels, read_machine_labels

log = logging.getLogger(__name__)


@dataclass
class MergeResult:
    iteration: int  # the new iteration
    refined: int  # outlier frames folded in
    labeled: int  # frames in the labeled set after merging


def merge_datasets(project: str | Path | Project) -> MergeResult:
    """Check refinement is complete, update the tables, increment ``iteration``."""
    if not isinstance(project, Project):
        project = open_project(project)
    cfg = project.config
    refined, pending, with_machine = 0, [], 0
    for stem in label_folders(project):
        machine = read_machine_labels(project, stem)
        if machine is None:
            continue
        with_machine += 1
        human = read_folder_labels(project, stem)
        done = set(human.images) if human else set()
        todo = [img for img in machine.images if img not in done and (project.root / img).exists()]
        refined += len(machine) - len(todo)
        if todo:
            pending.append(f"labeled-data/{stem}: {len(todo)} of {len(machine)} frames")
    if not with_machine:
        raise DataError(f"{project.labeled_data}: no machinelabels-iter{cfg.iteration}.h5 to merge "
                        "(run poseloop outliers and poseloop refine first)")
    if pending:
        raise DataError("outlier frames not refined yet (run poseloop refine): "
                        + "; ".join(pending))
    labeled = 0
    for path in project.label_files():
        table = read_labels(path)
        labeled += len(table)
        if table.bodyparts != cfg.bodyparts:
            updated = read_folder_labels(project, path.parent.name)
            write_labels(updated, project.labels_path(path.parent.name))
            log.info("%s: bodyparts updated to %s", path, list(cfg.bodyparts))
    cfg.set("iteration", cfg.iteration + 1)
    save_config(cfg)
    project.config = open_project(project.root).config
    log.info("merged %d refined frames; %d labeled frames; iteration is now %d", refined,
             labeled, project.config.iteration)
    return MergeResult(project.config.iteration, refined, labeled)
