"""Add videos to a project (links or copies them into videos/ and lists them in config.yaml)."""

import argparse

from stream.commands._arguments import add_project, existing_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", type=existing_file)
    parser.add_argument("--copy-videos", action="store_true", help="copy instead of linking")


def main(args: argparse.Namespace) -> None:
    from train.data.project import add_videos

    for path in add_videos(args.project, args.videos, copy=args.copy_videos):
        print(path)
