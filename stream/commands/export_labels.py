"""Write a project's labels as SLEAP .slp or another format sleap-io writes (by suffix)."""

import argparse

from stream.commands._arguments import add_project, output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("out", type=output_file, help="output file (.slp, .nwb, ...)")


def main(args: argparse.Namespace) -> None:
    from train.io.sleap import export_labels

    print(export_labels(args.project, args.out))
