"""Write a printable calibration board (PNG and PDF at physical size, lengths in mm)."""

import argparse


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """Board options shared by board, calibrate and undistort-check."""
    g = parser.add_argument_group("board")
    g.add_argument("--board", choices=("charuco", "checkerboard"), default="charuco",
                   help="board kind (default charuco)")
    g.add_argument("--squares", type=int, nargs=2, default=(7, 5), metavar=("X", "Y"),
                   help="squares along x and y (default 7 5)")
    g.add_argument("--square-length", type=float, default=40.0,
                   help="side of one square in calibration units, mm when printing (default 40)")
    g.add_argument("--marker-length", type=float, default=30.0,
                   help="ChArUco marker side, same units (default 30)")
    g.add_argument("--dictionary", default="DICT_4X4_50",
                   help="ArUco dictionary (default DICT_4X4_50)")


def board_from_args(args: argparse.Namespace):
    from calib.boards import Board

    return Board(args.board, args.squares[0], args.squares[1], args.square_length,
                 args.marker_length, args.dictionary)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="output path; .png and .pdf are written")
    add_board_arguments(parser)
    parser.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    parser.add_argument("--margin", type=float, default=10.0, help="page margin in mm (default 10)")


def main(args: argparse.Namespace) -> None:
    from calib.boards import write_printable
    from stream.commands._calib_errors import calib_errors

    with calib_errors():
        png, pdf = write_printable(board_from_args(args), args.output, args.dpi, args.margin)
    print(png)
    print(pdf)
