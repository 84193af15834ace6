"""Draw every labeled frame with its points and skeleton into labeled-data/<video>_labeled/."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("--videos", nargs="+", metavar="VIDEO",
                        help="only these videos' frames (paths or stems)")


def main(args: argparse.Namespace) -> None:
    from train.label.check import check_labels

    for stem, count in check_labels(args.project, args.videos).items():
        print(f"{stem}: {count} frames drawn into labeled-data/{stem}_labeled/")
