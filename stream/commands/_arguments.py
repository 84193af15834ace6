"""What several commands parse the same way: path types checked when the arguments are
parsed (so a wrong path fails at once, before any model, video decoder or process is
started) and the calibration board's options.

Each type returns the text unchanged once it is checked. A path that does not exist or
cannot be written raises :class:`BadPath`, which the command line reports like any other
wrong input (one line naming the path, exit status 1); other failed checks are
:class:`argparse.ArgumentTypeError`, a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


class BadPath(argparse.ArgumentTypeError):
    """A path argument that does not exist, or where nothing can be written."""


def existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise BadPath(f"{text}: no such file")
    return text


def existing_folder(text: str) -> str:
    if not Path(text).is_dir():
        raise BadPath(f"{text}: no such folder")
    return text


def existing_path(text: str) -> str:
    """A file or a folder (a video, or a folder of images)."""
    if not Path(text).exists():
        raise BadPath(f"{text}: no such file or folder")
    return text


def project_path(text: str) -> str:
    """A project folder (holding config.yaml) or its config.yaml."""
    path = Path(text)
    if not path.exists():
        raise BadPath(f"{text}: no such project folder or config.yaml")
    if path.is_dir() and not (path / "config.yaml").is_file():
        raise BadPath(f"{text}: not a project (no config.yaml in it)")
    return text


def _writable_from(path: Path) -> None:
    """`path` can be created: its first existing ancestor is a folder we may write in."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise BadPath(f"{path}: cannot write into {parent}")


def output_file(text: str) -> str:
    """A file to write: not a folder, in a folder that exists or can be made."""
    path = Path(text)
    if path.is_dir():
        raise BadPath(f"{text}: is a folder, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise BadPath(f"{text}: not writable")
    else:
        _writable_from(path)
    return text


def output_folder(text: str) -> str:
    """A folder to write into: an existing writable folder, or one that can be made."""
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise BadPath(f"{text}: is a file, not a folder")
        if not os.access(path, os.W_OK):
            raise BadPath(f"{text}: folder not writable")
    else:
        _writable_from(path)
    return text


def snapshot(text: str) -> str:
    """``last`` or a snapshot file."""
    return text if text == "last" else existing_file(text)


def rig_or_endpoint(text: str) -> str:
    """A rig file, or the ``tcp://`` (or other ZeroMQ) endpoint of a running node."""
    return text if "://" in text else existing_file(text)


def add_project(parser: argparse.ArgumentParser) -> None:
    """The positional project argument of the commands that work on a project."""
    parser.add_argument("project", type=project_path, help="project folder or its config.yaml")


def add_labeler_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the labeler, for labeling (``label``) and correcting (``refine``)."""
    add_project(parser)
    parser.add_argument("--videos", nargs="+", metavar="VIDEO",
                        help="only these videos' frames (paths or stems)")
    parser.add_argument("--autosave", type=float, default=30.0, metavar="SECONDS",
                        help="save unsaved edits this often (default 30 s)")


def names(text: str) -> list[str]:
    """Comma-separated names: ``snout,tail``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def frame_list(text: str) -> list[int]:
    """Comma-separated frame indices: ``1,5,9``."""
    try:
        return [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"frames must be like 1,5,9, got {text!r}") from None


# ---------------------------------------------------------------- the calibration board

BOARD_FIELDS = ("kind", "squares_x", "squares_y", "square_length", "marker_length", "dictionary")


class _Squares(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.squares_x, namespace.squares_y = values


def add_board_arguments(parser: argparse.ArgumentParser, from_calibration: bool = False) -> None:
    """The board options; they default to None (not given): Board's own defaults apply,
    or, `from_calibration`, the board the calibration recorded."""
    from calib.boards import Board  # OpenCV: only for the commands that take a board

    d = Board()
    g = parser.add_argument_group(
        "board" + (" (default: the board recorded in the calibration)" if from_calibration
                   else ""))
    g.add_argument("--board", dest="kind", choices=("charuco", "checkerboard"),
                   help=f"board kind (default {d.kind})")
    g.add_argument("--squares", type=int, nargs=2, action=_Squares, metavar=("X", "Y"),
                   help=f"squares along x and y (default {d.squares_x} {d.squares_y})")
    g.add_argument("--square-length", type=float,
                   help="side of one square in calibration units, mm when printing "
                        f"(default {d.square_length:g})")
    g.add_argument("--marker-length", type=float,
                   help=f"ChArUco marker side, same units (default {d.marker_length:g})")
    g.add_argument("--dictionary", help=f"ArUco dictionary (default {d.dictionary})")
    parser.set_defaults(**{name: None for name in BOARD_FIELDS})


def board_options(args: argparse.Namespace) -> dict:
    """The board options as given (None: not given), by Board field name."""
    return {name: getattr(args, name) for name in BOARD_FIELDS}


def board_from(args: argparse.Namespace):
    """The :class:`calib.boards.Board` the options describe (defaults for those not given)."""
    from calib.boards import Board

    return Board.from_options(**board_options(args))
