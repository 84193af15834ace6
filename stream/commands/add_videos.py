"""Add videos to a project (links or copies them into videos/ and lists them in config.yaml)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("videos", nargs="+", metavar="VIDEO")
    parser.add_argument("--copy-videos", action="store_true", help="copy instead of linking")


def main(args: argparse.Namespace) -> None:
    from train.data.project import add_videos

    for path in add_videos(args.project, args.videos, copy=args.copy_videos):
        print(path)
