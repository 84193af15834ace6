"""Where models live in a project, and the names DeepLabCut 3 gives to models and analyses.

poseloop's model folders sit under ``poseloop-models/``, beside DeepLabCut's
``dlc-models-pytorch/``: both tools write a ``pytorch_config.yaml`` and snapshots into
their shuffle folders, with different schemas, so sharing one folder would break each
for the other. DeepLabCut never looks into ``poseloop-models/``.

Analysis tables carry DeepLabCut 3's scorer, ``DLC_<Net>_<Task><date>shuffle<S>_snapshot_<uid>``
(``<Net>``: the net type's ``_``-separated parts capitalized, ``resnet_50`` -> ``Resnet50``;
``<uid>``: the snapshot's epoch count; DeepLabCut prefixes ``best-`` to its best snapshot's), so
DeepLabCut's functions that look tables up by scorer find poseloop's.
"""

from __future__ import annotations

from pathlib import Path

MODELS_FOLDER = "poseloop-models"


def model_folder(project_root: Path, iteration: int, name: str) -> Path:
    """poseloop's folder for the shuffle folder name `name` of iteration `iteration`."""
    return project_root / MODELS_FOLDER / f"iteration-{iteration}" / name


def net_display_name(net_type: str) -> str:
    """``resnet_50`` -> ``Resnet50``, ``hrnet_w32`` -> ``HrnetW32``, as DeepLabCut 3 writes it."""
    return "".join(part.capitalize() for part in net_type.split("_"))


def scorer_name(net_type: str, task: str, date: str, shuffle: int, uid: str) -> str:
    """DeepLabCut 3's scorer of a single-animal shuffle's snapshot."""
    return f"DLC_{net_display_name(net_type)}_{task}{date}shuffle{shuffle}_snapshot_{uid}"
