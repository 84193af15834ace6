"""Calibrate cameras from board videos or image folders (one per camera) into a calibration TOML."""

import argparse

from stream.commands._arguments import add_board_arguments, board_from, existing_path, output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", type=existing_path,
                        help="one board video or image folder per camera; frame k of every "
                             "source shows the same instant")
    parser.add_argument("-o", "--output", default="calibration.toml", type=output_file,
                        help="calibration TOML (default calibration.toml); the report "
                             "(<stem>_report.txt, _rig.png, _errors.png) goes beside it")
    parser.add_argument("--names", nargs="+", help="camera names (default: source file stems)")
    add_board_arguments(parser)
    parser.add_argument("--every", type=int, default=1, help="use every n-th frame (default 1)")
    parser.add_argument("--fisheye", action="store_true", help="fisheye lens model")
    parser.add_argument("--free-k3", action="store_true",
                        help="also fit the 6th-order radial coefficient k3")
    parser.add_argument("--no-report", action="store_true", help="skip the report pictures")
    parser.add_argument("--compare-opencv", action="store_true",
                        help="also print OpenCV's plain pipeline (cornerSubPix half-windows "
                             "5, 7, 11, calibrateCamera, stereoCalibrate) on the same images")


def main(args: argparse.Namespace) -> None:
    from calib.calibrate_rig import calibrate_sources
    from calib.report import summary_text

    board = board_from(args)
    result = calibrate_sources(args.sources, board, args.output,
                               names=args.names, every=args.every, fisheye=args.fisheye,
                               fix_k3=not args.free_k3, report=not args.no_report)
    print(summary_text(result), end="")
    print(f"wrote {args.output}")
    if args.compare_opencv:
        from calib.opencv_reference import compare_with_opencv

        print(compare_with_opencv(result, board, args.sources, every=args.every), end="")
