"""Draw undistorted board views per camera to check a calibration (rows must come out straight)."""

import argparse

from stream.commands.board import add_board_arguments, board_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("calibration", help="calibration TOML")
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="board video or image folder per camera, in the calibration's order")
    parser.add_argument("-o", "--output", default="undistort_check", help="output folder")
    parser.add_argument("--views", type=int, default=4, help="views per camera (default 4)")
    add_board_arguments(parser, from_calibration=True)


def main(args: argparse.Namespace) -> None:
    from calib.calibration import load_calibration
    from calib.errors import CalibrationError
    from calib.undistort_check import write_undistort_checks

    rig = load_calibration(args.calibration)
    board = board_from_args(args, rig.metadata.get("board"))
    if len(args.sources) > len(rig.cameras):
        raise CalibrationError(f"{len(args.sources)} sources for {len(rig.cameras)} cameras "
                               f"in {args.calibration}")
    for cam, source in zip(rig.cameras, args.sources, strict=False):
        for path, err in write_undistort_checks(cam, board, source, args.output, args.views):
            print(f"{path}  line RMS {err:.2f} px")
