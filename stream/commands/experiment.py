"""A virtual experiment: three synthetic calibrated cameras, 3D, closed loop, video, scored."""

import argparse

from stream.commands._arguments import existing_file, output_folder


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream.virtual_experiment import EXAMPLE_RIG

    parser.add_argument("workdir", nargs="?", default="experiment-out", type=output_folder,
                        help="folder for the rig, model, recordings")
    parser.add_argument("--duration", type=_positive, default=None,
                        help="seconds to run (default: the rig file's duration)")
    parser.add_argument("--rig", type=existing_file, default=str(EXAMPLE_RIG),
                        help="rig file made like examples/virtual_experiment.toml")
    parser.add_argument("--model", type=existing_file, default=None,
                        help="model file for the rig (default: train one, or reuse "
                             "WORKDIR/model.pt2)")
    parser.add_argument("--minutes", type=_positive, default=5.0,
                        help="training budget when a model is trained")
    parser.add_argument("--quiet", action="store_true", help="do not print per-second stats")


def main(args: argparse.Namespace) -> None:
    from stream.virtual_experiment import run_experiment

    summary = run_experiment(args.workdir, args.duration, args.rig, args.model, args.minutes,
                             print_stats=not args.quiet)
    print(summary.report())
