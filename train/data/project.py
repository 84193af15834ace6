"""Projects in DeepLabCut's folder layout: create, open as is, add videos, gather labels.

A project is the folder holding ``config.yaml``; the ``project_path`` key is not
trusted (DeepLabCut's example projects ship a placeholder there), the folder is.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.errors import ConfigError, DataError
from calib.fileio import atomic_path
from train.data.config import ProjectConfig, load_config, save_config
from train.data.keypoints import LabeledFrames
from train.data.tables import read_labels

CONFIG_TEMPLATE = """\
# Project definitions (do not edit)
Task: {task}
scorer: {scorer}
date: {date}
multianimalproject: false
identity:

# Project path (change when moving around)
project_path: {project_path}

# Default DeepLabCut engine to use for shuffle creation (either pytorch or tensorflow)
engine: pytorch

# Annotation data set configuration (and individual video cropping parameters)
video_sets:
bodyparts:
{bodyparts}

# Fraction of video to start/stop when extracting frames for labeling/refinement
start: 0
stop: 1
numframes2pick: 20

# Plotting configuration
skeleton: []
skeleton_color: black
pcutoff: 0.6
dotsize: 12
alphavalue: 0.7
colormap: rainbow

# Training,Evaluation and Analysis configuration
TrainingFraction:
- 0.95
iteration: 0
default_net_type: resnet_50
default_augmenter: default
snapshotindex: -1
batch_size: 8

# Cropping Parameters (for analysis and outlier frame detection)
cropping: false
x1: 0
x2: 640
y1: 277
y2: 624

# Refinement configuration (parameters from annotation dataset configuration
# also relevant in this stage)
corner2move2:
- 50
- 50
move2corner: true
"""


@dataclass
class Project:
    root: Path
    config: ProjectConfig

    @property
    def config_path(self) -> Path:
        return self.config.path

    @property
    def labeled_data(self) -> Path:
        return self.root / "labeled-data"

    def labels_path(self, video_stem: str) -> Path:
        return self.labeled_data / video_stem / f"CollectedData_{self.config.scorer}.h5"

    def video_path(self, key: str) -> Path:
        """Resolve a video_sets key: absolute, relative to the project, or in videos/."""
        p = Path(key)
        for candidate in (p, self.root / p, self.root / "videos" / p.name):
            if candidate.exists():
                return candidate
        return p if p.is_absolute() else self.root / p

    def videos(self) -> list[Path]:
        return [self.video_path(k) for k in self.config.video_sets]

    def label_files(self) -> list[Path]:
        """Every ``labeled-data/<video>/CollectedData_<scorer>.h5`` (or .csv if no .h5)."""
        files = []
        if not self.labeled_data.is_dir():
            return files
        for folder in sorted(p for p in self.labeled_data.iterdir() if p.is_dir()):
            h5 = folder / f"CollectedData_{self.config.scorer}.h5"
            csv = h5.with_suffix(".csv")
            if h5.exists():
                files.append(h5)
            elif csv.exists():
                files.append(csv)
        return files

    def load_labels(self) -> LabeledFrames:
        """All human labels of the project, in config bodypart order.

        A table with bodyparts the config lacks is an error naming the file; a
        bodypart the config added later comes back unlabeled (NaN), never an error.
        Images whose labels are all NaN are kept: the caller decides.
        """
        files = self.label_files()
        if not files:
            raise DataError(f"{self.labeled_data}: no CollectedData_{self.config.scorer} tables")
        parts = []
        for f in files:
            try:
                parts.append(self.conform(read_labels(f)))
            except DataError as exc:
                raise DataError(f"{f}: {exc} (config: {self.config_path})") from None
        return LabeledFrames(
            scorer=self.config.scorer,
            bodyparts=self.config.bodyparts,
            images=[img for p in parts for img in p.images],
            xy=np.concatenate([p.xy for p in parts]),
            index_style=parts[0].index_style,
            individuals=self.config.label_individuals,
            unique_bodyparts=self.config.unique_bodyparts,
        )

    def conform(self, labels: LabeledFrames) -> LabeledFrames:
        """`labels` in the config's bodypart (and individual) order; see
        :meth:`LabeledFrames.with_bodyparts`."""
        c = self.config
        return labels.with_bodyparts(c.bodyparts, c.label_individuals, c.unique_bodyparts)


def open_project(path: str | Path) -> Project:
    """Open a project from its folder or its config.yaml (DeepLabCut projects as is)."""
    path = Path(path)
    config = load_config(path)
    return Project(root=config.root, config=config)


def _video_entry(video: Path) -> dict:
    from train.data.video import VideoReader  # OpenCV only when videos are involved

    with VideoReader(video) as reader:
        w, h = reader.size
    return {"crop": f"0, {w}, 0, {h}"}


def add_videos(
    project: str | Path | Project, videos: list[str | Path], copy: bool = False
) -> list[Path]:
    """Link (or copy) `videos` into the project's videos/ and list them in video_sets.

    Every video is checked to decode before anything is written.
    """
    if not isinstance(project, Project):
        project = open_project(project)
    entries = {Path(v).resolve(): _video_entry(Path(v)) for v in videos}
    dest_dir = project.root / "videos"
    dest_dir.mkdir(exist_ok=True)
    raw_sets = project.config.raw.get("video_sets")
    if raw_sets is None:
        project.config.raw["video_sets"] = raw_sets = {}
    added = []
    for src, entry in entries.items():
        dest = dest_dir / src.name
        if not dest.exists():
            if copy:
                shutil.copy2(src, dest)
            else:
                dest.symlink_to(src)
        raw_sets[str(dest)] = entry
        added.append(dest)
    save_config(project.config)
    project.config = load_config(project.config_path)
    return added


def create_project(
    name: str,
    videos: list[str | Path],
    bodyparts: list[str],
    scorer: str = "experimenter",
    working_directory: str | Path = ".",
    copy_videos: bool = False,
    date: _dt.date | None = None,
    individuals: list[str] | None = None,
    unique_bodyparts: list[str] | None = None,
    identity: bool = False,
) -> Project:
    """Create ``<name>-<scorer>-<YYYY-MM-DD>/`` with DeepLabCut's layout and config.yaml.

    With `individuals` the project is a multi-animal one, as DeepLabCut makes them:
    ``multianimalproject: true``, `bodyparts` become ``multianimalbodyparts`` (the
    ``bodyparts`` key reads ``MULTI!``), `unique_bodyparts` ``uniquebodyparts``, and
    `identity` says whether the animals can be told apart by their looks.
    """
    if not bodyparts or len(set(bodyparts)) != len(bodyparts):
        raise ConfigError(f"bodyparts must be distinct names, got {bodyparts}")
    for v in videos:
        _video_entry(Path(v))  # fail before creating anything
    date = date or _dt.date.today()
    root = Path(working_directory).resolve() / f"{name}-{scorer}-{date.isoformat()}"
    if (root / "config.yaml").exists():
        raise ConfigError(f"{root}: a project already exists here")
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models-pytorch"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    text = CONFIG_TEMPLATE.format(
        task=name,
        scorer=scorer,
        date=date.strftime("%b%d"),
        project_path=root,
        bodyparts="\n".join(f"- {b}" for b in bodyparts),
    )
    (root / "config.yaml").write_text(text)
    if individuals:
        _make_multianimal(root / "config.yaml", list(bodyparts), list(individuals),
                          list(unique_bodyparts or []), identity)
    project = open_project(root)
    if videos:
        add_videos(project, videos, copy=copy_videos)
    return project


def _make_multianimal(path: Path, bodyparts: list[str], individuals: list[str],
                      unique: list[str], identity: bool) -> None:
    """Turn a fresh config.yaml into a multi-animal one (keys placed as DeepLabCut does)."""
    from train.data.config import _yaml

    raw = _yaml().load(path.read_text())
    raw["multianimalproject"] = True
    raw["identity"] = identity
    keys = list(raw.keys())
    at = keys.index("bodyparts")
    raw.insert(at, "individuals", individuals)
    raw.insert(at + 1, "uniquebodyparts", unique)
    raw.insert(at + 2, "multianimalbodyparts", bodyparts)
    raw["bodyparts"] = "MULTI!"
    raw["default_track_method"] = "ellipse"
    with atomic_path(path) as tmp, tmp.open("w") as f:
        _yaml().dump(raw, f)
