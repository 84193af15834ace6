"""Correct the machine's labels of outlier frames (prefilled, low confidence marked)."""

import argparse

from stream.commands.label import add_arguments  # same options as the labeler

__all__ = ["add_arguments", "main"]


def main(args: argparse.Namespace) -> None:
    from train.label.gui.labeler import refine

    refine(args.project, args.videos, args.autosave)
