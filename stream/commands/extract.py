"""Extract frames to label from the project's videos (uniform or k-means), as DeepLabCut does."""

import argparse

from stream.commands._arguments import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("--algo", choices=("uniform", "kmeans"), default="kmeans",
                        help="spread uniformly over start..stop, or k-means on small "
                             "grayscale frames for diversity (default)")
    parser.add_argument("--videos", nargs="+", metavar="VIDEO",
                        help="only these videos (paths or stems listed in video_sets, or other "
                             "video files)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def main(args: argparse.Namespace) -> None:
    from train.label.extract import extract_frames

    for stem, paths in extract_frames(args.project, args.algo, args.videos, args.seed).items():
        print(f"{stem}: {len(paths)} new frames")
