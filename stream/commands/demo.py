"""Run the whole loop on synthetic data: render, train, export, analyze, score (CPU, minutes)."""

import argparse

from stream.commands._arguments import output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outdir", nargs="?", default="demo-out", type=output_folder,
                        help="folder for everything")
    parser.add_argument("--frames", type=int, default=600, help="video length (frames)")
    parser.add_argument("--labeled", type=int, default=120, help="labeled frames")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget")
    parser.add_argument("--seed", type=int, default=0)


def main(args: argparse.Namespace) -> None:
    from stream.end_to_end import run_demo

    run_demo(args.outdir, args.frames, args.labeled, args.minutes, args.seed)
