"""Fold refined outlier frames into the labeled set and increment the iteration."""

import argparse

from stream.commands._arguments import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)


def main(args: argparse.Namespace) -> None:
    from train.label.merge import merge_datasets

    r = merge_datasets(args.project)
    print(f"merged {r.refined} refined frames; {r.labeled} labeled frames; "
          f"iteration is now {r.iteration}")
