"""Run a rig (sources -> inference -> sync/triangulate -> recorders, viewers) from its TOML file."""

import argparse

from stream.commands._arguments import existing_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rig", type=existing_file,
                        help="rig file (TOML), e.g. examples/rig_two_cameras.toml")
    parser.add_argument("--quiet", action="store_true", help="do not print per-second stats")


def main(args: argparse.Namespace) -> None:
    from stream.supervisor import run_rig

    run_rig(args.rig, print_stats=not args.quiet)
