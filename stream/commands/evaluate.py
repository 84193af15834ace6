"""Evaluate a trained shuffle: train/test pixel errors, PCK, per-bodypart table, pictures."""

import argparse

from stream.commands._arguments import add_project, snapshot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("--shuffle", type=int, default=1, help="shuffle number (default 1)")
    parser.add_argument("--snapshot", default="last", type=snapshot,
                        help="last (the trained model) | a snapshot file")
    parser.add_argument("--pck-fraction", type=float, default=0.2,
                        help="PCK threshold as a fraction of config.yaml's reference_length")
    parser.add_argument("--no-plot", action="store_true", help="skip the pictures of test frames")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")


def main(args: argparse.Namespace) -> None:
    import pandas as pd

    from train.model.evaluate import evaluate_network

    result = evaluate_network(args.project, args.shuffle, args.snapshot, args.pck_fraction,
                              plot=not args.no_plot, device=args.device)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result.summary.to_string(float_format=lambda v: f"{v:.3f}"))
        print()
        print(result.bodyparts.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\nresults in {result.folder}")
