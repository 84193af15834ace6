"""Track several animals: an untracked multi-animal table -> one identity per animal (_el.h5)."""

import argparse

from stream.commands._arguments import existing_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tables", nargs="+", type=existing_file,
                        help="multi-animal analysis tables (<video><scorer>.h5) to track")
    parser.add_argument("--max-distance", type=float, default=40.0,
                        help="px: an animal farther than this from a tracklet's guess starts "
                             "a new tracklet (default 40)")
    parser.add_argument("--max-gap", type=int, default=5,
                        help="frames a tracklet may go unseen and continue (default 5)")
    parser.add_argument("--identity", action="store_true",
                        help="the table's individuals are the model's identity guesses "
                             "(a model trained with identity: true)")
    parser.add_argument("--csv", action="store_true", help="also write CSV")


def main(args: argparse.Namespace) -> None:
    from train.post.tracking import TrackConfig, track_table

    config = TrackConfig(max_distance=args.max_distance, max_gap=args.max_gap)
    for table in args.tables:
        print(track_table(table, config, identity=args.identity, csv=args.csv))
