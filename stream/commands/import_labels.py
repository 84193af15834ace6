"""Make a project from SLEAP labels or any format sleap-io reads (.slp, .nwb, COCO, ...)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", help="labels file (its suffix picks the reader)")
    parser.add_argument("--workdir", default=".", help="folder to create the project in")
    parser.add_argument("--name", help="the project's task name (default: the file's stem)")
    parser.add_argument("--scorer", default="imported", help="scorer of the labels (imported)")


def main(args: argparse.Namespace) -> None:
    from train.io.sleap import import_labels

    project = import_labels(args.labels, args.workdir, args.name, args.scorer)
    print(project.config_path)
