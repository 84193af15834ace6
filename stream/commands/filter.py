"""Smooth analysis tables (median or Savitzky-Golay) and fill short gaps: <stem>_filtered.h5."""

import argparse

from stream.commands._arguments import existing_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tables", nargs="+", metavar="TABLE", type=existing_file,
                        help="analysis tables <video><scorer>.h5 (or .csv)")
    parser.add_argument("--method", choices=("median", "savgol"), default="median",
                        help="median (default) or Savitzky-Golay")
    parser.add_argument("--window", type=int, default=5, help="odd window in frames (5)")
    parser.add_argument("--max-gap", type=int, default=10,
                        help="fill gaps up to this many frames by a cubic spline (10; 0: never)")
    parser.add_argument("--pcutoff", type=float, default=0.6,
                        help="points under this likelihood are gaps (0.6)")
    parser.add_argument("--polyorder", type=int, default=3, help="Savitzky-Golay order (3)")
    parser.add_argument("--csv", action="store_true", help="also write .csv")
    parser.add_argument("--plot", action="store_true",
                        help="also write <stem>_filtered.png: raw and filtered tracks")


def main(args: argparse.Namespace) -> None:
    from train.post.filtering import filter_tables

    for path in filter_tables(args.tables, method=args.method, window=args.window,
                              max_gap=args.max_gap, pcutoff=args.pcutoff,
                              polyorder=args.polyorder, csv=args.csv, plot=args.plot):
        print(path)
