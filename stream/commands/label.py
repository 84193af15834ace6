"""Label extracted frames in a window: click to place bodyparts, drag, undo, autosave."""

import argparse

from stream.commands._arguments import add_labeler_arguments as add_arguments

__all__ = ["add_arguments", "main"]


def main(args: argparse.Namespace) -> None:
    from train.label.gui.labeler import label

    label(args.project, args.videos, args.autosave)
