"""Correct the machine's labels of outlier frames (prefilled, low confidence marked)."""

import argparse

from stream.commands._arguments import add_labeler_arguments as add_arguments

__all__ = ["add_arguments", "main"]


def main(args: argparse.Namespace) -> None:
    from train.label.gui.labeler import refine

    refine(args.project, args.videos, args.autosave)
