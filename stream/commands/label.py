"""Label extracted frames in a window: click to place bodyparts, drag, undo, autosave."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("--videos", nargs="+", metavar="VIDEO",
                        help="only these videos' frames (paths or stems)")
    parser.add_argument("--autosave", type=float, default=30.0, metavar="SECONDS",
                        help="save unsaved edits this often (default 30 s)")


def main(args: argparse.Namespace) -> None:
    from train.label.gui.labeler import label

    label(args.project, args.videos, args.autosave)
