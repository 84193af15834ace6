"""Create a project (DeepLabCut layout and config.yaml) from videos."""

import argparse

from stream.commands._arguments import existing_file, names, output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the project's task name")
    parser.add_argument("--videos", nargs="+", default=[], metavar="VIDEO", type=existing_file,
                        help="videos to add")
    parser.add_argument("--bodyparts", required=True, type=names,
                        help="comma-separated names, e.g. snout,tail")
    parser.add_argument(
        "--scorer", default="experimenter", help="who labels (default: experimenter)"
    )
    parser.add_argument("--workdir", default=".", type=output_folder,
                        help="folder to create the project in")
    parser.add_argument("--copy-videos", action="store_true", help="copy instead of linking")


def main(args: argparse.Namespace) -> None:
    from train.data.project import create_project

    project = create_project(
        args.name, args.videos, args.bodyparts, args.scorer, args.workdir, args.copy_videos
    )
    print(project.config_path)
