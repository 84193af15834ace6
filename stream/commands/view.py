"""Show live frames and 2D poses of a rig (which it runs) or of running endpoints."""

import argparse

from stream.commands._arguments import existing_file, rig_or_endpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="RIG_OR_ENDPOINT",
        type=rig_or_endpoint,
        help="a live rig file (TOML) to run and show, or tcp:// endpoints of a running one "
        "(an inference node's output and sources' frame previews)",
    )
    parser.add_argument("--pcutoff", type=float, default=0.1,
                        help="draw skeleton edges only between points this likely (default 0.1)")
    parser.add_argument("--model", type=existing_file,
                        help="exported model whose skeleton to draw (endpoints only)")


def main(args: argparse.Namespace) -> None:
    from stream.viewer import view

    view(args.targets, pcutoff=args.pcutoff, model=args.model)
