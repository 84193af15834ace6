"""Write a synthetic animal video with exact ground truth (and optionally a labeled project)."""

import argparse

from stream.commands._arguments import output_folder


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size must be WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from None
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outdir", type=output_folder,
                        help="folder to write into (created if needed)")
    parser.add_argument("--frames", type=int, default=600, help="number of frames (default 600)")
    parser.add_argument("--size", type=_size, default=(320, 240), help="WIDTHxHEIGHT (320x240)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--name", default="synth", help="video / project name (default synth)")
    parser.add_argument("--project", action="store_true",
                        help="also make a labeled DeepLabCut-layout project")
    parser.add_argument("--labeled", type=int, default=120,
                        help="frames to label in the project (default 120)")
    parser.add_argument("--animals", type=int, default=1,
                        help="animals in the arena (default 1); more than one makes a "
                             "multi-animal clip and project")
    parser.add_argument("--distinct", action="store_true",
                        help="mark each animal with its own color (identity: true)")


def main(args: argparse.Namespace) -> None:
    from train.synth.animal import synth

    for path in synth(args.outdir, frames=args.frames, size=args.size, seed=args.seed,
                      project=args.project, labeled=args.labeled, name=args.name,
                      animals=args.animals, distinct=args.distinct):
        print(path)
