"""Export a trained shuffle as a deployable .pt2 model (network + decoding + metadata)."""

import argparse

from stream.commands._arguments import add_project, output_file, snapshot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("--shuffle", type=int, default=1, help="shuffle number (default 1)")
    parser.add_argument("--snapshot", default="last", type=snapshot,
                        help="last (the trained model) | a snapshot file")
    parser.add_argument("--out", type=output_file,
                        help="output .pt2 (default: exported-models/<model>.pt2)")


def main(args: argparse.Namespace) -> None:
    from train.model.export import export_network

    print(export_network(args.project, args.shuffle, args.out, args.snapshot))
