"""Draw undistorted board views per camera to check a calibration (rows must come out straight)."""

import argparse

from stream.commands._arguments import (
    add_board_arguments,
    board_options,
    existing_file,
    existing_path,
    output_folder,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("calibration", type=existing_file, help="calibration TOML")
    parser.add_argument("sources", nargs="+", metavar="SOURCE", type=existing_path,
                        help="board video or image folder per camera, in the calibration's order")
    parser.add_argument("-o", "--output", default="undistort_check", type=output_folder,
                        help="output folder")
    parser.add_argument("--views", type=int, default=4, help="views per camera (default 4)")
    add_board_arguments(parser, from_calibration=True)


def main(args: argparse.Namespace) -> None:
    from calib.undistort_check import undistort_checks

    for path, err in undistort_checks(args.calibration, args.sources, args.output, args.views,
                                      **board_options(args)):
        print(f"{path}  line RMS {err:.2f} px")
