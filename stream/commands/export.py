"""Export a trained shuffle as a deployable .pt2 model (network + decoding + metadata)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")
    parser.add_argument("--shuffle", type=int, default=1, help="shuffle number (default 1)")
    parser.add_argument("--snapshot", default="best", help="best | last | a snapshot file")
    parser.add_argument("--out", help="output .pt2 (default: exported-models/<model>.pt2)")


def main(args: argparse.Namespace) -> None:
    from train.model.export import export_network

    print(export_network(args.project, args.shuffle, args.out, args.snapshot))
