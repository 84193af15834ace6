"""Draw every labeled frame with its points and skeleton into labeled-data/<video>_labeled/."""

import argparse

from stream.commands._arguments import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("--videos", nargs="+", metavar="VIDEO",
                        help="only these videos' frames (paths or stems)")


def main(args: argparse.Namespace) -> None:
    from train.label.check import check_labels

    for stem, count in check_labels(args.project, args.videos).items():
        print(f"{stem}: {count} frames drawn into labeled-data/{stem}_labeled/")
