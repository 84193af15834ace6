"""Make a project from SLEAP labels or any format sleap-io reads (.slp, .nwb, COCO, ...)."""

import argparse

from stream.commands._arguments import existing_file, output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", type=existing_file,
                        help="labels file (its suffix picks the reader)")
    parser.add_argument("--workdir", default=".", type=output_folder,
                        help="folder to create the project in")
    parser.add_argument("--name", help="the project's task name (default: the file's stem)")
    parser.add_argument("--scorer", default="imported", help="scorer of the labels (imported)")


def main(args: argparse.Namespace) -> None:
    from train.io.sleap import import_labels

    project = import_labels(args.labels, args.workdir, args.name, args.scorer)
    print(project.config_path)
