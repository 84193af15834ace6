"""The dispatcher: analyses from and to the formats of :mod:`train.io`, by file suffix.

DeepLabCut tables (``.h5``, ``.csv``) go through :mod:`train.data.tables`, ``.nwb``
through :mod:`train.io.nwb`, SLEAP's ``.slp`` through :mod:`train.io.sleap`. Labels
(whole projects) move through :func:`train.io.sleap.import_labels` and
:func:`train.io.sleap.export_labels`, which take every format sleap-io handles.
"""

from __future__ import annotations

from pathlib import Path

from calib.errors import DataError
from train.data.keypoints import Poses2D

FORMATS = {".h5": "DeepLabCut table", ".csv": "DeepLabCut table", ".nwb": "NWB (ndx-pose)",
           ".slp": "SLEAP predictions"}


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown format {suffix!r}; known: "
                        + ", ".join(f"{s} ({n})" for s, n in FORMATS.items()))
    return suffix


def read_poses(path: str | Path) -> tuple[Poses2D, str]:
    """The poses and scorer of an analysis in any known format."""
    path = Path(path)
    if _format(path) == ".nwb":
        from train.io.nwb import read_nwb

        return read_nwb(path)
    if _format(path) == ".slp":
        from train.io.sleap import read_predictions

        return read_predictions(path)
    from train.data.tables import read_analysis

    return read_analysis(path)


def convert_analysis(source: str | Path, out: str | Path, fps: float = 30.0,
                     video: str | Path | None = None,
                     skeleton: tuple[tuple[str, str], ...] = ()) -> Path:
    """Write the analysis `source` to `out`, each in the format its suffix names; `fps`,
    `video` (whose frame rate then wins over `fps`) and `skeleton` fill what a DeepLabCut
    table does not hold."""
    out = Path(out)
    fmt = _format(out)
    poses, scorer = read_poses(source)
    known = tuple(p for p in skeleton if all(b in poses.bodyparts for b in p))
    if fmt == ".nwb":
        from train.io.nwb import write_nwb

        size = None
        if video is not None:
            from train.data.video import VideoReader

            with VideoReader(video) as reader:
                fps, size = reader.fps, reader.size
        return write_nwb(poses, scorer, out, fps=fps, video=video, size=size, skeleton=known)
    if fmt == ".slp":
        from train.io.sleap import export_predictions

        if video is None:
            raise DataError(f"{out}: SLEAP predictions need the analyzed video (--video)")
        return export_predictions(poses, video, out, skeleton=known)
    from train.data.tables import write_analysis

    return write_analysis(poses, scorer, out.with_suffix(".h5"), csv=fmt == ".csv")
