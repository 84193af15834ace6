"""Extract frames where the network is probably wrong (jump, uncertain, fitting, manual)."""

import argparse

from stream.commands._arguments import add_project, existing_file, frame_list


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", type=existing_file,
                        help="analyzed videos")
    parser.add_argument("--table", type=existing_file,
                        help="analysis table (.h5/.csv) when not <video><scorer>.h5 beside a "
                             "single VIDEO")
    parser.add_argument("--algo", choices=("jump", "uncertain", "fitting", "manual"),
                        default="jump", help="how to find candidates (default jump)")
    parser.add_argument("--epsilon", type=float, default=20.0,
                        help="jump / fitting threshold in pixels (default 20)")
    parser.add_argument("--p-bound", type=float, default=0.01,
                        help="likelihood under which a point is uncertain (default 0.01)")
    parser.add_argument("--frames", type=frame_list,
                        help="frame indices for --algo manual: 1,5,9")
    parser.add_argument("--window", type=int, default=7,
                        help="running-median window of --algo fitting, in frames (default 7)")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default 0)")


def check_arguments(args: argparse.Namespace) -> str | None:
    if args.table and len(args.videos) > 1:
        return "--table goes with a single VIDEO"
    return None


def main(args: argparse.Namespace) -> None:
    from train.label.outliers import extract_outliers

    for video in args.videos:
        r = extract_outliers(args.project, video, args.table, args.algo, args.epsilon,
                             args.p_bound, args.frames, args.window, args.seed)
        print(f"{r.video.name}: {r.candidates} candidates, {len(r.frames)} frames extracted "
              f"{r.frames}" + (f" -> {r.machinelabels}" if r.machinelabels else ""))
