"""Write a project's labels as SLEAP .slp or another format sleap-io writes (by suffix)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("out", help="output file (.slp, .nwb, ...)")


def main(args: argparse.Namespace) -> None:
    from train.io.sleap import export_labels

    print(export_labels(args.project, args.out))
