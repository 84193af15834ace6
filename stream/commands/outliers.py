"""Extract frames where the network is probably wrong (jump, uncertain, fitting, manual)."""

import argparse
import sys


def _frames(text: str) -> list[int]:
    try:
        return [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--frames must be like 1,5,9, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="analyzed videos")
    parser.add_argument("--table", help="analysis table (.h5/.csv) when not <video><scorer>.h5 "
                                        "beside a single VIDEO")
    parser.add_argument("--algo", choices=("jump", "uncertain", "fitting", "manual"),
                        default="jump", help="how to find candidates (default jump)")
    parser.add_argument("--epsilon", type=float, default=20.0,
                        help="jump / fitting threshold in pixels (default 20)")
    parser.add_argument("--p-bound", type=float, default=0.01,
                        help="likelihood under which a point is uncertain (default 0.01)")
    parser.add_argument("--frames", type=_frames, help="frame indices for --algo manual: 1,5,9")
    parser.add_argument("--window", type=int, default=7,
                        help="running-median window of --algo fitting, in frames (default 7)")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")


def main(args: argparse.Namespace) -> int:
    from train.label.outliers import extract_outliers

    if args.table and len(args.videos) > 1:
        print("poseloop outliers: --table goes with a single VIDEO", file=sys.stderr)
        return 2
    for video in args.videos:
        r = extract_outliers(args.project, video, args.table, args.algo, args.epsilon,
                             args.p_bound, args.frames, args.window, args.seed)
        print(f"{r.video.name}: {r.candidates} candidates, {len(r.frames)} frames extracted "
              f"{r.frames}" + (f" -> {r.machinelabels}" if r.machinelabels else ""))
    return 0
