"""Fold refined outlier frames into the labeled set and increment the iteration."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project folder or its config.yaml")


def main(args: argparse.Namespace) -> None:
    from train.label.merge import merge_datasets

    r = merge_datasets(args.project)
    print(f"merged {r.refined} refined frames; {r.labeled} labeled frames; "
          f"iteration is now {r.iteration}")
